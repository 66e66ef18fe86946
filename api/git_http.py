"""Git smart HTTP at ``/git/{workspace}/{project}.git`` (clone, fetch, ls-remote, push).

The stack, outermost first (docs/design.md §12 says why each piece is there):
``GitAuthMiddleware`` (ASGI, ``git_auth``: credentials → ``GitTarget``), then
``a2wsgi.WSGIMiddleware`` (Starlette's WSGI adapter gives dulwich no ``write``
callable; a2wsgi does), then ``GitWSGIApp`` (``git_wsgi``: dulwich's chain with the
receive pipeline). This module builds that stack (``make_git_app``) and the server's
receive pipeline (``server_pipeline``), shared by git pushes and API writes.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable
from typing import Any

from a2wsgi import WSGIMiddleware
from dulwich.repo import Repo

from dakora.api.git_auth import (
    ASGIApp,
    DatabaseAuthenticator,
    GitAuthenticator,
    GitAuthMiddleware,
    GitTarget,
)
from dakora.api.git_wsgi import GitWSGIApp, RepoCache
from dakora.hooks.receive import PushResult, ReceivePipeline
from dakora.hooks.repack import DEFAULT_PACK_LIMIT
from dakora.registry.checks import PushLimits
from dakora.registry.core import DakoraError
from dakora.registry.index import index_version_lookup

logger = logging.getLogger("dakora.api.git")


def make_index_hooks(
    engine: Callable[[], Any],
    invalidate: Callable[[str], None] | None = None,
) -> tuple[Callable[[Repo, PushResult], None], Callable[[Repo, PushResult], None]]:
    """``on_accepted`` / ``on_rejected`` writing the index and the push audit log;
    after an accepted push, ``invalidate(project_id)`` (default: every live app of
    this process drops what it cached of the project)."""
    from dakora.hooks.recorder import record_accepted, record_rejected

    if invalidate is None:
        from dakora.api.state import invalidate_project

        invalidate = invalidate_project

    def accepted(repo: Repo, result: PushResult) -> None:
        record_accepted(engine(), repo, result)
        if result.context.project_id is not None:
            invalidate(str(result.context.project_id))

    def rejected(repo: Repo, result: PushResult) -> None:
        record_rejected(engine(), repo, result)
        from dakora.api.state import notify_webhooks

        notify_webhooks()

    return accepted, rejected


_PIPELINES: weakref.WeakKeyDictionary[Any, ReceivePipeline] = (
    weakref.WeakKeyDictionary()
)
_PIPELINES_LOCK = threading.Lock()


def make_auto_repack(
    project_lock: Any,
    get_engine: Callable[[], Any],
    pack_limit: int,
    *,
    notify: Callable[[], None] | None = None,
) -> Callable[[Repo, PushResult], None]:
    """The pipeline's ``after_accepted``: repack in the background past
    ``pack_limit`` packs, then queue a mirror sync of the project."""
    from dakora.hooks.repack import AutoRepack
    from dakora.registry.mirror import queue_sync

    auto = AutoRepack(pack_limit)

    def after(repo: Repo, result: PushResult) -> None:
        key = project_lock.key(repo, result.context)
        project_id = result.context.project_id

        def synced(_done: object) -> None:
            if project_id is not None:
                queue_sync(get_engine(), str(project_id))
                if notify is not None:
                    notify()

        path = os.path.abspath(repo.controldir())
        auto.maybe_repack(path, lambda: project_lock.hold(key), key, after=synced)

    return after


def server_pipeline(
    state: Any,
    engine: Any = None,
    *,
    limits: PushLimits | None = None,
    invalidate: Callable[[str], None] | None = None,
) -> ReceivePipeline:
    """The receive pipeline of one server: checks, project lock (advisory on
    PostgreSQL), ref guard, index + audit writer, cache invalidation. Shared by git
    pushes and API writes (``hooks/commit_writer.py``); one per ``state`` unless
    ``engine`` or ``limits`` are given. ``invalidate``: see ``make_index_hooks``
    (a git worker collects the projects it changed)."""

    def get_engine() -> Any:
        return engine if engine is not None else state.engine

    shared = engine is None and limits is None and state is not None
    if shared:
        with _PIPELINES_LOCK:
            cached = _PIPELINES.get(state)
        if cached is not None:
            return cached
    from dakora.api.telemetry import InstrumentedPipeline
    from dakora.hooks.advisory_lock import ServerProjectLock, ref_guard

    on_accepted, on_rejected = make_index_hooks(get_engine, invalidate)
    project_lock = ServerProjectLock(get_engine)  # advisory on PostgreSQL
    settings = getattr(state, "settings", None)
    # a dakora.push span per push, and dakora_pushes_total with DAKORA_METRICS=true
    pipeline: ReceivePipeline = InstrumentedPipeline(
        state=state,
        after_accepted=make_auto_repack(
            project_lock,
            get_engine,
            getattr(settings, "gc_pack_limit", DEFAULT_PACK_LIMIT),
            notify=getattr(state, "notify_mirror", None),
        ),
        lock=project_lock,
        lock_key=project_lock.key,
        before_apply=ref_guard(get_engine, lambda: getattr(state, "replica", None)),
        limits=limits,
        on_accepted=on_accepted,
        on_rejected=on_rejected,
        version_lookup_factory=lambda repo, ctx: index_version_lookup(
            get_engine(), str(ctx.project_id)
        ),
    )
    if shared:
        with _PIPELINES_LOCK:
            pipeline = _PIPELINES.setdefault(state, pipeline)
    return pipeline


def make_git_app(
    state: Any,
    engine: Any = None,
    *,
    authenticator: GitAuthenticator | None = None,
    pipeline: ReceivePipeline | None = None,
    limits: PushLimits | None = None,
    workers: int = 16,
) -> ASGIApp:
    """The ASGI app to mount at ``/git``.

    ``state``: the server's ``ServerState`` (engine, authenticator and project cache
    are read on each request, so mounting before start-up is fine). ``engine``
    overrides ``state.engine``. Tests may pass their own ``authenticator`` and
    ``pipeline`` (then ``state`` may be None).
    """

    authenticator = authenticator or DatabaseAuthenticator(state)
    if pipeline is None and engine is None and state is not None:
        # the server: git requests in worker processes, unless its database is
        # in-memory (a test app: other processes cannot see it)
        app: Any = _ServerGitApp(state, limits)
    else:
        if pipeline is None:
            pipeline = server_pipeline(state, engine, limits=limits)
        cache = RepoCache()
        cache.freshen = replica_freshener(state, cache)
        app = GitWSGIApp(cache, pipeline)
    wsgi = WSGIMiddleware(app, workers=workers)
    return GitAuthMiddleware(wsgi, authenticator)


class _ServerGitApp:
    """The server's git WSGI app, chosen at the first request (after start-up, when
    the engine exists): ``GitWorkerApp`` over the state's pool of git workers, or
    in this process's threads when the database is in-memory."""

    def __init__(self, state: Any, limits: PushLimits | None) -> None:
        self._state = state
        self._limits = limits
        self._app: Any = None
        self._lock = threading.Lock()

    def _choose(self) -> Any:
        from dakora.api.git_workers import GitWorkerApp
        from dakora.api.state import invalidate_project
        from dakora.registry.db import is_process_local

        state = self._state
        if is_process_local(state.engine) or state.git_pool is None:
            cache = RepoCache()
            cache.freshen = replica_freshener(state, cache)
            return GitWSGIApp(cache, server_pipeline(state, limits=self._limits))

        def pushed(result: str) -> None:  # a worker's push, counted here
            metrics = getattr(state, "metrics", None)
            if metrics is not None:
                metrics.count_push(result)

        return GitWorkerApp(
            state.git_pool,
            state.settings.data_dir / "tmp",
            invalidate_project,
            self._limits,
            pushed,
            state.notify_mirror,
        )

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    self._app = self._choose()
        return self._app(environ, start_response)


def replica_freshener(state: Any, cache: RepoCache) -> Callable[[GitTarget], None]:
    """Catch a replica's repository up to the index (``state.replica``) before a
    git request; a failure is logged and the request served from what is here (a
    push is still checked against the index under the project lock)."""

    def freshen(target: GitTarget) -> None:
        replica = getattr(state, "replica", None)
        if replica is None or target.project_id is None:
            return
        try:
            changed = replica.ensure_fresh(
                str(target.project_id),
                f"{target.workspace}/{target.project}/",
                target.repo_path,
                default_branch=target.default_branch,
            )
        except (DakoraError, OSError) as exc:
            logger.warning("could not catch up %s: %s", target.repo_path, exc)
            return
        if changed:
            cache.refresh(target.repo_path)

    return freshen
