"""Clerk end to end on a real server: a Svix-signed ``user.created`` webhook provisions
a user, a personal workspace and a ``default`` project; the user's RS256 session token
(JWKS on a loopback endpoint) then sees exactly that project; ``user.deleted`` takes it
away. Bad signatures, replays and forged tokens change nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fixtures.server import LiveServer, ServerFactory
from tests.integration.api_support import JwksEndpoint

pytestmark = pytest.mark.integration

ISSUER = "https://clerk.sdk-test.invalid"
WEBHOOK_KEY = b"webhook-signing-key-for-tests-32b"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(WEBHOOK_KEY).decode()


@dataclass
class World:
    server: LiveServer
    jwks: JwksEndpoint


@pytest.fixture(scope="module")
def world(start_live_server: ServerFactory) -> Iterator[World]:
    jwks = JwksEndpoint(issuer=ISSUER)
    server = start_live_server(
        env={
            "DAKORA_AUTH_MODE": "clerk",
            "DAKORA_CLERK_ISSUER": ISSUER,
            "DAKORA_CLERK_JWKS_URL": jwks.url,
            "DAKORA_CLERK_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }
    )
    try:
        yield World(server, jwks)
    finally:
        server.close()
        jwks.close()


def _signed(body: bytes, msg_id: str, ts: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if ts is None else ts
    mac = hmac.new(WEBHOOK_KEY, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256)
    return {
        "svix-id": msg_id,
        "svix-timestamp": str(ts),
        "svix-signature": "v1," + base64.b64encode(mac.digest()).decode(),
        "Content-Type": "application/json",
    }


def _event(kind: str, uid: str, username: str) -> bytes:
    data: dict[str, Any] = {"id": uid, "object": "user"}
    if kind != "user.deleted":
        data.update(
            username=username,
            first_name=username.title(),
            primary_email_address_id="idn_1",
            email_addresses=[
                {"id": "idn_1", "email_address": f"{username}@example.com"}
            ],
        )
    else:
        data["deleted"] = True
    return json.dumps({"type": kind, "object": "event", "data": data}).encode()


def _hook(c: httpx.Client, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return c.post("/api/webhooks/clerk", content=body, headers=headers)


def _me(c: httpx.Client, token: str) -> httpx.Response:
    return c.get("/api/me", headers={"Authorization": f"Bearer {token}"})


def test_webhook_signature_is_required(world: World) -> None:
    body = _event("user.created", "user_mallory", "mallory")
    with world.server.client() as c:
        assert _hook(c, body, {"Content-Type": "application/json"}).status_code == 401
        forged = _signed(body, "msg_f")
        forged["svix-signature"] = "v1," + base64.b64encode(b"x" * 32).decode()
        r = _hook(c, body, forged)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthenticated"
        assert WEBHOOK_SECRET not in r.text
        stale = _signed(body, "msg_old", ts=int(time.time()) - 3600)
        assert _hook(c, body, stale).status_code == 401
        tampered = _signed(body, "msg_t")
        assert _hook(c, body.replace(b"mallory", b"admin"), tampered).status_code == 401
        # Nothing was provisioned: the user's token sees no project.
        me = _me(c, world.jwks.token("user_mallory"))
        assert me.status_code == 200 and me.json()["projects"] == []


def test_user_lifecycle(world: World) -> None:
    uid = "user_grace"
    token = world.jwks.token(uid)
    with world.server.client() as c:
        body = _event("user.created", uid, "grace")
        r = _hook(c, body, _signed(body, "msg_1"))
        assert r.status_code == 200, r.text
        out = r.json()
        assert (out["action"], out["workspace"], out["project"]) == (
            "created",
            "grace",
            "grace/default",
        )
        # Svix redelivers: same answer, nothing doubled.
        again = _hook(c, body, _signed(body, "msg_1"))
        assert again.status_code == 200 and again.json()["project"] == "grace/default"

        me = _me(c, token)
        assert me.status_code == 200
        projects = me.json()["projects"]
        assert [(p["workspace"], p["slug"]) for p in projects] == [("grace", "default")]
        project_id = projects[0]["id"]
        auth = {"Authorization": f"Bearer {token}"}
        listing = c.get(f"/api/projects/{project_id}/prompts", headers=auth)
        assert listing.status_code == 200 and listing.json()["prompts"] == []

        # Another Clerk user cannot see it (404, as if it did not exist).
        other = {"Authorization": f"Bearer {world.jwks.token('user_other')}"}
        hidden = c.get(f"/api/projects/{project_id}/prompts", headers=other)
        assert hidden.status_code == 404
        # A token signed by another key with the right kid is refused.
        foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        forged = _me(c, world.jwks.token(uid, key=foreign))
        assert forged.status_code == 401

        updated = _event("user.updated", uid, "grace")
        r = _hook(c, updated, _signed(updated, "msg_2"))
        assert r.status_code == 200 and r.json()["action"] == "updated"

        deleted = _event("user.deleted", uid, "grace")
        r = _hook(c, deleted, _signed(deleted, "msg_3"))
        assert r.status_code == 200, r.text
        assert r.json()["deleted_workspaces"] == ["grace"]
        after = _me(c, token)
        assert after.status_code == 200 and after.json()["projects"] == []
        gone = c.get(f"/api/projects/{project_id}/prompts", headers=auth)
        assert gone.status_code == 404


def test_other_events_are_acknowledged(world: World) -> None:
    body = json.dumps({"type": "session.created", "data": {"id": "sess_1"}}).encode()
    with world.server.client() as c:
        r = _hook(c, body, _signed(body, "msg_s"))
    assert r.status_code == 200 and r.json()["action"] == "ignored"
