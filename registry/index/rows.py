"""Writing the index tables (prompt_versions, prompt_heads, refs) inside the caller's
transaction: versions inserted once, heads replaced per ref, refs set or deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from dulwich.object_store import BaseObjectStore
from sqlalchemy import Connection, delete, func, select, tuple_

from dakora.registry.core import ZERO_SHA
from dakora.registry.db import (
    prompt_heads,
    prompt_versions,
    refs,
    utcnow,
)
from dakora.registry.git import PromptHead, VersionInfo
from dakora.registry.index.sources import prompt_description

# The logger name from before the split, so log filters keep working.
logger = logging.getLogger("dakora.registry.index.writer")


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

    Incremental: rows of unchanged prompts stay (``commit_sha`` is the commit a row
    was written at; the ref's ``refs`` row says where the ref is), removed prompts
    are deleted, changed and new ones written. Descriptions of blobs
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
    new_rows = [
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
    if new_rows:
        conn.execute(prompt_heads.insert(), new_rows)
    return len(heads)


def move_heads(
    conn: Connection,
    store: BaseObjectStore,
    project_id: str,
    ref: str,
    commit: str,
) -> int | None:
    """Move the ref's prompt_heads rows from the commit the index has for ``ref``
    (its ``refs`` row) to ``commit``, rewriting only the rows of prompts whose files
    changed between the two; returns the ref's row count, or None when this cannot be
    done incrementally (ref not indexed yet, prompts folder moved, object missing):
    then the caller recomputes every head.

    Cost: the tree diff of the two prompts folders, the ids of the changed files and
    the rows of those ids; never a listing or parse of every prompt. Which path wins
    for an id is read from the commit's cached id → paths map (first path in sorted
    order, like ``heads_at``).
    """
    from dakora.registry.core import DakoraError

    old_commit = db_refs(conn, project_id).get(ref)
    if old_commit is None:
        return None
    try:
        changed = _changed_heads(store, old_commit, commit)
    except (DakoraError, KeyError):
        logger.warning("index: recomputing every head of %s", ref, exc_info=True)
        return None
    if changed is None:
        return None
    where_ref = (prompt_heads.c.project_id == project_id, prompt_heads.c.ref == ref)
    ids = sorted(changed)
    existing: dict[str, Any] = {}
    for i in range(0, len(ids), 400):
        rows = conn.execute(
            select(
                prompt_heads.c.prompt_id,
                prompt_heads.c.version,
                prompt_heads.c.blob_sha,
                prompt_heads.c.path,
                prompt_heads.c.description,
            ).where(*where_ref, prompt_heads.c.prompt_id.in_(ids[i : i + 400]))
        )
        existing.update({r.prompt_id: r for r in rows})
    known = {r.blob_sha: r.description for r in existing.values()}
    stale: list[str] = []
    new_rows: list[dict[str, Any]] = []
    for pid in ids:
        head, row = changed[pid], existing.get(pid)
        same = (
            row is not None
            and head is not None
            and (row.version, row.blob_sha, row.path) == head[1:]
        )
        if row is not None and not same:
            stale.append(pid)
        if head is not None and not same:
            version, blob, path = head[1:]
            new_rows.append(
                {
                    "project_id": project_id,
                    "ref": ref,
                    "prompt_id": pid,
                    "version": version,
                    "blob_sha": blob,
                    "commit_sha": commit,
                    "path": path,
                    "description": known[blob]
                    if blob in known
                    else prompt_description(store, blob, path),
                }
            )
    for i in range(0, len(stale), 400):
        conn.execute(
            delete(prompt_heads).where(
                *where_ref, prompt_heads.c.prompt_id.in_(stale[i : i + 400])
            )
        )
    if new_rows:
        conn.execute(prompt_heads.insert(), new_rows)
    # the unchanged rows stay as they are: ``commit_sha`` is the commit a row was
    # written at, and the ref's ``refs`` row (same transaction) says at which commit
    # the index has the ref (``heads_at``), so nothing here costs O(prompts)
    total = conn.execute(
        select(func.count()).select_from(prompt_heads).where(*where_ref)
    ).scalar_one()
    return int(total)


def _changed_heads(
    store: BaseObjectStore, old_commit: str, commit: str
) -> dict[str, tuple[str, str, str, str] | None] | None:
    """prompt id → (id, version, blob sha, path) at ``commit`` (None: no longer
    there) of every id whose files differ between the two commits; None when the
    prompts folder is not the same folder in both."""
    import stat

    from dakora.registry.git import (
        PROMPT_SUFFIXES,
        GitSnapshot,
        blob_identity,
        diff_trees,
    )

    old_snap = GitSnapshot(store, old_commit)
    new_snap = GitSnapshot(store, commit)
    pdir = new_snap.prompts_dir
    if old_snap.prompts_dir != pdir:
        return None
    old_tree, new_tree = old_snap.tree_sha_of(pdir), new_snap.tree_sha_of(pdir)
    affected: set[str] = set()
    if old_tree != new_tree:
        for rel, old, new in diff_trees(
            store,
            old_tree.encode("ascii") if old_tree else None,
            new_tree.encode("ascii") if new_tree else None,
        ):
            path = f"{pdir}/{rel}"
            if not path.endswith(PROMPT_SUFFIXES):
                continue
            for entry in (old, new):
                if entry is not None and stat.S_ISREG(entry[0]):
                    ident = blob_identity(store, entry[1].decode("ascii"), path)
                    if ident is not None:
                        affected.add(ident[0])
    if not affected:
        return {}
    id_paths = new_snap.id_paths(old_snap)
    out: dict[str, tuple[str, str, str, str] | None] = {}
    for pid in affected:
        paths = id_paths.get(pid)
        if not paths:
            out[pid] = None
            continue
        path = paths[0]
        blob = new_snap.blob_sha(path)
        ident = blob_identity(store, blob, path)
        out[pid] = (pid, ident[1], blob, path) if ident is not None else None
    return out


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
