"""``GET /api/projects/{project}/pushes``: the push audit log.

One row per ref update the receive pipeline saw, accepted (``ok``) or refused
(``rejected``), whether it came from ``git push``, an API write, a promotion or the
Studio (``source``; all go through the same pipeline): who (user and key), the ref, old and new shas, the result, the
``remote:`` messages the pusher saw, and when. Newest first, ``limit`` + ``cursor``
paging (``next_cursor`` of the previous page), filters ``ref`` (``main`` means
``refs/heads/main`` or ``refs/tags/main``) and ``result``. Needs read access.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from dakora.api.deps import PageCursor, PageLimit, ReadAccess
from dakora.api.schemas import ERROR_RESPONSES
from dakora.registry.index import push_event_page

router = APIRouter(prefix="/api/projects/{project}", tags=["pushes"])


class PushUserOut(BaseModel):
    id: str
    name: str | None = None
    email: str | None = None


class PushKeyOut(BaseModel):
    id: str
    name: str | None = None


class PushEventOut(BaseModel):
    id: int
    ref: str
    old: str | None = Field(description="Sha before (null: the ref was created)")
    new: str | None = Field(description="Sha after (null: the ref was deleted)")
    result: str = Field(description="ok | rejected")
    messages: list[str] = Field(description="The remote: lines the pusher saw")
    user: PushUserOut | None = None
    key: PushKeyOut | None = None
    created_at: datetime
    source: str = Field(description="git | api | promote | studio")


class PushPageOut(BaseModel):
    pushes: list[PushEventOut]
    next_cursor: str | None = Field(description="Pass as cursor for the next page")


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _event_out(row: Any) -> PushEventOut:
    messages = row.messages if isinstance(row.messages, list) else []
    return PushEventOut(
        id=row.id,
        ref=row.ref,
        old=row.old_sha,
        new=row.new_sha,
        result=row.result,
        messages=[str(m) for m in messages],
        user=(
            PushUserOut(id=row.user_id, name=row.user_name, email=row.user_email)
            if row.user_id
            else None
        ),
        key=PushKeyOut(id=row.key_id, name=row.key_name) if row.key_id else None,
        created_at=utc(row.created_at),
        source=row.source,
    )


@router.get(
    "/pushes",
    response_model=PushPageOut,
    responses=ERROR_RESPONSES,
    summary="The push audit log (git pushes and API writes), newest first",
)
def list_pushes(
    access: ReadAccess,
    ref: Annotated[
        str | None, Query(description="Only this ref (main = refs/heads/main)")
    ] = None,
    result: Annotated[
        str | None, Query(description="Only this result: ok or rejected")
    ] = None,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
) -> PushPageOut:
    rows, next_cursor = push_event_page(
        access.state.engine,
        access.project.id,
        ref=ref,
        result=result,
        limit=limit,
        cursor=cursor,
    )
    return PushPageOut(pushes=[_event_out(r) for r in rows], next_cursor=next_cursor)
