"""The push audit log (``push_events``): one row per ref update of every push and API
write, accepted or rejected, and the newest-first pages ``GET …/pushes`` reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Row, or_, select

from dakora.registry.core import ZERO_SHA
from dakora.registry.db import (
    PUSH_SOURCES,
    REF_LEN,
    api_keys,
    fetch_page,
    push_events,
    transaction,
    users,
    utcnow,
)
from dakora.registry.webhooks import enqueue_push_events

MAX_MESSAGES = 200  # remote: lines kept per row


def _sha_or_none(sha: str) -> str | None:
    return None if sha == ZERO_SHA else sha


def push_source(value: str | None) -> str:
    """The ``push_events.source`` of a pipeline source: one of ``PUSH_SOURCES``; a
    push through the ``pre-receive`` hook (or anything unnamed) is ``git``."""
    return value if value in PUSH_SOURCES else "git"


def push_event_rows(
    project_id: str,
    updates: Sequence[tuple[str, str, str]],
    *,
    result: str,
    user_id: str | None = None,
    key_id: str | None = None,
    messages: Sequence[str] | None = None,
    source: str | None = None,
) -> list[dict[str, Any]]:
    """The ``push_events`` rows of ref updates ``(ref, old, new)``."""
    now = utcnow()
    return [
        {
            "project_id": project_id,
            "user_id": user_id,
            "key_id": key_id,
            "ref": ref[:REF_LEN],
            "old_sha": _sha_or_none(old),
            "new_sha": _sha_or_none(new),
            "result": result,
            "messages": list(messages or [])[:MAX_MESSAGES],
            "created_at": now,
            "source": push_source(source),
        }
        for ref, old, new in updates
    ]


def write_push_events(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(push_events.insert(), rows)


def record_rejected_push(
    engine: Engine,
    project_id: str,
    updates: Sequence[tuple[str, str, str]],
    *,
    user_id: str | None,
    key_id: str | None,
    messages: Sequence[str],
    source: str | None = None,
) -> None:
    """Audit a rejected push: one ``result='rejected'`` row per ref, and its
    ``push.rejected`` webhook events (docs/webhooks.md) in the same transaction."""
    rows = push_event_rows(
        project_id,
        updates,
        result="rejected",
        user_id=user_id,
        key_id=key_id,
        messages=messages,
        source=source,
    )
    with transaction(engine) as conn:
        write_push_events(conn, rows)
        enqueue_push_events(
            conn,
            project_id,
            updates,
            result="rejected",
            source=source,
            user_id=user_id,
            key_id=key_id,
            messages=messages,
        )


def push_event_page(
    engine: Engine,
    project_id: str,
    *,
    ref: str | None,
    result: str | None,
    limit: int,
    cursor: str | None,
    source: str | None = None,
) -> tuple[list[Row[Any]], str | None]:
    """Push events of a project, newest first, with who pushed (user name/email,
    key name); ``ref`` a full name or a branch/tag name; ``source`` one of
    ``PUSH_SOURCES``."""
    query = (
        select(
            push_events,
            users.c.name.label("user_name"),
            users.c.email.label("user_email"),
            api_keys.c.name.label("key_name"),
        )
        .select_from(
            push_events.outerjoin(users, users.c.id == push_events.c.user_id).outerjoin(
                api_keys, api_keys.c.id == push_events.c.key_id
            )
        )
        .where(push_events.c.project_id == project_id)
    )
    if ref:
        if ref.startswith("refs/"):
            query = query.where(push_events.c.ref == ref)
        else:
            query = query.where(
                or_(
                    push_events.c.ref == f"refs/heads/{ref}",
                    push_events.c.ref == f"refs/tags/{ref}",
                )
            )
    if result:
        query = query.where(push_events.c.result == result)
    if source:
        query = query.where(push_events.c.source == source)
    return fetch_page(engine, query, push_events.c.id, limit=limit, cursor=cursor)
