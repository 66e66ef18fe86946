"""Writing the index tables (prompt_versions, prompt_heads, refs) inside the caller's
transaction: versions inserted once, heads replaced per ref, refs set or deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from dulwich.object_store import BaseObjectStore
from sqlalchemy import Connection, delete, select, tuple_, update

from dakora.registry.db import (
    prompt_heads,
    prompt_versions,
    refs,
    utcnow,
)
from dakora.registry.gitrepo import PromptHead, VersionInfo
from dakora.registry.index_sources import prompt_description
from dakora.registry.types import ZERO_SHA

# The logger name from before the split, so log filters keep working.
logger = logging.getLogger("dakora.registry.index")


def db_refs(conn: Connection, project_id: str) -> dict[str, str]:
    rows = conn.execute(
        select(refs.c.name, refs.c.sha).where(refs.c.project_id == project_id)
    )
    return {r.name: r.sha for r in rows}


def insert_versions(
    conn: Connection,
    store: BaseObjectStore,
    project_id: str,
    versions: Sequence[VersionInfo],
) -> list[VersionInfo]:
    """Insert the versions not yet in the index; returns those inserted."""
    if not versions:
        return []
    keys = list({(v.prompt_id, v.version) for v in versions})
    existing: dict[tuple[str, str], str] = {}
    chunk = 400
    for i in range(0, len(keys), chunk):
        part = keys[i : i + chunk]
        rows = conn.execute(
            select(
                prompt_versions.c.prompt_id,
                prompt_versions.c.version,
                prompt_versions.c.blob_sha,
            ).where(
                prompt_versions.c.project_id == project_id,
                tuple_(prompt_versions.c.prompt_id, prompt_versions.c.version).in_(
                    part
                ),
            )
        )
        existing.update({(r.prompt_id, r.version): r.blob_sha for r in rows})
    new_rows: list[dict[str, Any]] = []
    added: list[VersionInfo] = []
    for v in versions:
        key = (v.prompt_id, v.version)
        if key in existing:
            if existing[key] != v.blob_sha:
                logger.warning(
                    "index: %s %s already indexed with blob %s, not %s (kept the "
                    "first)",
                    v.prompt_id,
                    v.version,
                    existing[key],
                    v.blob_sha,
                )
            continue
        existing[key] = v.blob_sha
        added.append(v)
        new_rows.append(
            {
                "project_id": project_id,
                "prompt_id": v.prompt_id,
                "version": v.version,
                "commit_sha": v.commit,
                "blob_sha": v.blob_sha,
                "path": v.path,
                "description": prompt_description(store, v.blob_sha, v.path),
                "author": (v.author or "")[:400] or None,
                "committed_at": v.committed_at,
            }
        )
    if new_rows:
        conn.execute(prompt_versions.insert(), new_rows)
    return added


def write_heads(
    conn: Connection,
    store: BaseObjectStore,
    project_id: str,
    ref: str,
    commit: str,
    heads: Mapping[str, PromptHead],
) -> int:
    """Make the ref's prompt_heads rows equal ``heads`` at ``commit``.

    Incremental: rows of unchanged prompts only get the new commit (one UPDATE),
    removed prompts are deleted, changed and new ones written. Descriptions of blobs
    the project's heads already have are reused, not re-parsed (a push into a
    10,000-prompt ref would otherwise rewrite and re-parse everything).
    """
    where_ref = (prompt_heads.c.project_id == project_id, prompt_heads.c.ref == ref)
    existing = {
        r.prompt_id: r
        for r in conn.execute(
            select(
                prompt_heads.c.prompt_id,
                prompt_heads.c.version,
                prompt_heads.c.blob_sha,
                prompt_heads.c.path,
                prompt_heads.c.description,
            ).where(*where_ref)
        )
    }
    known = {r.blob_sha: r.description for r in existing.values()}
    todo = [
        h
        for h in heads.values()
        if h.prompt_id not in existing
        or (
            existing[h.prompt_id].version,
            existing[h.prompt_id].blob_sha,
            existing[h.prompt_id].path,
        )
        != (h.version, h.blob_sha, h.path)
    ]
    missing = sorted({h.blob_sha for h in todo} - known.keys())
    for i in range(0, len(missing), 400):
        rows = conn.execute(
            select(prompt_heads.c.blob_sha, prompt_heads.c.description).where(
                prompt_heads.c.project_id == project_id,
                prompt_heads.c.blob_sha.in_(missing[i : i + 400]),
            )
        )
        known.update({r.blob_sha: r.description for r in rows})
    gone = [pid for pid in existing if pid not in heads]
    rewrite = [h.prompt_id for h in todo if h.prompt_id in existing]
    stale = gone + rewrite
    for i in range(0, len(stale), 400):
        conn.execute(
            delete(prompt_heads).where(
                *where_ref, prompt_heads.c.prompt_id.in_(stale[i : i + 400])
            )
        )
    if len(todo) < len(heads):
        conn.execute(update(prompt_heads).where(*where_ref).values(commit_sha=commit))
    rows = [
        {
            "project_id": project_id,
            "ref": ref,
            "prompt_id": h.prompt_id,
            "version": h.version,
            "blob_sha": h.blob_sha,
            "commit_sha": commit,
            "path": h.path,
            "description": known[h.blob_sha]
            if h.blob_sha in known
            else prompt_description(store, h.blob_sha, h.path),
        }
        for h in todo
    ]
    if rows:
        conn.execute(prompt_heads.insert(), rows)
    return len(heads)


def set_ref(conn: Connection, project_id: str, ref: str, sha: str | None) -> None:
    conn.execute(
        delete(refs).where(refs.c.project_id == project_id, refs.c.name == ref)
    )
    if sha is not None:
        conn.execute(
            refs.insert().values(
                project_id=project_id, name=ref, sha=sha, updated_at=utcnow()
            )
        )


def none_if_zero(sha: str) -> str | None:
    return None if not sha or sha == ZERO_SHA else sha
