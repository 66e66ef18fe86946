"""Reads of the index for the read path and the push pipeline: the commit that
introduced a version, the prompts of a ref at a commit, the refs the index knows, and
the version table the version rules ask (``index_version_lookup``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select

from dakora.registry.db import prompt_heads, prompt_versions, read, refs

BULK_AFTER = 16


def version_commit(
    engine: Engine, project_id: str, prompt_id: str, version: str
) -> str | None:
    """The commit that introduced ``version`` of a prompt (one query), or None."""
    query = select(prompt_versions.c.commit_sha).where(
        prompt_versions.c.project_id == project_id,
        prompt_versions.c.prompt_id == prompt_id,
        prompt_versions.c.version == version,
    )
    with read(engine) as conn:
        commit = conn.execute(query).scalar_one_or_none()
    return str(commit) if commit else None


def heads_at(
    engine: Engine, project_id: str, ref: str, commit: str
) -> list[dict[str, Any]] | None:
    """The prompts (id, version, description, path, blob_sha; by id) of a branch or
    tag (``ref``: a full or short name) when the index has it at ``commit``; None
    otherwise (by commit, or the index is behind)."""
    names = (
        [ref] if ref.startswith("refs/") else [f"refs/heads/{ref}", f"refs/tags/{ref}"]
    )
    query = (
        select(
            prompt_heads.c.ref,
            prompt_heads.c.prompt_id,
            prompt_heads.c.version,
            prompt_heads.c.description,
            prompt_heads.c.path,
            prompt_heads.c.blob_sha,
        )
        .join(
            refs,
            (refs.c.project_id == prompt_heads.c.project_id)
            & (refs.c.name == prompt_heads.c.ref),
        )
        .where(
            prompt_heads.c.project_id == project_id,
            prompt_heads.c.ref.in_(names),
            # the refs row and the ref's heads rows are written in one transaction
            # (``record_ref_updates``): the row says at which commit they all are
            refs.c.sha == commit,
        )
        .order_by(prompt_heads.c.ref, prompt_heads.c.prompt_id)
    )
    with read(engine) as conn:
        rows = conn.execute(query).fetchall()
    if not rows:
        return None
    first = rows[0].ref
    return [
        {
            "id": r.prompt_id,
            "version": r.version,
            "description": r.description,
            "path": r.path,
            "blob_sha": r.blob_sha,
        }
        for r in rows
        if r.ref == first
    ]


def indexed_refs(engine: Engine, project_id: str) -> dict[str, str]:
    """Full ref name → commit of every ref the index has for the project."""
    query = select(refs.c.name, refs.c.sha).where(refs.c.project_id == project_id)
    with read(engine) as conn:
        return {r.name: r.sha for r in conn.execute(query)}


def index_version_lookup(
    engine: Engine, project_id: str
) -> Callable[[str, str], str | None]:
    """``VersionLookup`` from the index: the blob a (prompt id, version) names on any
    ref, ever (prompt_versions rows are never deleted with a branch).

    A push touching a few prompts asks a few single-row questions; after
    ``BULK_AFTER`` of them the project's whole version table is read once instead
    (a 1,000-prompt push would otherwise make 1,000 round trips).
    """
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
            blob: str | None = conn.execute(
                select(prompt_versions.c.blob_sha).where(
                    prompt_versions.c.project_id == project_id,
                    prompt_versions.c.prompt_id == prompt_id,
                    prompt_versions.c.version == version,
                )
            ).scalar_one_or_none()
            return blob

    return lookup
