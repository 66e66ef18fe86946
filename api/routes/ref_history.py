"""``GET /api/projects/{project}/refs/{ref}/history``: every move of one ref.

"Who moved production, when, from what to what, how": one entry per update the
receive pipeline saw for the ref — accepted or rejected, from a ``git push``, an API
write, a promotion or the Studio (``source``) — newest first, ``limit`` + ``cursor``
paging. ``ref`` is a branch or tag name (``production`` matches
``refs/heads/production`` and ``refs/tags/production``) or a full ``refs/…`` name.
A ref that does not exist and never moved is a 404. Needs read access.
See docs/promotion.md.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from dakora.api.deps import PageCursor, PageLimit, ReadAccess
from dakora.api.routes.pushes import PushKeyOut, PushUserOut, utc
from dakora.api.schemas import ERROR_RESPONSES
from dakora.registry.core import DakoraError, RefNotFound
from dakora.registry.db import PUSH_SOURCES
from dakora.registry.index import push_event_page

router = APIRouter(prefix="/api/projects/{project}", tags=["refs"])

Source = Literal["git", "api", "promote", "studio"]
assert set(PUSH_SOURCES) == set(Source.__args__)  # type: ignore[attr-defined]


class WhoOut(BaseModel):
    name: str | None = Field(
        description="Who, for a person: the user's name or email, else key:<key name>"
    )
    user: PushUserOut | None = None
    key: PushKeyOut | None = None


class RefMoveOut(BaseModel):
    id: int
    ref: str = Field(description="The full ref name")
    time: datetime = Field(description="When the pipeline saw the move (UTC)")
    who: WhoOut
    old: str | None = Field(description="Sha before (null: the ref was created)")
    new: str | None = Field(description="Sha after (null: the ref was deleted)")
    source: Source = Field(description="git | api | promote | studio")
    result: Literal["accepted", "rejected"]
    messages: list[str] = Field(
        description="The remote: lines the mover saw: the errors of a rejected move, "
        "the summary of an accepted one"
    )


class RefHistoryOut(BaseModel):
    ref: str
    moves: list[RefMoveOut]
    next_cursor: str | None = Field(description="Pass as cursor for the next page")


def _who(row: Any) -> WhoOut:
    user = (
        PushUserOut(id=row.user_id, name=row.user_name, email=row.user_email)
        if row.user_id
        else None
    )
    key = PushKeyOut(id=row.key_id, name=row.key_name) if row.key_id else None
    name = None
    if user is not None:
        name = user.name or user.email
    if name is None and key is not None:
        name = f"key:{key.name or key.id}"
    return WhoOut(name=name, user=user, key=key)


def move_out(row: Any) -> RefMoveOut:
    messages = row.messages if isinstance(row.messages, list) else []
    return RefMoveOut(
        id=row.id,
        ref=row.ref,
        time=utc(row.created_at),
        who=_who(row),
        old=row.old_sha,
        new=row.new_sha,
        source=row.source if row.source in PUSH_SOURCES else "git",
        result="accepted" if row.result == "ok" else "rejected",
        messages=[str(m) for m in messages],
    )


def _ref_exists(access: Any, ref: str) -> bool:
    info, content = access.project, access.content
    with contextlib.suppress(DakoraError, OSError):
        if content.freshen is not None:
            content.freshen(info)
    try:
        names = set(content.repo(info).refs())
    except (DakoraError, OSError):
        return False
    if ref.startswith("refs/"):
        return ref in names
    return bool({f"refs/heads/{ref}", f"refs/tags/{ref}"} & names)


@router.get(
    "/refs/{ref:path}/history",
    response_model=RefHistoryOut,
    responses=ERROR_RESPONSES,
    summary="Every move of a ref (who, when, old → new, source, accepted or not)",
)
def ref_history(
    access: ReadAccess,
    ref: str,
    result: Annotated[
        Literal["accepted", "rejected"] | None,
        Query(description="Only accepted or only rejected moves"),
    ] = None,
    source: Annotated[
        Source | None, Query(description="Only moves from this source")
    ] = None,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
) -> RefHistoryOut:
    rows, next_cursor = push_event_page(
        access.state.engine,
        access.project.id,
        ref=ref,
        result={"accepted": "ok", "rejected": "rejected"}.get(result or ""),
        source=source,
        limit=limit,
        cursor=cursor,
    )
    if not rows and cursor is None and not _ref_exists(access, ref):
        raise RefNotFound(
            f"ref {ref!r} does not exist in {access.project.full_name} and never moved",
            ref=ref,
        )
    return RefHistoryOut(
        ref=ref, moves=[move_out(r) for r in rows], next_cursor=next_cursor
    )
