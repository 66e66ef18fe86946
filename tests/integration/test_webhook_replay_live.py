"""A replayed Clerk webhook (same signed delivery, same ``svix-id``) within the
signature's tolerance window is acknowledged and not acted on — also after a restart
of the server, and on PostgreSQL (issue 10 finding 8)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from dakora.registry.tenancy.svix import sign

SECRET = "whsec_" + base64.b64encode(b"dakora-webhook-replay-secret-01").decode()
ENV = {
    "DAKORA_AUTH_MODE": "clerk",
    "DAKORA_CLERK_ISSUER": "https://clerk.replay.test",
    "DAKORA_CLERK_JWKS_URL": "http://127.0.0.1:9/jwks",  # never asked: no JWT sent
    "DAKORA_CLERK_WEBHOOK_SECRET": SECRET,
}

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize(
        "live_server",
        [{"db": "sqlite", "env": ENV}, {"db": "postgresql", "env": ENV}],
        indirect=True,
    ),
]


def signed(event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    msg_id = f"msg_{uuid.uuid4().hex}"
    ts = int(time.time())
    headers = {
        "svix-id": msg_id,
        "svix-timestamp": str(ts),
        "svix-signature": sign(SECRET, msg_id, ts, body),
        "content-type": "application/json",
    }
    return body, headers


def deliver(server: Any, body: bytes, headers: dict[str, str]) -> httpx.Response:
    with server.client() as client:
        return client.post("/api/webhooks/clerk", content=body, headers=headers)


def user_event(kind: str, user_id: str, name: str) -> dict[str, Any]:
    if kind == "user.deleted":
        return {"type": kind, "data": {"id": user_id, "deleted": True}}
    return {
        "type": kind,
        "data": {
            "id": user_id,
            "username": name,
            "primary_email_address_id": "idn_1",
            "email_addresses": [{"id": "idn_1", "email_address": f"{name}@x.test"}],
        },
    }


def workspace_exists(server: Any, slug: str) -> bool:
    from dakora.registry.db import workspaces

    with server.engine().connect() as conn:
        row = conn.execute(
            select(workspaces.c.id).where(workspaces.c.slug == slug)
        ).first()
    return row is not None


def test_replayed_user_created_does_not_reprovision(live_server: Any) -> None:
    name = f"rp{uuid.uuid4().hex[:8]}"
    created = signed(user_event("user.created", f"user_{name}", name))
    r = deliver(live_server, *created)
    assert r.status_code == 200, r.text
    assert r.json()["action"] == "created" and r.json()["replayed"] is False
    r_created = r.json()
    assert workspace_exists(live_server, name)

    r = deliver(live_server, *signed(user_event("user.deleted", f"user_{name}", name)))
    assert r.status_code == 200 and r.json()["action"] == "deleted", r.text
    assert not workspace_exists(live_server, name)

    replay = deliver(live_server, *created)  # the captured delivery, byte for byte
    assert replay.status_code == 200, replay.text
    first = r_created
    assert replay.json() == {**first, "replayed": True}  # the first answer, not redone
    assert not workspace_exists(live_server, name)

    live_server.restart()  # remembered in the database, not in the process
    assert deliver(live_server, *created).json()["replayed"] is True
    assert not workspace_exists(live_server, name)


def test_a_new_delivery_of_the_same_event_is_applied(live_server: Any) -> None:
    """Only the delivery id makes a replay: the same event sent anew is applied."""
    name = f"rn{uuid.uuid4().hex[:8]}"
    event = user_event("user.created", f"user_{name}", name)
    assert deliver(live_server, *signed(event)).json()["action"] == "created"
    r = deliver(live_server, *signed(user_event("user.deleted", f"user_{name}", name)))
    assert r.json()["action"] == "deleted"
    again = deliver(live_server, *signed(event))
    assert again.status_code == 200 and again.json()["action"] in ("created", "updated")
    assert workspace_exists(live_server, name)
