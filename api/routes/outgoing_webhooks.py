"""A project's outgoing webhooks over HTTP: list, add (the secret shown once), remove,
and the delivery log.

``GET /api/projects/{project}/webhooks``, ``POST /api/projects/{project}/webhooks``,
``DELETE /api/projects/{project}/webhooks/{webhook_id}``,
``GET /api/projects/{project}/webhooks/{webhook_id}/deliveries`` — the ``dakora admin
webhooks add | list | remove | deliveries`` commands over HTTP, on the same storage
functions (``dakora.registry.webhooks``). Who may: the same rule as API keys
(``api_keys.manage_access``): a workspace owner or admin, the local developer in auth
mode ``none``; API keys 403. A URL that is not http(s), or whose host resolves to a
non-public address while ``DAKORA_WEBHOOKS_ALLOW_PRIVATE`` is off, is a 400 naming it.
See docs/webhooks.md.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from dakora.api.deps import Access, PageCursor, PageLimit, ProjectPath
from dakora.api.routes.api_keys import KEY_RESPONSES, manage_access
from dakora.api.schemas import ErrorOut, plain_text
from dakora.registry.core import WebhookNotFound
from dakora.registry.webhooks import (
    EVENT_TYPES,
    add_endpoint,
    delivery_dict,
    delivery_page,
    get_endpoint,
    list_endpoints,
    remove_endpoint,
)

log = logging.getLogger("dakora.api")

router = APIRouter(prefix="/api/projects/{project}", tags=["webhooks"])

EventName = Literal["prompt.version.created", "ref.updated", "push.rejected"]
assert set(EventName.__args__) == set(EVENT_TYPES)  # type: ignore[attr-defined]
WHAT = "webhooks"
WebhookId = Annotated[str, Path(max_length=2000, description="The webhook's id")]


class DeliveryCountsOut(BaseModel):
    pending: int
    delivered: int
    failed: int


class WebhookOut(BaseModel):
    id: str
    project_id: str
    url: str
    events: list[EventName]
    created_at: datetime
    deliveries: DeliveryCountsOut = Field(description="Delivery log rows by status")


class WebhookListOut(BaseModel):
    project_id: str
    webhooks: list[WebhookOut] = Field(description="Oldest first; never the secrets")


class WebhookCreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000, description="http(s) URL of the receiver")
    events: list[EventName] | None = Field(
        default=None, description="Events to deliver (null: every event type)"
    )

    _text = field_validator("url")(plain_text)


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(
        description="The Standard Webhooks signing secret (whsec_…): shown this once"
    )


class DeliveryOut(BaseModel):
    id: int
    webhook_id: str
    message_id: str = Field(description="The webhook-id header (same on every retry)")
    event: EventName
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None = Field(description="When pending: next try")
    last_attempt_at: datetime | None
    last_status_code: int | None = Field(description="HTTP status of the last try")
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any] = Field(description="The body sent: type, timestamp, data")


class DeliveryPageOut(BaseModel):
    deliveries: list[DeliveryOut]
    next_cursor: str | None = Field(description="Pass as cursor for the next page")


def _webhook_manager(request: Request, project: ProjectPath) -> Access:
    return manage_access(request, project, WHAT)


# checked before the body is validated (see api_keys.KeyManager)
WebhookManager = Annotated[Access, Depends(_webhook_manager)]


@router.get(
    "/webhooks",
    response_model=WebhookListOut,
    responses=KEY_RESPONSES,
    summary="The project's outgoing webhooks (never their secrets)",
)
def list_webhooks(access: WebhookManager) -> WebhookListOut:
    found = list_endpoints(access.state.engine, access.project.id)
    return WebhookListOut(
        project_id=access.project.id,
        webhooks=[WebhookOut.model_validate(e.to_dict()) for e in found],
    )


@router.post(
    "/webhooks",
    status_code=201,
    response_model=WebhookCreatedOut,
    responses={
        **KEY_RESPONSES,
        400: {
            "model": ErrorOut,
            "description": "Not an http(s) URL, a refused address, or the limit",
        },
        409: {"model": ErrorOut, "description": "The project has this URL already"},
        422: {"model": ErrorOut, "description": "A bad body (names the field)"},
    },
    summary="Subscribe a URL to events; the response shows the signing secret, once",
)
def create_webhook(access: WebhookManager, body: WebhookCreateIn) -> WebhookCreatedOut:
    state = access.state
    new = add_endpoint(
        state.engine,
        access.project.id,
        body.url,
        body.events,
        allow_private=state.settings.webhooks_allow_private,
    )
    log.info(
        "webhook %s (%s) of %s added",
        new.endpoint.id,
        new.endpoint.url,
        access.project.full_name,
    )
    out = new.endpoint.to_dict()
    return WebhookCreatedOut(**out, secret=new.secret)


@router.delete(
    "/webhooks/{webhook_id}",
    response_model=WebhookOut,
    responses=KEY_RESPONSES,
    summary="Remove a webhook with its delivery log (pending deliveries are dropped)",
)
def delete_webhook(access: WebhookManager, webhook_id: WebhookId) -> WebhookOut:
    _plain(webhook_id)
    gone = remove_endpoint(access.state.engine, access.project.id, webhook_id)
    log.info(
        "webhook %s (%s) of %s removed", gone.id, gone.url, access.project.full_name
    )
    return WebhookOut.model_validate(gone.to_dict())


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=DeliveryPageOut,
    responses=KEY_RESPONSES,
    summary="A webhook's delivery log, newest first: status, attempts, last error",
)
def list_deliveries(
    access: WebhookManager,
    webhook_id: WebhookId,
    status: Annotated[
        Literal["pending", "delivered", "failed"] | None,
        Query(description="Only deliveries with this status"),
    ] = None,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
) -> DeliveryPageOut:
    _plain(webhook_id)
    endpoint = get_endpoint(access.state.engine, access.project.id, webhook_id)
    rows, next_cursor = delivery_page(
        access.state.engine,
        access.project.id,
        endpoint_id=endpoint.id,
        status=status,
        limit=limit,
        cursor=cursor,
    )
    return DeliveryPageOut(
        deliveries=[DeliveryOut.model_validate(delivery_dict(r)) for r in rows],
        next_cursor=next_cursor,
    )


def _plain(webhook_id: str) -> None:
    try:
        plain_text(webhook_id)
    except ValueError:
        raise WebhookNotFound(f"no webhook {webhook_id!r} in this project") from None
