"""Execution logs (what an application did with a prompt) and the monthly token quota.

``POST /api/projects/{project}/logs`` counts ``tokens_in + tokens_out`` against the
workspace's quota for the calendar month (UTC) and writes the log in the same
transaction: a log that would pass the limit is refused with 429 ``quota_exceeded`` and
nothing is written. A new month starts a new period by itself (``tenancy.add_tokens``).
Writing needs a write key (or member role); reading a read key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import Row, select

from dakora.api.deps import ReadAccess, WriteAccess
from dakora.api.routes._paging import fetch_page
from dakora.api.schemas import (
    ERROR_RESPONSES,
    ErrorOut,
    LogCreatedOut,
    LogIn,
    LogOut,
    LogPageOut,
    QuotaOut,
)
from dakora.registry.core import BadRequest
from dakora.registry.db import logs, transaction, utcnow
from dakora.registry.tenancy import add_tokens

router = APIRouter(prefix="/api/projects/{project}", tags=["logs"])

MAX_PAGE = 500


def _log_out(row: Row[Any]) -> LogOut:
    return LogOut(
        id=row.id,
        project_id=row.project_id,
        prompt_id=row.prompt_id,
        version=row.version,
        inputs=row.inputs,
        output=row.output,
        provider=row.provider,
        model=row.model,
        tokens_in=row.tokens_in,
        tokens_out=row.tokens_out,
        cost=row.cost,
        latency_ms=row.latency_ms,
        created_at=row.created_at,
    )


@router.post(
    "/logs",
    status_code=201,
    response_model=LogCreatedOut,
    responses={
        **ERROR_RESPONSES,
        429: {"model": ErrorOut, "description": "The workspace's monthly quota"},
    },
    summary="Record one execution (counts tokens against the monthly quota)",
)
def create_log(access: WriteAccess, body: LogIn) -> LogCreatedOut:
    state = access.state
    project = access.project
    now = utcnow()
    with transaction(state.engine) as conn:
        quota = add_tokens(
            state.engine,
            project.workspace_id,
            body.tokens_in + body.tokens_out,
            state.settings,
            now=now,
            conn=conn,
        )
        result = conn.execute(
            logs.insert()
            .values(project_id=project.id, created_at=now, **body.model_dump())
            .returning(*logs.c)
        )
        row = result.one()
    return LogCreatedOut(
        log=_log_out(row),
        quota=QuotaOut(
            tier=quota.tier,
            tokens_used=quota.tokens_used,
            tokens_limit=quota.tokens_limit,
            period_start=quota.period_start,
        ),
    )


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


@router.get(
    "/logs",
    response_model=LogPageOut,
    responses=ERROR_RESPONSES,
    summary="Execution logs, newest first, with filters and cursor paging",
)
def list_logs(
    access: ReadAccess,
    prompt_id: Annotated[str | None, Query(description="Only this prompt")] = None,
    version: Annotated[str | None, Query(description="Only this version")] = None,
    since: Annotated[
        datetime | None, Query(description="Created at or after (ISO 8601, UTC)")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="Created before (ISO 8601, UTC)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page size")] = 50,
    cursor: Annotated[
        str | None, Query(description="next_cursor of the previous page")
    ] = None,
) -> LogPageOut:
    query = select(logs).where(logs.c.project_id == access.project.id)
    if prompt_id is not None:
        query = query.where(logs.c.prompt_id == prompt_id)
    if version is not None:
        query = query.where(logs.c.version == version)
    if (start := _utc(since, "since")) is not None:
        query = query.where(logs.c.created_at >= start)
    if (end := _utc(until, "until")) is not None:
        query = query.where(logs.c.created_at < end)
    rows, next_cursor = fetch_page(
        access.state.engine, query, logs.c.id, limit=limit, cursor=cursor
    )
    return LogPageOut(logs=[_log_out(r) for r in rows], next_cursor=next_cursor)
