"""``POST /api/webhooks/clerk``: Clerk's Svix-signed ``user.*`` events provision users.

The signature (``svix-id``, ``svix-timestamp``, ``svix-signature`` over the raw body,
secret ``DAKORA_CLERK_WEBHOOK_SECRET``) is checked before anything is parsed: a bad or
missing signature is 401. ``user.created``/``user.updated`` create the user, a personal
workspace and a project ``default``; ``user.deleted`` removes them and revokes their
keys. Other event types are acknowledged and ignored. Without a secret configured the
route answers 404 (webhooks are off). A delivery id (``svix-id``) seen within the
signature's tolerance window is a replay: acknowledged with the first delivery's
answer and ``"replayed": true``, and not applied again
(``registry/tenancy/deliveries.py``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from dakora.api.deps import StateDep
from dakora.api.schemas import ErrorOut
from dakora.registry.core import LimitExceeded, NotFound
from dakora.registry.db import publish, transaction
from dakora.registry.tenancy import (
    SvixVerifier,
    claim_delivery,
    delivery_id,
    delivery_result,
    finish_delivery,
    handle_clerk_event,
    release_delivery,
)

router = APIRouter(tags=["webhooks"])

MAX_WEBHOOK_BYTES = 1024 * 1024


class WebhookOut(BaseModel):
    ok: bool
    event: str
    action: str
    user_id: str | None = None
    workspace: str | None = None
    project: str | None = None
    deleted_workspaces: list[str] = []
    replayed: bool = False


@router.post(
    "/api/webhooks/clerk",
    response_model=WebhookOut,
    responses={
        401: {"model": ErrorOut, "description": "Missing or bad Svix signature"},
        404: {"model": ErrorOut, "description": "Webhooks are not configured"},
    },
    summary="Clerk user webhooks (Svix-signed): provision and remove users",
)
async def clerk_webhook(request: Request, state: StateDep) -> WebhookOut:
    secret = state.settings.clerk_webhook_secret
    if secret is None or not secret.get_secret_value():
        raise NotFound("Clerk webhooks are not enabled on this server")
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BYTES:
        raise LimitExceeded("webhook body too large", limit=MAX_WEBHOOK_BYTES)
    verifier = SvixVerifier(secret.get_secret_value())
    event = verifier.verify_event(request.headers, body)
    result = await run_in_threadpool(
        _apply_once, state, event, delivery_id(request.headers), verifier.tolerance
    )
    return WebhookOut(ok=True, **result)


def _apply_once(
    state: Any, event: dict[str, Any], delivery: str, tolerance: int
) -> dict[str, Any]:
    # a signature stays valid for ``tolerance`` seconds either way of its timestamp
    keep = 2 * tolerance + 60
    if not claim_delivery(state.engine, "clerk", delivery, keep_seconds=keep):
        first = delivery_result(state.engine, "clerk", delivery)
        if first is None:  # the first delivery is still being handled
            first = {"event": str(event.get("type")), "action": "replayed"}
        return {**first, "replayed": True}
    try:
        result = _apply(state, event)
    except BaseException:
        release_delivery(state.engine, "clerk", delivery)
        raise
    finish_delivery(state.engine, "clerk", delivery, result)
    return result


def _apply(state: Any, event: dict[str, Any]) -> dict[str, Any]:
    result = handle_clerk_event(state.engine, state.settings, event)
    if result.action != "ignored":
        # Memberships, keys and projects may have changed: drop what we cached, and
        # tell the other server processes (PostgreSQL NOTIFY; SQLite sees the commit).
        with transaction(state.engine) as conn:
            publish(conn, "all")
        state.invalidate_all()
    return result.to_dict()
