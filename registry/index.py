"""The database index of a project's repository: prompt_versions, prompt_heads, refs.

The git refs are the truth; this index is derived from them (DESIGN §6, "Repair"):

- :func:`record_ref_updates` — the push pipeline's writer: given ref updates
  ``(ref, old, new)`` that were just applied to the repository, write the versions they
  introduce, the prompt heads of each updated ref, the refs table, the push audit rows,
  a mirror outbox row and a change event — in ONE transaction (the caller's, when given
  a Connection).
- :func:`index_project` — rebuild the whole index of a project from its repository in
  one transaction (``dakora reindex``, restore, import).
- :func:`refs_in_sync` / :func:`reconcile_project` — compare the refs table with the
  repository and reindex when they differ (server start-up).

Only branches (``refs/heads/*``) and tags (``refs/tags/*``) are indexed; tags are
peeled to their commit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dulwich.errors import NotGitRepository
from dulwich.object_store import BaseObjectStore
from dulwich.objects import Commit, Tag
from dulwich.repo import Repo
from sqlalchemy import Connection, Engine, delete, select, tuple_, update

from dakora.registry.db import (
    REF_LEN,
    prompt_heads,
    prompt_versions,
    push_events,
    refs,
    transaction,
    utcnow,
)
from dakora.registry.errors import ProjectNotFound, StorageError
from dakora.registry.gitrepo import PromptHead, PromptRepository, VersionInfo
from dakora.registry.types import ZERO_SHA

logger = logging.getLogger(__name__)

INDEXED_PREFIXES = ("refs/heads/", "refs/tags/")
RefUpdate = tuple[str, str, str]  # (full ref name, old sha, new sha); zero sha = none
RepoLike = PromptRepository | Repo | BaseObjectStore | str | Path


@dataclass(frozen=True)
class IndexSummary:
    """What one indexing run wrote."""

    project_id: str
    refs: int
    versions: int
    heads: int
    versions_added: list[tuple[str, str, str]]  # (prompt id, version, blob sha)

    def to_dict(self) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "refs": self.refs,
            "versions": self.versions,
            "heads": self.heads,
            "versions_added": [list(v) for v in self.versions_added],
        }


# -- repository access ----------------------------------------------------------------


class _Opened:
    """A store from whatever the caller has; closes what it opened itself."""

    def __init__(self, repo: RepoLike) -> None:
        self._owned: Repo | None = None
        if isinstance(repo, PromptRepository):
            self.store: BaseObjectStore = repo.store
            self.repo: Repo | None = repo.repo
        elif isinstance(repo, Repo):
            self.store, self.repo = repo.object_store, repo
        elif isinstance(repo, BaseObjectStore):
            self.store, self.repo = repo, None
        else:
            try:
                self._owned = Repo(str(repo))
            except (NotGitRepository, OSError) as exc:
                raise StorageError(f"cannot open the repository {repo}: {exc}") from exc
            self.store, self.repo = self._owned.object_store, self._owned

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()

    def __enter__(self) -> _Opened:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def peel_to_commit(store: BaseObjectStore, sha: str) -> str | None:
    """The commit a ref points to (through annotated tags), or None (tree/blob tag)."""
    try:
        obj = store[sha.encode("ascii")]
        while isinstance(obj, Tag):
            obj = store[obj.object[1]]
    except KeyError as exc:
        raise StorageError(f"object {sha} is missing from the repository") from exc
    return obj.id.decode("ascii") if isinstance(obj, Commit) else None


def repository_refs(repo: Repo) -> dict[str, str]:
    """Indexed refs of a repository: full name → peeled commit sha."""
    out: dict[str, str] = {}
    for name, sha in repo.refs.as_dict().items():
        text = name.decode("utf-8", errors="replace")
        if not text.startswith(INDEXED_PREFIXES):
            continue
        commit = peel_to_commit(repo.object_store, sha.decode("ascii"))
        if commit is not None:
            out[text] = commit
    return out


def _ordered(refs_: Mapping[str, str], default_branch: str | None) -> list[str]:
    """Default branch first, then branches, then tags: versions are attributed to the
    first ref (in this order) that reaches them."""
    default = f"refs/heads/{default_branch}" if default_branch else None

    def key(name: str) -> tuple[int, str]:
        if name == default:
            return (0, name)
        return (1 if name.startswith("refs/heads/") else 2, name)

    return sorted(refs_, key=key)


# -- computing ------------------------------------------------------------------------


def _description(store: BaseObjectStore, blob_sha: str, path: str) -> str | None:
    from dakora.registry.snapshot import load_blob_with_findings

    loaded, _ = load_blob_with_findings(store, blob_sha, path)
    return loaded.prompt.description if loaded is not None else None


def compute_versions(
    store: BaseObjectStore, new_commits: Sequence[str], exclude: Sequence[str]
) -> list[VersionInfo]:
    """Versions introduced by commits reachable from ``new_commits`` but not from
    ``exclude`` (commits already indexed). Each (prompt id, version) once, the first
    occurrence (parents first) winning."""
    from dakora.registry.gitrepo import versions_in_range

    done: list[str] = [s for s in exclude if s and s != ZERO_SHA]
    seen: set[tuple[str, str]] = set()
    out: list[VersionInfo] = []
    for sha in new_commits:
        if sha in done:
            continue
        for info in versions_in_range(store, sha, list(done)):
            key = (info.prompt_id, info.version)
            if key not in seen:
                seen.add(key)
                out.append(info)
        done.append(sha)
    return out


def compute_heads(store: BaseObjectStore, commit: str) -> dict[str, PromptHead]:
    from dakora.registry.gitrepo import heads_at

    return heads_at(store, commit)


# -- writing --------------------------------------------------------------------------


def _db_refs(conn: Connection, project_id: str) -> dict[str, str]:
    rows = conn.execute(
        select(refs.c.name, refs.c.sha).where(refs.c.project_id == project_id)
    )
    return {r.name: r.sha for r in rows}


def _insert_versions(
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
                "description": _description(store, v.blob_sha, v.path),
                "author": (v.author or "")[:400] or None,
                "committed_at": v.committed_at,
            }
        )
    if new_rows:
        conn.execute(prompt_versions.insert(), new_rows)
    return added


def _write_heads(
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
            else _description(store, h.blob_sha, h.path),
        }
        for h in todo
    ]
    if rows:
        conn.execute(prompt_heads.insert(), rows)
    return len(heads)


def _set_ref(conn: Connection, project_id: str, ref: str, sha: str | None) -> None:
    conn.execute(
        delete(refs).where(refs.c.project_id == project_id, refs.c.name == ref)
    )
    if sha is not None:
        conn.execute(
            refs.insert().values(
                project_id=project_id, name=ref, sha=sha, updated_at=utcnow()
            )
        )


def _none_if_zero(sha: str) -> str | None:
    return None if not sha or sha == ZERO_SHA else sha


def record_ref_updates(
    target: Engine | Connection,
    project_id: str,
    repo: RepoLike,
    updates: Sequence[RefUpdate],
    *,
    versions: Sequence[VersionInfo] | None = None,
    heads: Mapping[str, Mapping[str, PromptHead]] | None = None,
    user_id: str | None = None,
    key_id: str | None = None,
    messages: Sequence[str] | None = None,
    audit: bool = True,
    mirror: bool = True,
    result: str = "ok",
) -> IndexSummary:
    """Index ref updates already applied to the repository, in one transaction.

    ``target``: an Engine (a transaction of its own) or a Connection inside the
    caller's transaction. ``repo``: the project's repository (or its object store).
    ``versions`` / ``heads`` (ref → prompt id → head) may be passed precomputed (the
    push pipeline has them); otherwise they are computed: the versions of commits
    reachable from the new shas but from no ref the index already knows.

    With ``audit`` one ``push_events`` row per update is written (``result``,
    ``messages``, who); with ``mirror`` a mirror outbox row is queued. A change event
    tells other server processes the project moved.
    """
    if isinstance(target, Engine):
        with transaction(target) as conn:
            return record_ref_updates(
                conn,
                project_id,
                repo,
                updates,
                versions=versions,
                heads=heads,
                user_id=user_id,
                key_id=key_id,
                messages=messages,
                audit=audit,
                mirror=mirror,
                result=result,
            )
    conn = target
    with _Opened(repo) as opened:
        store = opened.store
        peeled: dict[str, str | None] = {}
        for ref, _old, new in updates:
            if ref.startswith(INDEXED_PREFIXES):
                new_sha = _none_if_zero(new)
                peeled[ref] = peel_to_commit(store, new_sha) if new_sha else None
        if versions is None:
            known = list(_db_refs(conn, project_id).values())
            versions = compute_versions(
                store, [s for s in peeled.values() if s is not None], known
            )
        added = _insert_versions(conn, store, project_id, versions)
        head_count = 0
        for ref, commit in peeled.items():
            if commit is None:
                conn.execute(
                    delete(prompt_heads).where(
                        prompt_heads.c.project_id == project_id,
                        prompt_heads.c.ref == ref,
                    )
                )
                _set_ref(conn, project_id, ref, None)
                continue
            ref_heads = (
                heads[ref]
                if heads is not None and ref in heads
                else compute_heads(store, commit)
            )
            head_count += _write_heads(conn, store, project_id, ref, commit, ref_heads)
            _set_ref(conn, project_id, ref, commit)
        if audit and updates:
            conn.execute(
                push_events.insert(),
                [
                    {
                        "project_id": project_id,
                        "user_id": user_id,
                        "key_id": key_id,
                        "ref": ref[:REF_LEN],
                        "old_sha": _none_if_zero(old),
                        "new_sha": _none_if_zero(new),
                        "result": result,
                        "messages": list(messages or [])[:200],
                        "created_at": utcnow(),
                    }
                    for ref, old, new in updates
                ],
            )
        added_ids = [(v.prompt_id, v.version, v.blob_sha) for v in added]
        if mirror:
            from dakora.registry.mirror.outbox import enqueue

            enqueue(conn, project_id, added_ids)
        _publish(conn, project_id)
    return IndexSummary(
        project_id=project_id,
        refs=len(peeled),
        versions=len(added),
        heads=head_count,
        versions_added=added_ids,
    )


def _publish(conn: Connection, project_id: str) -> None:
    try:
        from dakora.registry.events import publish_project_changed
    except ImportError:  # pragma: no cover - events module always ships
        return
    publish_project_changed(conn, project_id)


def _project_id_and_branch(
    engine: Engine, project: Any
) -> tuple[str, str | None, Path | None]:
    """Accept a tenancy ``Project`` or a project ref (UUID / ``ws/slug``)."""
    from dakora.registry.tenancy import Project, get_project

    if not isinstance(project, Project):
        try:
            project = get_project(engine, str(project))
        except ProjectNotFound:
            raise
    return project.id, project.default_branch, project.repo_path


def index_project(
    engine: Engine,
    project: Any,
    repo: RepoLike | None = None,
    *,
    mirror: bool = False,
) -> IndexSummary:
    """Rebuild the project's index from its repository, in one transaction.

    ``project``: a tenancy ``Project``, its UUID or ``workspace/slug``; ``repo``
    defaults to the project's own bare repository. Same result as indexing every push
    one by one (each version attributed to the first commit that introduced it).
    """
    project_id, default_branch, repo_path = _project_id_and_branch(engine, project)
    source: RepoLike = repo if repo is not None else repo_path  # type: ignore[assignment]
    with _Opened(source) as opened:
        if opened.repo is None:
            raise StorageError("index_project needs a repository, not a bare store")
        current = repository_refs(opened.repo)
        order = _ordered(current, default_branch)
        versions = compute_versions(opened.store, [current[name] for name in order], [])
        with transaction(engine) as conn:
            for table in (prompt_heads, prompt_versions, refs):
                conn.execute(delete(table).where(table.c.project_id == project_id))
            return record_ref_updates(
                conn,
                project_id,
                opened.store,
                [(name, ZERO_SHA, current[name]) for name in order],
                versions=versions,
                audit=False,
                mirror=mirror,
            )


def refs_in_sync(engine: Engine, project: Any, repo: RepoLike | None = None) -> bool:
    """True when the refs table matches the repository's branches and tags."""
    project_id, _branch, repo_path = _project_id_and_branch(engine, project)
    source: RepoLike = repo if repo is not None else repo_path  # type: ignore[assignment]
    with _Opened(source) as opened:
        if opened.repo is None:
            raise StorageError("refs_in_sync needs a repository, not a bare store")
        actual = repository_refs(opened.repo)
    with transaction(engine, write=False) as conn:
        return _db_refs(conn, project_id) == actual


def reconcile_project(
    engine: Engine, project: Any, repo: RepoLike | None = None
) -> IndexSummary | None:
    """Reindex the project when its index disagrees with its refs; None when in sync."""
    if refs_in_sync(engine, project, repo):
        return None
    return index_project(engine, project, repo)
