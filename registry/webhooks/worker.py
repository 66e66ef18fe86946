"""Working off the webhook outbox: claim due rows, deliver, record, back off.

The same discipline as the mirror outbox (``dakora.registry.mirror``): rows are
written by the push's transaction; a worker thread of each server process claims due
rows, delivers them and settles each row in a transaction of its own. A claim is a
conditional UPDATE (``claimed_until`` in the past or NULL), so server processes
sharing one database never deliver a row twice at once, and a claim left behind by a
crashed process runs out after its lease: pending rows survive restarts. A failed
attempt records the status code and error and schedules the next attempt after the
next delay of ``DAKORA_WEBHOOKS_RETRY_SCHEDULE``; once the schedule is used up the row
is ``failed``. Each row is the delivery log entry (docs/webhooks.md, "Delivery log").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Row, or_, select, update

from dakora.registry.core import BackgroundLoop
from dakora.registry.db import (
    fetch_page,
    read,
    transaction,
    utcnow,
    webhook_endpoints,
    webhook_outbox,
)
from dakora.registry.webhooks.delivery import (
    Attempt,
    body_bytes,
    deliver,
    signed_headers,
)

log = logging.getLogger("dakora.webhooks")

MAX_ERROR = 2000
DELIVERY_STATUSES = ("pending", "delivered", "failed")


def next_delay(attempts: int, schedule: Sequence[float]) -> timedelta | None:
    """The wait after the ``attempts``-th failed attempt; None: no more attempts."""
    if attempts < 1 or attempts > len(schedule):
        return None
    return timedelta(seconds=schedule[attempts - 1])


class WebhookService:
    """Delivers due outbox rows (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        *,
        allow_private: bool,
        schedule: Sequence[float],
        timeout: float,
        batch: int = 20,
        parallel: int = 4,
        observe: Callable[[str], None] | None = None,
    ) -> None:
        """``observe(result)`` hears of every attempt: ``delivered``, ``failed``
        (to be retried) or ``gave_up`` (the schedule ran out)."""
        self.engine = engine
        self.observe = observe
        self.allow_private = allow_private
        self.schedule = tuple(schedule)
        self.timeout = timeout
        self.batch = batch
        self.parallel = parallel
        # a claim outlives the slowest attempt (every address timing out) by far
        self.lease = timedelta(seconds=max(60.0, timeout * 6))

    def _due(self, now: datetime) -> list[Any]:
        with read(self.engine) as conn:
            return list(
                conn.execute(
                    select(
                        webhook_outbox.c.id,
                        webhook_outbox.c.message_id,
                        webhook_outbox.c.payload,
                        webhook_outbox.c.attempts,
                        webhook_endpoints.c.url,
                        webhook_endpoints.c.secret,
                    )
                    .select_from(
                        webhook_outbox.join(
                            webhook_endpoints,
                            webhook_endpoints.c.id == webhook_outbox.c.endpoint_id,
                        )
                    )
                    .where(
                        webhook_outbox.c.status == "pending",
                        webhook_outbox.c.next_attempt_at <= now,
                        or_(
                            webhook_outbox.c.claimed_until.is_(None),
                            webhook_outbox.c.claimed_until < now,
                        ),
                    )
                    .order_by(webhook_outbox.c.next_attempt_at, webhook_outbox.c.id)
                    .limit(self.batch)
                ).all()
            )

    def _claim(self, row_id: int, now: datetime) -> bool:
        with transaction(self.engine) as conn:
            claimed = conn.execute(
                update(webhook_outbox)
                .where(
                    webhook_outbox.c.id == row_id,
                    webhook_outbox.c.status == "pending",
                    or_(
                        webhook_outbox.c.claimed_until.is_(None),
                        webhook_outbox.c.claimed_until < now,
                    ),
                )
                .values(claimed_until=now + self.lease)
            )
            return claimed.rowcount == 1

    def attempt(self, row: Row[Any]) -> Attempt:
        """Sign (a fresh timestamp each attempt) and send one row's event."""
        body = body_bytes(row.payload)
        headers = signed_headers(row.secret, row.message_id, utcnow(), body)
        return deliver(
            row.url,
            body,
            headers,
            allow_private=self.allow_private,
            timeout=self.timeout,
        )

    def _settle(self, row: Row[Any], result: Attempt) -> None:
        now = utcnow()
        attempts = int(row.attempts) + 1
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_attempt_at": now,
            "last_status_code": result.status_code,
            "claimed_until": None,
        }
        outcome = "failed"  # to be retried
        if result.ok:
            outcome = "delivered"
            values.update(status="delivered", delivered_at=now, last_error=None)
        else:
            values["last_error"] = (result.error or "failed")[:MAX_ERROR]
            delay = next_delay(attempts, self.schedule)
            if delay is None:
                outcome = "gave_up"
                values["status"] = "failed"
            else:
                values["next_attempt_at"] = now + delay
        with transaction(self.engine) as conn:
            conn.execute(
                update(webhook_outbox)
                .where(webhook_outbox.c.id == row.id)
                .values(**values)
            )
        if self.observe is not None:
            self.observe(outcome)

    def _work(self, row: Row[Any]) -> bool:
        result = self.attempt(row)
        self._settle(row, result)
        if not result.ok:
            log.info("webhook %s not delivered: %s", row.message_id, result.error)
        return result.ok

    def run_pending(self) -> tuple[int, int]:
        """Deliver every due row once. Returns (delivered, failed attempts)."""
        now = utcnow()
        mine = [row for row in self._due(now) if self._claim(row.id, now)]
        if not mine:
            return 0, 0
        with ThreadPoolExecutor(
            max_workers=min(self.parallel, len(mine)),
            thread_name_prefix="dakora-webhook",
        ) as pool:
            results = list(pool.map(self._work, mine))
        ok = sum(1 for r in results if r)
        return ok, len(results) - ok


