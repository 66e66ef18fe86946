"""A project's webhook subscriptions: add (the signing secret shown once), list, remove.

The signing secret is a Standard Webhooks secret, ``whsec_`` + base64 of 32 random
bytes. It has to be stored as is (a hash could not sign), so it lives in the
``webhook_endpoints`` table and is returned only by :func:`add_endpoint`; every other
read leaves it out (docs/security.md, "Webhook signing secrets").
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError

from dakora.registry.core import (
    AlreadyExists,
    BadRequest,
    LimitExceeded,
    WebhookNotFound,
)
from dakora.registry.db import (
    read,
    transaction,
    utcnow,
    webhook_endpoints,
    webhook_outbox,
)
from dakora.registry.webhooks.addresses import check_url

PROMPT_VERSION_CREATED = "prompt.version.created"
REF_UPDATED = "ref.updated"
PUSH_REJECTED = "push.rejected"
EVENT_TYPES: tuple[str, ...] = (PROMPT_VERSION_CREATED, REF_UPDATED, PUSH_REJECTED)
MAX_ENDPOINTS_PER_PROJECT = 20
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def parse_events(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Event types from ``"a,b"`` or a list; None or empty: every event type."""
    if value is None:
        return EVENT_TYPES
    items = value.split(",") if isinstance(value, str) else list(value)
    wanted: list[str] = []
    for raw in items:
        name = str(raw).strip()
        if not name:
            continue
        if name not in EVENT_TYPES:
            raise BadRequest(
                f"unknown webhook event {name!r}; the events are "
                + ", ".join(EVENT_TYPES),
                parameter="events",
            )
        if name not in wanted:
            wanted.append(name)
    if not wanted:
        raise BadRequest(
            "no webhook events given; the events are " + ", ".join(EVENT_TYPES),
            parameter="events",
        )
    return tuple(e for e in EVENT_TYPES if e in wanted)


@dataclass(frozen=True)
class DeliveryCounts:
    pending: int = 0
    delivered: int = 0
    failed: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "pending": self.pending,
            "delivered": self.delivered,
            "failed": self.failed,
        }


@dataclass(frozen=True)
class Endpoint:
    """One subscription, without its secret."""

    id: str
    project_id: str
    url: str
    events: tuple[str, ...]
    created_at: datetime
    deliveries: DeliveryCounts = DeliveryCounts()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project_id": self.project_id,
            "url": self.url,
            "events": list(self.events),
            "created_at": self.created_at.isoformat(),
            "deliveries": self.deliveries.to_dict(),
        }


@dataclass(frozen=True)
class NewEndpoint:
    endpoint: Endpoint
    secret: str  # whsec_…: returned this once


def _endpoint(row: Any, counts: DeliveryCounts | None = None) -> Endpoint:
    events = tuple(e for e in (row.events or []) if isinstance(e, str))
    return Endpoint(
        id=row.id,
        project_id=row.project_id,
        url=row.url,
        events=events,
        created_at=row.created_at,
        deliveries=counts or DeliveryCounts(),
    )


_COLUMNS = (
    webhook_endpoints.c.id,
    webhook_endpoints.c.project_id,
    webhook_endpoints.c.url,
    webhook_endpoints.c.events,
    webhook_endpoints.c.created_at,
)


def add_endpoint(
    engine: Engine,
    project_id: str,
    url: str,
    events: Sequence[str] | str | None = None,
    *,
    allow_private: bool,
) -> NewEndpoint:
    """Subscribe ``url`` to ``events`` (default: all). Refuses a non-http(s) URL, a
    host that resolves to a non-public address (unless ``allow_private``), a URL the
    project already has (409) and more than MAX_ENDPOINTS_PER_PROJECT."""
    types = parse_events(events)
    target = check_url(url, allow_private=allow_private)
    secret = new_secret()
    endpoint_id = str(uuid.uuid4())
    now = utcnow()
    try:
        with transaction(engine) as conn:
            count = conn.execute(
                select(func.count()).where(webhook_endpoints.c.project_id == project_id)
            ).scalar_one()
            if count >= MAX_ENDPOINTS_PER_PROJECT:
                raise LimitExceeded(
                    f"a project may have at most {MAX_ENDPOINTS_PER_PROJECT} webhooks"
                )
            conn.execute(
                webhook_endpoints.insert().values(
                    id=endpoint_id,
                    project_id=project_id,
                    url=target.url,
                    events=list(types),
                    secret=secret,
                    created_at=now,
                )
            )
    except IntegrityError:
        raise AlreadyExists(
            f"this project already has a webhook for {target.url}", parameter="url"
        ) from None
    endpoint = Endpoint(endpoint_id, project_id, target.url, types, now)
    return NewEndpoint(endpoint, secret)


def _counts(conn: Any, ids: list[str]) -> dict[str, DeliveryCounts]:
    if not ids:
        return {}
    rows = conn.execute(
        select(webhook_outbox.c.endpoint_id, webhook_outbox.c.status, func.count())
        .where(webhook_outbox.c.endpoint_id.in_(ids))
        .group_by(webhook_outbox.c.endpoint_id, webhook_outbox.c.status)
    ).all()
    found: dict[str, dict[str, int]] = {}
    for endpoint_id, status, n in rows:
        found.setdefault(endpoint_id, {})[status] = int(n)
    return {k: DeliveryCounts(**v) for k, v in found.items()}


def list_endpoints(engine: Engine, project_id: str) -> list[Endpoint]:
    """The project's webhooks, oldest first, with their delivery counts."""
    with read(engine) as conn:
        rows = conn.execute(
            select(*_COLUMNS)
            .where(webhook_endpoints.c.project_id == project_id)
            .order_by(webhook_endpoints.c.created_at, webhook_endpoints.c.id)
        ).all()
        counts = _counts(conn, [r.id for r in rows])
    return [_endpoint(r, counts.get(r.id)) for r in rows]


def get_endpoint(engine: Engine, project_id: str, which: str) -> Endpoint:
    """A webhook of the project by its id or its URL; WebhookNotFound otherwise."""
    text = which.strip()
    with read(engine) as conn:
        row = conn.execute(
            select(*_COLUMNS).where(
                webhook_endpoints.c.project_id == project_id,
                (webhook_endpoints.c.id == text) | (webhook_endpoints.c.url == text),
            )
        ).first()
        if row is None:
            raise WebhookNotFound(f"no webhook {which!r} in this project")
        counts = _counts(conn, [row.id])
    return _endpoint(row, counts.get(row.id))


def remove_endpoint(engine: Engine, project_id: str, which: str) -> Endpoint:
    """Remove a webhook (by id or URL) and its delivery log; pending deliveries are
    dropped."""
    endpoint = get_endpoint(engine, project_id, which)
    with transaction(engine) as conn:
        conn.execute(
            delete(webhook_outbox).where(webhook_outbox.c.endpoint_id == endpoint.id)
        )
        conn.execute(
            delete(webhook_endpoints).where(webhook_endpoints.c.id == endpoint.id)
        )
    return endpoint
