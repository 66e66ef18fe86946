"""Execution logs (what an application did with a prompt), counted against the
workspace's monthly token quota in the same transaction: a log that would pass the
limit is refused (``QuotaExceeded``) and nothing is written."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Row, select

from dakora.registry.core import BadRequest, Settings
from dakora.registry.db import fetch_page, logs, transaction, utcnow
from dakora.registry.tenancy.quotas import add_tokens
from dakora.registry.tenancy.records import QuotaStatus


def record_log(
    engine: Engine,
    settings: Settings,
    *,
    project_id: str,
    workspace_id: str,
    fields: Mapping[str, Any],
) -> tuple[Row[Any], QuotaStatus]:
    """Write one log row (``fields``: the ``logs`` columns a client sends) after
    counting its ``tokens_in + tokens_out``; (the row, the quota after it)."""
    now = utcnow()
    tokens = int(fields.get("tokens_in") or 0) + int(fields.get("tokens_out") or 0)
    with transaction(engine) as conn:
        quota = add_tokens(engine, workspace_id, tokens, settings, now=now, conn=conn)
        row = conn.execute(
            logs.insert()
            .values(project_id=project_id, created_at=now, **fields)
            .returning(*logs.c)
        ).one()
    return row, quota


def _utc(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return (
            value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        )
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise BadRequest(
            f"query parameter {name!r} is out of range", parameter=name
        ) from None


def log_page(
    engine: Engine,
    project_id: str,
    *,
    prompt_id: str | None = None,
    version: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Row[Any]], str | None]:
    """A project's logs, newest first (``since`` inclusive, ``until`` exclusive; a
    naive time is UTC)."""
    query = select(logs).where(logs.c.project_id == project_id)
    if prompt_id is not None:
        query = query.where(logs.c.prompt_id == prompt_id)
    if version is not None:
        query = query.where(logs.c.version == version)
    if (start := _utc(since, "since")) is not None:
        query = query.where(logs.c.created_at >= start)
    if (end := _utc(until, "until")) is not None:
        query = query.where(logs.c.created_at < end)
    return fetch_page(engine, query, logs.c.id, limit=limit, cursor=cursor)
