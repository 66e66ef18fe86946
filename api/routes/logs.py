"""Execution logs (what an application did with a prompt) and the monthly token quota.

``POST /api/projects/{project}/logs`` counts ``tokens_in + tokens_out`` against the
workspace's quota for the calendar month (UTC) and writes the log in the same
transaction: a log that would pass the limit is refused with 429 ``quota_exceeded`` and
nothing is written. A new month starts a new period by itself (``tenancy.add_tokens``).
Writing needs a write key (or member role); reading a read key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from dakora.api.deps import PageCursor, PageLimit, ReadAccess, WriteAccess
from dakora.api.schemas import (
    ERROR_RESPONSES,
    ErrorOut,
    LogCreatedOut,
    LogIn,
    LogOut,
    LogPageOut,
    QuotaOut,
)
from dakora.registry.tenancy import log_page, record_log

router = APIRouter(prefix="/api/projects/{project}", tags=["logs"])


def _log_out(row: Any) -> LogOut:
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
    project = access.project
    row, quota = record_log(
        access.state.engine,
        access.state.settings,
        project_id=project.id,
        workspace_id=project.workspace_id,
        fields=body.model_dump(),
    )
    return LogCreatedOut(
        log=_log_out(row),
        quota=QuotaOut(
            tier=quota.tier,
            tokens_used=quota.tokens_used,
            tokens_limit=quota.tokens_limit,
            period_start=quota.period_start,
        ),
    )


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
    limit: PageLimit = 50,
    cursor: PageCursor = None,
) -> LogPageOut:
    rows, next_cursor = log_page(
        access.state.engine,
        access.project.id,
        prompt_id=prompt_id,
        version=version,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )
    return LogPageOut(logs=[_log_out(r) for r in rows], next_cursor=next_cursor)