def delivery_page(
    engine: Engine,
    project_id: str,
    *,
    endpoint_id: str | None = None,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Row[Any]], str | None]:
    """The delivery log of a project (or one webhook), newest first."""
    query = select(
        webhook_outbox.c.id,
        webhook_outbox.c.endpoint_id,
        webhook_outbox.c.message_id,
        webhook_outbox.c.event_type,
        webhook_outbox.c.payload,
        webhook_outbox.c.status,
        webhook_outbox.c.attempts,
        webhook_outbox.c.next_attempt_at,
        webhook_outbox.c.last_attempt_at,
        webhook_outbox.c.last_status_code,
        webhook_outbox.c.last_error,
        webhook_outbox.c.created_at,
        webhook_outbox.c.delivered_at,
    ).where(webhook_outbox.c.project_id == project_id)
    if endpoint_id is not None:
        query = query.where(webhook_outbox.c.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(webhook_outbox.c.status == status)
    return fetch_page(engine, query, webhook_outbox.c.id, limit=limit, cursor=cursor)


def delivery_dict(row: Row[Any]) -> dict[str, Any]:
    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": row.id,
        "webhook_id": row.endpoint_id,
        "message_id": row.message_id,
        "event": row.event_type,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": when(row.next_attempt_at)
        if row.status == "pending"
        else None,
        "last_attempt_at": when(row.last_attempt_at),
        "last_status_code": row.last_status_code,
        "last_error": row.last_error,
        "created_at": when(row.created_at),
        "delivered_at": when(row.delivered_at),
        "payload": row.payload,
    }


class WebhookWorker(BackgroundLoop):
    """Runs ``WebhookService.run_pending`` in a daemon thread until ``stop()``;
    ``notify()`` wakes it right after a push."""

    def __init__(self, service: WebhookService, *, interval: float = 1.0) -> None:
        self.service = service

        def work() -> bool:
            ok, failed = service.run_pending()
            return ok + failed >= service.batch  # more may be due at once

        super().__init__(
            work,
            name="dakora-webhooks",
            log=log,
            interval=interval,
            stop_timeout=15.0,
        )
