"""The events a push leaves in the webhook outbox, written in the push's own transaction.

``enqueue_push_events`` is called where the push audit rows are written
(``dakora.registry.index``: accepted pushes and API writes in ``record_ref_updates``,
refused ones in ``record_rejected_push``), on the same connection, so an outbox row
exists exactly when its push does and nobody is told of a push that was rolled back.
Delivery happens later, in the worker (``worker.py``): a push never waits on a receiver.

Each event becomes one row per subscribed endpoint; the payload is fixed at enqueue
time (docs/webhooks.md, "Payloads")::

    {"type": "ref.updated", "timestamp": "2026-12-04T18:00:00+00:00",
     "data": {"project": {...}, "ref": ..., "old": ..., "new": ..., "who": {...},
              "via": "git"}}
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from dakora.registry.core import ZERO_SHA
from dakora.registry.db import (
    PUSH_SOURCES,
    api_keys,
    projects,
    prompt_heads,
    users,
    utcnow,
    webhook_endpoints,
    webhook_outbox,
    workspaces,
)
from dakora.registry.webhooks.endpoints import (
    PROMPT_VERSION_CREATED,
    PUSH_REJECTED,
    REF_UPDATED,
)

MAX_EVENT_MESSAGES = 200


@dataclass(frozen=True)
class CreatedVersion:
    """A prompt version a push added (``VersionInfo`` has these fields too)."""

    prompt_id: str
    version: str
    commit: str
    author: str | None


def _version_refs(
    conn: Connection,
    project_id: str,
    updates: Sequence[tuple[str, str, str]],
    created: Sequence[CreatedVersion],
) -> dict[tuple[str, str], str | None]:
    """The ref that brought each new version: an updated ref whose head of the prompt
    is that version (the push's rows are written by now), else the first updated
    branch (a version that a later commit of the same push replaced)."""
    moved = [ref for ref, _old, new in updates if new != ZERO_SHA]
    if not created or not moved:
        return {}
    rows = conn.execute(
        select(
            prompt_heads.c.ref, prompt_heads.c.prompt_id, prompt_heads.c.version
        ).where(
            prompt_heads.c.project_id == project_id,
            prompt_heads.c.ref.in_(moved),
            prompt_heads.c.prompt_id.in_(sorted({v.prompt_id for v in created})),
        )
    ).all()
    at_head: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        at_head.setdefault((r.prompt_id, r.version), []).append(r.ref)
    branches = [r for r in moved if r.startswith("refs/heads/")]
    fallback = (branches or moved)[0]
    found: dict[tuple[str, str], str | None] = {}
    for v in created:
        refs = at_head.get((v.prompt_id, v.version), [])
        found[(v.prompt_id, v.version)] = (
            min(refs, key=moved.index) if refs else fallback
        )
    return found


def _sha(value: str) -> str | None:
    return None if value == ZERO_SHA else value


def via_of(source: str | None) -> tuple[str, str]:
    """(``via``, ``source``) of a push: ``via`` is ``git`` for a git push (over HTTP
    or an external server's hook) and ``api`` for every write through the HTTP API;
    ``source`` is the push audit log's finer value (``git``, ``api``, ``promote``,
    ``studio``)."""
    exact = source if source in PUSH_SOURCES else "git"  # as push_events records it
    return ("git" if exact == "git" else "api"), exact


def _who(conn: Connection, user_id: Any, key_id: Any) -> dict[str, Any]:
    """Who pushed, as the push audit log records it: the user and the API key."""
    user = key = None
    if user_id:
        row = conn.execute(
            select(users.c.name, users.c.email).where(users.c.id == str(user_id))
        ).first()
        user = {
            "id": str(user_id),
            "name": row.name if row else None,
            "email": row.email if row else None,
        }
    if key_id:
        name = conn.execute(
            select(api_keys.c.name).where(api_keys.c.id == str(key_id))
        ).scalar()
        key = {"id": str(key_id), "name": name}
    return {"user": user, "key": key}


def _project(conn: Connection, project_id: str) -> dict[str, Any]:
    row = conn.execute(
        select(workspaces.c.slug.label("workspace"), projects.c.slug)
        .select_from(
            projects.join(workspaces, workspaces.c.id == projects.c.workspace_id)
        )
        .where(projects.c.id == project_id)
    ).first()
    if row is None:
        return {"id": project_id, "workspace": None, "slug": None, "name": None}
    return {
        "id": project_id,
        "workspace": row.workspace,
        "slug": row.slug,
        "name": f"{row.workspace}/{row.slug}",
    }


def enqueue_push_events(
    conn: Connection,
    project_id: str,
    updates: Sequence[tuple[str, str, str]],
    *,
    result: str,
    source: str | None = None,
    user_id: Any = None,
    key_id: Any = None,
    messages: Sequence[str] | None = None,
    created: Iterable[CreatedVersion] = (),
) -> int:
    """Queue the webhook events of one push (inside its transaction); returns the
    number of outbox rows written (0, at the cost of one query, without webhooks)."""
    subscribed = conn.execute(
        select(webhook_endpoints.c.id, webhook_endpoints.c.events).where(
            webhook_endpoints.c.project_id == project_id
        )
    ).all()
    if not subscribed:
        return 0
    common: dict[str, Any] = {"project": _project(conn, project_id)}
    via, exact = via_of(source)
    who: dict[str, Any] = {
        "who": _who(conn, user_id, key_id),
        "via": via,
        "source": exact,
    }
    events: list[tuple[str, dict[str, Any]]] = []
    if result == "ok":
        versions = list(created)
        refs_of = _version_refs(conn, project_id, updates, versions)
        for v in versions:
            data: dict[str, Any] = {
                "id": v.prompt_id,
                "version": v.version,
                "commit": v.commit,
                "ref": refs_of.get((v.prompt_id, v.version)),
                "author": v.author,
            }
            events.append((PROMPT_VERSION_CREATED, {**common, **data, **who}))
    lines = [str(m) for m in (messages or [])][:MAX_EVENT_MESSAGES]
    for ref, old, new in updates:
        moved = {"ref": ref, "old": _sha(old), "new": _sha(new)}
        if result == "ok":
            events.append((REF_UPDATED, {**common, **moved, **who}))
        else:
            events.append(
                (PUSH_REJECTED, {**common, **moved, **who, "messages": lines})
            )
    now = utcnow()
    rows = [
        {
            "endpoint_id": endpoint_id,
            "project_id": project_id,
            "message_id": f"msg_{uuid.uuid4().hex}",
            "event_type": event_type,
            "payload": {
                "type": event_type,
                "timestamp": now.isoformat(),
                "data": body,
            },
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for event_type, body in events
        for endpoint_id, wanted in subscribed
        if event_type in (wanted or [])
    ]
    if rows:
        conn.execute(webhook_outbox.insert(), rows)
    return len(rows)
