"""Recording pushes in the database: the index rows and the push audit log.

``record_accepted`` runs under the project lock right after the refs moved; it hands
the ref updates to ``dakora.registry.index.writer.record_ref_updates`` (one transaction:
prompt_versions, prompt_heads, refs, push_events, mirror outbox, change event).
``record_rejected`` writes one ``push_events`` row per ref with ``result='rejected'``
and the messages the pusher saw.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from dulwich.repo import Repo

from dakora.hooks.receive import PushResult
from dakora.registry.core import ZERO_SHA

logger = logging.getLogger(__name__)


def _sha_or_none(sha: str) -> str | None:
    return None if sha == ZERO_SHA else sha


def push_event_rows(result: PushResult, outcome: str) -> list[dict[str, Any]]:
    ctx = result.context
    return [
        {
            "project_id": str(ctx.project_id),
            "user_id": ctx.user_id,
            "key_id": ctx.key_id,
            "ref": update.ref[:255],
            "old_sha": _sha_or_none(update.old),
            "new_sha": _sha_or_none(update.new),
            "result": outcome,
            "messages": list(result.messages)[:200],
        }
        for update in result.updates
    ]


def record_accepted(engine: Any, repo: Repo, result: PushResult) -> None:
    """Index an accepted push (raises on failure: the caller rolls the refs back)."""
    if result.context.project_id is None:
        return
    from dakora.registry.index import writer as index_mod

    record = getattr(index_mod, "record_ref_updates", None)
    if record is None:  # pragma: no cover - transitional
        raise RuntimeError("dakora.registry.index.writer.record_ref_updates is missing")
    record(
        engine,
        str(result.context.project_id),
        repo,
        [(u.ref, u.old, u.new) for u in result.updates],
        user_id=result.context.user_id,
        key_id=result.context.key_id,
        messages=list(result.messages),
    )


def record_rejected(engine: Any, repo: Repo, result: PushResult) -> None:
    """Audit a rejected push (one push_events row per ref)."""
    if result.context.project_id is None:
        return
    from dakora.registry.db import push_events, transaction

    with transaction(engine) as conn:
        conn.execute(push_events.insert(), push_event_rows(result, "rejected"))


BULK_AFTER = 16


def index_version_lookup(
    engine: Any, project_id: str
) -> Callable[[str, str], str | None]:
    """``VersionLookup`` from the index: the blob a (prompt id, version) names on any
    ref, ever (prompt_versions rows are never deleted with a branch).

    A push touching a few prompts asks a few single-row questions; after
    ``BULK_AFTER`` of them the project's whole version table is read once instead
    (a 1,000-prompt push would otherwise make 1,000 round trips).
    """
    from sqlalchemy import select

    from dakora.registry.db import prompt_versions, read

    asked = 0
    table: dict[tuple[str, str], str] | None = None

    def lookup(prompt_id: str, version: str) -> str | None:
        nonlocal asked, table
        if table is not None:
            return table.get((prompt_id, version))
        asked += 1
        with read(engine) as conn:
            if asked > BULK_AFTER:
                rows = conn.execute(
                    select(
                        prompt_versions.c.prompt_id,
                        prompt_versions.c.version,
                        prompt_versions.c.blob_sha,
                    ).where(prompt_versions.c.project_id == project_id)
                )
                table = {(r.prompt_id, r.version): r.blob_sha for r in rows}
                return table.get((prompt_id, version))
            return conn.execute(
                select(prompt_versions.c.blob_sha).where(
                    prompt_versions.c.project_id == project_id,
                    prompt_versions.c.prompt_id == prompt_id,
                    prompt_versions.c.version == version,
                )
            ).scalar_one_or_none()

    return lookup
