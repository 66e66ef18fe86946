"""The database index of a project's repository: prompt_versions, prompt_heads, refs.

The git refs are the truth; this index is derived from them (docs/design.md §6, "Repair"):

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

Reading the repository is ``sources``, writing the tables ``rows``, the audit rows
``push_log``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dulwich.object_store import BaseObjectStore
from dulwich.repo import Repo
from sqlalchemy import Connection, Engine, delete

from dakora.registry.core import ZERO_SHA, ProjectNotFound, StorageError
from dakora.registry.db import (
    prompt_heads,
    prompt_versions,
    publish_project_changed,
    refs,
    transaction,
)
from dakora.registry.git import PromptHead, VersionInfo
from dakora.registry.index.push_log import push_event_rows, write_push_events
from dakora.registry.index.rows import (
    db_refs,
    insert_versions,
    move_heads,
    none_if_zero,
    set_ref,
    write_heads,
)
from dakora.registry.index.sources import (
    INDEXED_PREFIXES,
    OpenedRepo,
    RepoLike,
    compute_heads,
    compute_versions,
    ordered_refs,
    peel_to_commit,
    repository_refs,
)
from dakora.registry.webhooks import CreatedVersion, enqueue_push_events

RefUpdate = tuple[str, str, str]  # (full ref name, old sha, new sha); zero sha = none


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
    source: str | None = None,
) -> IndexSummary:
    """Index ref updates already applied to the repository, in one transaction.

    ``target``: an Engine (a transaction of its own) or a Connection inside the
    caller's transaction. ``repo``: the project's repository (or its object store).
    ``versions`` / ``heads`` (ref → prompt id → head) may be passed precomputed (the
    push pipeline has them); otherwise they are computed: the versions of commits
    reachable from the new shas but from no ref the index already knows.

    ``audit``: a ``push_events`` row per update (who, ``source``) and the webhook
    events; ``mirror``: a mirror outbox row; always a change event for the others.
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
                source=source,
            )
    conn = target
    with OpenedRepo(repo) as opened:
        store = opened.store
        peeled = _peeled(store, updates)
        if versions is None:
            known = list(db_refs(conn, project_id).values())
            versions = compute_versions(
                store, [s for s in peeled.values() if s is not None], known
            )
        added = insert_versions(conn, store, project_id, versions)
        head_count = 0
        for ref, commit in peeled.items():
            if commit is None:
                conn.execute(
                    delete(prompt_heads).where(
                        prompt_heads.c.project_id == project_id,
                        prompt_heads.c.ref == ref,
                    )
                )
                set_ref(conn, project_id, ref, None)
                continue
            if heads is None or ref not in heads:
                # the rows of changed prompts only, when the ref is indexed already
                moved = move_heads(conn, store, project_id, ref, commit)
                if moved is not None:
                    head_count += moved
                    set_ref(conn, project_id, ref, commit)
                    continue
            ref_heads = (
                heads[ref]
                if heads is not None and ref in heads
                else compute_heads(store, commit)
            )
            head_count += write_heads(conn, store, project_id, ref, commit, ref_heads)
            set_ref(conn, project_id, ref, commit)
        if audit:
            who: dict[str, Any] = {"user_id": user_id, "key_id": key_id}
            _audit(conn, project_id, updates, added, result, source, messages, **who)
        added_ids = [(v.prompt_id, v.version, v.blob_sha) for v in added]
        if mirror:
            from dakora.registry.mirror import enqueue

            enqueue(conn, project_id, added_ids)
        publish_project_changed(conn, project_id)
    return IndexSummary(
        project_id=project_id,
        refs=len(peeled),
        versions=len(added),
        heads=head_count,
        versions_added=added_ids,
    )


def _audit(
    conn: Connection,
    project_id: str,
    updates: Sequence[RefUpdate],
    added: Sequence[VersionInfo],
    result: str,
    source: str | None,
    messages: Sequence[str] | None,
    *,
    user_id: str | None,
    key_id: str | None,
) -> None:
    """The push audit rows and the push's webhook events (docs/webhooks.md)."""
    write_push_events(
        conn,
        push_event_rows(
            project_id,
            updates,
            result=result,
            user_id=user_id,
            key_id=key_id,
            messages=messages,
            source=source,
        ),
    )
    enqueue_push_events(
        conn,
        project_id,
        updates,
        result=result,
        source=source,
        user_id=user_id,
        key_id=key_id,
        messages=messages,
        created=[
            CreatedVersion(v.prompt_id, v.version, v.commit, v.author) for v in added
        ],
    )


def _peeled(
    store: BaseObjectStore, updates: Sequence[RefUpdate]
) -> dict[str, str | None]:
    """Indexed ref → the commit its new sha peels to (None: deleted)."""
    peeled: dict[str, str | None] = {}
    for ref, _old, new in updates:
        if ref.startswith(INDEXED_PREFIXES):
            new_sha = none_if_zero(new)
            peeled[ref] = peel_to_commit(store, new_sha) if new_sha else None
    return peeled


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


@contextmanager
def _project_repo(
    engine: Engine, project: Any, repo: RepoLike | None, caller: str
) -> Iterator[tuple[str, str | None, Repo, BaseObjectStore]]:
    """(project id, default branch, repository and its object store: ``repo`` or the
    project's own); refuses a bare object store, which has no refs."""
    project_id, default_branch, repo_path = _project_id_and_branch(engine, project)
    source: RepoLike = repo if repo is not None else repo_path  # type: ignore[assignment]
    with OpenedRepo(source) as opened:
        if opened.repo is None:
            raise StorageError(f"{caller} needs a repository, not a bare store")
        yield project_id, default_branch, opened.repo, opened.store


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
    with _project_repo(engine, project, repo, "index_project") as (
        project_id,
        default_branch,
        git_repo,
        store,
    ):
        current = repository_refs(git_repo)
        order = ordered_refs(current, default_branch)
        versions = compute_versions(store, [current[name] for name in order], [])
        with transaction(engine) as conn:
            for table in (prompt_heads, prompt_versions, refs):
                conn.execute(delete(table).where(table.c.project_id == project_id))
            return record_ref_updates(
                conn,
                project_id,
                store,
                [(name, ZERO_SHA, current[name]) for name in order],
                versions=versions,
                audit=False,
                mirror=mirror,
            )


def refs_in_sync(engine: Engine, project: Any, repo: RepoLike | None = None) -> bool:
    """True when the refs table matches the repository's branches and tags."""
    with _project_repo(engine, project, repo, "refs_in_sync") as (
        project_id,
        _branch,
        git_repo,
        _store,
    ):
        actual = repository_refs(git_repo)
    with transaction(engine, write=False) as conn:
        return db_refs(conn, project_id) == actual


def reconcile_project(
    engine: Engine, project: Any, repo: RepoLike | None = None
) -> IndexSummary | None:
    """Reindex the project when its index disagrees with its refs; None when in sync."""
    if refs_in_sync(engine, project, repo):
        return None
    return index_project(engine, project, repo)
