"""Webhook deliveries already acted on, so a replay is acknowledged and ignored.

A signed webhook stays valid for the signature's tolerance window (5 minutes either
way): within it, anyone who captured a delivery can send it again — a
``user.created`` replayed after ``user.deleted`` would bring the user back. Each
delivery id (``svix-id``) is recorded in the database (so the memory holds across
replicas and restarts) before the event is applied; a second delivery of the same id
finds it and is not applied again. Rows older than the window are pruned as new
deliveries arrive; a delivery whose handling fails is forgotten again, so the
sender's retry is applied. The first delivery's answer is kept with its id, so a
replay (Svix redelivers when an answer got lost) gets the same answer, marked as a
replay.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from dakora.registry.core import BadRequest
from dakora.registry.db import is_sqlite, transaction, utcnow, webhook_deliveries

MAX_DELIVERY_ID = 255


def claim_delivery(
    engine: Engine, source: str, delivery_id: str, *, keep_seconds: int
) -> bool:
    """Record a delivery id: True the first time, False for a replay."""
    if not delivery_id or len(delivery_id) > MAX_DELIVERY_ID:
        raise BadRequest(
            f"webhook delivery id must be 1 to {MAX_DELIVERY_ID} characters"
        )
    now = utcnow()
    table = webhook_deliveries
    insert = sqlite_insert if is_sqlite(engine) else pg_insert
    with transaction(engine) as conn:
        conn.execute(
            delete(table).where(
                table.c.received_at < now - timedelta(seconds=keep_seconds)
            )
        )
        result = conn.execute(
            insert(table)
            .values(source=source, delivery_id=delivery_id, received_at=now)
            .on_conflict_do_nothing(index_elements=["source", "delivery_id"])
        )
        return bool(result.rowcount)


def finish_delivery(
    engine: Engine, source: str, delivery_id: str, result: dict[str, Any]
) -> None:
    """Keep the first delivery's answer, to give it again to a replay."""
    table = webhook_deliveries
    with transaction(engine) as conn:
        conn.execute(
            update(table)
            .where(table.c.source == source, table.c.delivery_id == delivery_id)
            .values(result=result)
        )


def delivery_result(
    engine: Engine, source: str, delivery_id: str
) -> dict[str, Any] | None:
    """The answer given to a delivery (None while it is still being handled)."""
    table = webhook_deliveries
    with transaction(engine, write=False) as conn:
        found = conn.execute(
            select(table.c.result).where(
                table.c.source == source, table.c.delivery_id == delivery_id
            )
        ).scalar()
    return dict(found) if isinstance(found, dict) else None


def release_delivery(engine: Engine, source: str, delivery_id: str) -> None:
    """Forget a delivery whose handling failed (its retry must be applied)."""
    table = webhook_deliveries
    with transaction(engine) as conn:
        conn.execute(
            delete(table).where(
                table.c.source == source, table.c.delivery_id == delivery_id
            )
        )
