"""``POST /api/webhooks/clerk`` against a real server: Svix signatures, provisioning
(user, personal workspace, project ``default``), deletion, and what the user's JWT
can see before and after."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from dakora.registry.tenancy.svix import sign
from tests.fixtures.server import LiveServer, ServerFactory
from tests.integration.api_support import ISSUER, JwksEndpoint

pytestmark = pytest.mark.integration

SECRET = "whsec_" + base64.b64encode(b"dakora-webhook-test-secret-0123").decode()
URL = "/api/webhooks/clerk"


@dataclass(frozen=True)
class Hooks:
    server: LiveServer
    jwks: JwksEndpoint


@pytest.fixture(scope="module")
def hooks(start_live_server: ServerFactory) -> Iterator[Hooks]:
    jwks = JwksEndpoint()
    server = start_live_server(
        env={
            "DAKORA_AUTH_MODE": "clerk",
            "DAKORA_CLERK_ISSUER": ISSUER,
            "DAKORA_CLERK_JWKS_URL": jwks.url,
            "DAKORA_CLERK_WEBHOOK_SECRET": SECRET,
        }
    )
    yield Hooks(server, jwks)
    jwks.close()


def _event(kind: str, user_id: str, username: str = "ada") -> dict[str, Any]:
    if kind == "user.deleted":
        return {"type": kind, "data": {"id": user_id, "deleted": True}}
    return {
        "type": kind,
        "data": {
            "id": user_id,
            "username": username,
            "first_name": "Ada",
            "last_name": "Lovelace",
            "primary_email_address_id": "idn_1",
            "email_addresses": [
                {"id": "idn_1", "email_address": f"{username}@example.com"}
            ],
        },
    }


def _deliver(
    server: LiveServer,
    event: dict[str, Any],
    *,
    secret: str = SECRET,
    timestamp: int | None = None,
    tamper: bool = False,
) -> httpx.Response:
    body = json.dumps(event).encode()
    msg_id = f"msg_{uuid.uuid4().hex}"
    ts = int(time.time()) if timestamp is None else timestamp
    signature = sign(secret, msg_id, ts, body)
    if tamper:
        body = body.replace(b"Ada", b"Eve")
    headers = {
        "svix-id": msg_id,
        "svix-timestamp": str(ts),
        "svix-signature": signature,
        "content-type": "application/json",
    }
    with server.client() as client:
        return client.post(URL, content=body, headers=headers)


def _me(hooks: Hooks, sub: str) -> httpx.Response:
    token = hooks.jwks.token(sub)
    with hooks.server.client(token) as client:
        return client.get("/api/me")


def test_user_created_provisions_workspace_and_project(hooks: Hooks) -> None:
    assert _me(hooks, "user_ada").json()["projects"] == []
    r = _deliver(hooks.server, _event("user.created", "user_ada"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is True
    assert body["action"] == "created"
    assert body["workspace"] == "ada"
    assert body["project"] == "ada/default"
    me = _me(hooks, "user_ada").json()
    assert [(p["workspace"], p["slug"]) for p in me["projects"]] == [("ada", "default")]
    project_id = me["projects"][0]["id"]
    # The owner can read (an empty project lists no prompts) and write logs.
    with hooks.server.client(hooks.jwks.token("user_ada")) as client:
        listing = client.get(f"/api/projects/{project_id}/prompts")
        assert listing.status_code == 200
        assert listing.json()["prompts"] == []
        assert (
            client.post(
                f"/api/projects/{project_id}/logs", json={"tokens_in": 1}
            ).status_code
            == 201
        )


def test_me_names_the_personal_default_project(hooks: Hooks) -> None:
    """``default_project`` of a Clerk user: their personal workspace's ``default``
    project — not a team workspace they own, nor a personal one they only joined —
    and the SDK works in it when given no project."""
    from dakora.client import Dakora

    assert _me(hooks, "user_fay").json()["default_project"] is None
    assert _deliver(hooks.server, _event("user.created", "user_fay", "fay")).is_success
    me = _me(hooks, "user_fay").json()
    mine = me["default_project"]
    assert (mine["workspace"], mine["slug"], mine["workspace_kind"]) == (
        "fay",
        "default",
        "personal",
    )
    assert [p["workspace_kind"] for p in me["projects"]] == ["personal"]

    # a team workspace Fay owns, and Gus's personal workspace Fay is a member of
    hooks.server.admin(
        "create-workspace", "fay-team", "--owner-email", "fay@example.com"
    )
    hooks.server.admin("create-project", "fay-team/default")
    assert _deliver(hooks.server, _event("user.created", "user_gus", "gus")).is_success
    hooks.server.admin("add-member", "gus", "fay@example.com", "--role", "admin")
    me = _me(hooks, "user_fay").json()
    assert me["default_project"]["id"] == mine["id"]
    assert {(p["workspace"], p["workspace_kind"]) for p in me["projects"]} == {
        ("fay", "personal"),
        ("fay-team", "team"),
        ("gus", "personal"),
    }

    token = hooks.jwks.token("user_fay")
    with Dakora(hooks.server.base_url, token) as sdk:
        assert sdk.project is None
        assert len(sdk.prompts.list()) == 0
        assert sdk.project == "fay/default"
        made = sdk.prompts.create("hello", "1.0.0", template="Hi {{ who }}",
                                  inputs={"who": {"type": "string"}})  # fmt: skip
        assert made.path == "prompts/hello.yaml"
        assert sdk.prompts.render("hello", {"who": "Fay"}).rendered == "Hi Fay"


def test_redelivery_is_idempotent(hooks: Hooks) -> None:
    first = _deliver(hooks.server, _event("user.created", "user_bob", "bob"))
    again = _deliver(hooks.server, _event("user.created", "user_bob", "bob"))
    updated = _deliver(hooks.server, _event("user.updated", "user_bob", "bob"))
    assert first.status_code == again.status_code == updated.status_code == 200
    assert again.json()["action"] == "updated"
    assert again.json()["workspace"] == first.json()["workspace"] == "bob"
    assert len(_me(hooks, "user_bob").json()["projects"]) == 1


@pytest.mark.parametrize(
    "problem", ["wrong_secret", "tampered", "old", "no_headers", "garbage_signature"]
)
def test_bad_signature_is_401_and_changes_nothing(hooks: Hooks, problem: str) -> None:
    event = _event("user.created", f"user_{problem}", problem.replace("_", "-"))
    if problem == "no_headers":
        with hooks.server.client() as client:
            r = client.post(URL, json=event)
    elif problem == "garbage_signature":
        with hooks.server.client() as client:
            r = client.post(
                URL,
                json=event,
                headers={
                    "svix-id": "msg_1",
                    "svix-timestamp": str(int(time.time())),
                    "svix-signature": "v1,AAAA",
                },
            )
    else:
        r = _deliver(
            hooks.server,
            event,
            secret=(
                "whsec_" + base64.b64encode(b"another-secret-entirely!").decode()
                if problem == "wrong_secret"
                else SECRET
            ),
            timestamp=int(time.time()) - 3600 if problem == "old" else None,
            tamper=problem == "tampered",
        )
    assert r.status_code == 401, r.text
    body = r.json()
    assert body["error"]["code"] == "unauthenticated"
    assert SECRET not in r.text
    assert _me(hooks, f"user_{problem}").json()["projects"] == []


def test_unknown_event_types_are_acknowledged(hooks: Hooks) -> None:
    r = _deliver(hooks.server, {"type": "session.created", "data": {"id": "sess_1"}})
    assert r.status_code == 200
    assert r.json()["action"] == "ignored"


def test_malformed_event_is_400(hooks: Hooks) -> None:
    r = _deliver(hooks.server, {"type": "user.created", "data": {"no": "id"}})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "bad_request"


def test_user_deleted_removes_access_on_the_next_request(hooks: Hooks) -> None:
    assert _deliver(hooks.server, _event("user.created", "user_cy", "cy")).is_success
    me = _me(hooks, "user_cy").json()
    project_id = me["projects"][0]["id"]
    token = hooks.jwks.token("user_cy")
    with hooks.server.client(token) as client:
        assert client.get(f"/api/projects/{project_id}/prompts").status_code == 200
        r = _deliver(hooks.server, _event("user.deleted", "user_cy"))
        assert r.status_code == 200, r.text
        assert r.json()["action"] == "deleted"
        assert r.json()["deleted_workspaces"] == ["cy"]
        gone = client.get(f"/api/projects/{project_id}/prompts")
        assert gone.status_code == 404
        assert client.get("/api/me").json()["projects"] == []


def test_webhooks_off_without_a_secret(tmp_path: Path) -> None:
    from dakora.api import create_app
    from dakora.registry.core.settings import Settings

    app = create_app(Settings(data_dir=tmp_path / "data"))
    body = json.dumps(_event("user.created", "user_x")).encode()
    headers = {"svix-id": "m", "svix-timestamp": str(int(time.time()))}
    headers["svix-signature"] = sign(SECRET, "m", headers["svix-timestamp"], body)

    async def go() -> httpx.Response:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                return await c.post(URL, content=body, headers=headers)

    r = asyncio.run(go())
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
