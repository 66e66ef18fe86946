"""Per-project push locks across replicas: PostgreSQL advisory locks (docs/design.md §11).

``AdvisoryProjectLock`` (``dakora.registry.db``) implements ``ProjectLock`` with
PostgreSQL advisory locks, held around the compare-and-swap of the refs and the index
transaction.

``ServerProjectLock`` picks the implementation from the database: advisory locks keyed
by project id on PostgreSQL, the machine-local lock (``LocalProjectLock``, keyed by the
repository path) on SQLite. ``ref_guard`` is the pipeline's ``before_apply`` hook: under
the lock it catches this replica's repository up to the index (from the mirror) and
compares every ref's old sha with the index's ``refs`` table, so a replica with a stale
repository never accepts a push based on old refs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from dakora.hooks.locks import LocalProjectLock, default_project_lock
from dakora.registry.core import ZERO_SHA, DakoraError
from dakora.registry.db import AdvisoryProjectLock, Engine, is_postgresql
from dakora.registry.git import peel, refresh_packs
from dakora.registry.index import indexed_refs

if TYPE_CHECKING:
    from dulwich.repo import Repo

    from dakora.hooks.receive import PushContext, PushResult
    from dakora.registry.mirror import ReplicaSync

logger = logging.getLogger(__name__)

BEHIND = "this server cannot catch up with the mirror right now; try again"
STALE = "ref changed during the push; fetch first"


class ServerProjectLock:
    """Advisory locks on PostgreSQL, the machine-local lock otherwise.

    ``get_engine`` is called lazily (the server's engine exists after start-up). Use
    :meth:`key` as the pipeline's ``lock_key`` and :meth:`hold_project` for other
    writers of a project's refs (replica catch-up).
    """

    def __init__(
        self, get_engine: Callable[[], Engine], local: LocalProjectLock | None = None
    ) -> None:
        self._get_engine = get_engine
        self._local = local or default_project_lock()
        self._advisory: AdvisoryProjectLock | None = None
        self._init = threading.Lock()

    def advisory(self) -> AdvisoryProjectLock | None:
        engine = self._get_engine()
        if not is_postgresql(engine):
            return None
        with self._init:
            if self._advisory is None:
                self._advisory = AdvisoryProjectLock(engine)
            return self._advisory

    def key(self, repo: Repo, context: PushContext) -> str:
        if context.project_id is not None and self.advisory() is not None:
            return str(context.project_id)
        return os.path.abspath(repo.controldir())

    def hold(self, key: str) -> contextlib.AbstractContextManager[None]:
        advisory = self.advisory()
        if advisory is not None:
            return advisory.hold(key)
        return self._local.hold(key)

    def hold_project(self, project_id: str) -> contextlib.AbstractContextManager[None]:
        """The lock of a project by id (PostgreSQL only; a no-op lock otherwise)."""
        advisory = self.advisory()
        if advisory is None:
            return contextlib.nullcontext()
        return advisory.hold(project_id)

    def dispose(self) -> None:
        if self._advisory is not None:
            self._advisory.dispose()


def _peel(repo: Repo, sha: str) -> str | None:
    try:
        return peel(repo.object_store, sha)
    except KeyError:
        return None


def ref_guard(
    get_engine: Callable[[], Engine],
    get_replica: Callable[[], ReplicaSync | None],
) -> Callable[[Repo, PushResult], str | None]:
    """The pipeline's ``before_apply``: runs under the project lock.

    Returns a rejection reason, or None to go on with the pipeline's own CAS.
    """

    def guard(repo: Repo, result: PushResult) -> str | None:
        ctx = result.context
        if ctx.project_id is None:
            return None
        project_id = str(ctx.project_id)
        engine = get_engine()
        if not is_postgresql(engine):
            return None  # one machine: the repository is the truth
        replica = get_replica()
        if replica is not None:
            prefix = f"{ctx.workspace}/{ctx.project}/"
            try:
                if replica.ensure_fresh(
                    project_id,
                    prefix,
                    repo.controldir(),  # type: ignore[arg-type]
                    default_branch=ctx.default_branch or "main",
                    locked=True,
                ):
                    refresh_packs(repo.object_store)
            except (DakoraError, OSError) as exc:
                logger.warning("catching up %s before a push failed: %s", prefix, exc)
                return BEHIND
        index = indexed_refs(engine, project_id)
        for update in result.updates:
            if not update.ref.startswith(("refs/heads/", "refs/tags/")):
                continue
            expected = index.get(update.ref)
            if update.old == ZERO_SHA:
                if expected is not None:
                    return STALE
                continue
            if expected is None or _peel(repo, update.old) != expected:
                return STALE
        return None

    return guard


def recover_replica(engine: Engine, repos_dir: str | os.PathLike[str]) -> list[str]:
    """Start-up repair of a replica (PostgreSQL + mirror): what a killed push left in
    this replica's own repositories (``<repos_dir>/<ws>/<slug>.git``), under each
    project's advisory lock. Unlike the single-machine repair it never reindexes from
    the local repository: here the shared index is the truth, and a repository that
    disagrees with it is caught up from the mirror on its next use (a push that moved
    local refs but never committed its index rows was never acknowledged).
    """
    from dakora.hooks.quarantine import cleanup_stale
    from dakora.registry.tenancy import list_projects

    lock = AdvisoryProjectLock(engine)
    removed: list[str] = []
    try:
        for project in list_projects(engine):
            path = os.path.join(
                os.fspath(repos_dir), project.workspace_slug, f"{project.slug}.git"
            )
            if not os.path.isdir(path):
                continue
            try:
                with lock.hold(str(project.id)):
                    removed += cleanup_stale(path)
            except (DakoraError, OSError) as exc:
                logger.warning("start-up repair of %s failed: %s", path, exc)
    finally:
        lock.dispose()
    return removed
