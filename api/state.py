"""The per-app runtime state: settings, engine, caches. One per ``create_app`` call.

Nothing here is a module-level singleton: ``create_app(settings)`` builds a
:class:`ServerState`, the lifespan opens it (engine, migrations, event watcher) and
closes it. Routes reach it through ``request.app.state.dakora`` (see ``deps``).

:func:`invalidate_project` is the one function writers (git push, API writes) call after
a successful ref update, so every app in this process forgets the project's ref
resolutions on the next request. Other processes learn it through the database event
channel (``dakora.registry.db.events``).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from dakora.registry.core import ConfigError, Settings
from dakora.registry.db import AdvisoryProjectLock, Engine, is_process_local

if TYPE_CHECKING:
    from dakora.api.auth import Authenticator
    from dakora.api.events import EventWatcher
    from dakora.api.git_workers import GitWorkerPool
    from dakora.api.metrics import Metrics
    from dakora.api.mirror_process import MirrorProcess
    from dakora.api.render_pool import RenderPool
    from dakora.registry.content import ContentStore
    from dakora.registry.mirror import BlobStore, MirrorWorker, ReplicaSync
    from dakora.registry.tenancy import ProjectCache
    from dakora.registry.webhooks import WebhookWorker

log = logging.getLogger("dakora.api")

_LIVE_STATES: weakref.WeakSet[ServerState] = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()


class ServerState:
    """Everything one app instance holds between requests."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engine: Engine | None = None
        self.events: EventWatcher | None = None
        self.auth: Authenticator | None = None
        self.content: ContentStore | None = None
        self.projects: ProjectCache | None = None
        # the outbox worker: a process of its own, a thread on in-memory SQLite
        self.mirror: MirrorWorker | MirrorProcess | None = None
        self.replica: ReplicaSync | None = None  # PostgreSQL + mirror only
        self.render_pool: RenderPool | None = None  # renders, off the event loop
        self.webhooks: WebhookWorker | None = None  # the webhook outbox worker
        self.metrics: Metrics | None = None  # DAKORA_METRICS=true (api/metrics.py)
        self.git_pool: GitWorkerPool | None = None  # git requests, off the event loop
        # called with a project id (None: maybe any project) whenever refs may have
        # moved, from any thread (the MCP endpoint's list_changed, api/mcp/changes.py)
        self.change_listeners: list[Callable[[str | None], None]] = []

    # -- lifecycle ------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise ConfigError("the server is not started (no database engine yet)")
        return self._engine

    def start(self) -> None:
        """Make the engine, run migrations, build the caches and the event watcher."""
        from dakora.api.auth import Authenticator
        from dakora.api.events import EventWatcher
        from dakora.registry.content import ContentStore
        from dakora.registry.db import make_engine, upgrade
        from dakora.registry.tenancy import ProjectCache

        self.settings.ensure_data_dir()
        engine = make_engine(self.settings.database_url)
        upgrade(engine)
        self._engine = engine
        from dakora.hooks.recovery import recover_projects  # stale push leftovers

        replica = engine.dialect.name == "postgresql"
        if replica and self.settings.mirror_backend != "none":
            # a replica: the shared index is the truth, never reindex from here
            from dakora.hooks.advisory_lock import recover_replica

            recover_replica(engine, self.settings.repos_dir.absolute())
        else:
            recover_projects(engine)
        self.projects = ProjectCache(engine, self.settings.data_dir)
        from dakora.api.render_pool import RenderPool

        self.render_pool = RenderPool(
            self.settings.render_timeout_ms, self.settings.render_workers
        )
        self.render_pool.warm()
        if not is_process_local(engine):
            from dakora.api.git_workers import GitWorkerPool

            self.git_pool = GitWorkerPool(self.settings)
            self.git_pool.warm("dakora-git", log)
        self.content = ContentStore(engine, self.render_pool)
        self.auth = Authenticator(self.settings, engine, self.projects)
        self.events = EventWatcher(engine, self)
        self.events.start()
        self.auth.before_request = self.events.poll
        self._start_mirror(engine)
        self._start_webhooks(engine)
        with _LIVE_LOCK:
            _LIVE_STATES.add(self)
        from dakora.api.heap import freeze_startup_heap

        freeze_startup_heap()  # no 100 ms pauses of the event loop later (api/heap.py)

    def _start_mirror(self, engine: Engine) -> None:
        """The mirror worker (unless the backend is ``none``); with PostgreSQL
        this process is a replica: its repositories live under its own data dir and
        are caught up from the mirror when the index is ahead of them."""
        from dakora.api.mirror_process import MirrorProcess, replica_paths
        from dakora.registry.mirror import MirrorService, MirrorWorker, open_store

        store = open_store(self.settings)
        if store is None:
            return
        repos_dir = self.settings.repos_dir.absolute()
        replica_repos: Path | None = None  # a replica's own repositories
        if engine.dialect.name == "postgresql":
            replica, self._advisory = replica_sync(engine, store)
            self.replica = replica
            if self.projects is not None:
                self.projects.local_repos_dir = repos_dir
            if self.content is not None:
                self.content.freshen = lambda info: replica.ensure_fresh(
                    info.id,
                    f"{info.workspace_slug}/{info.slug}/",
                    info.repo_path,
                    default_branch=info.default_branch,
                )
            replica_repos = repos_dir

        if is_process_local(engine):  # another process cannot see the outbox
            service = MirrorService(
                engine, store, repo_path_for=replica_paths(replica_repos)
            )
            self.mirror = MirrorWorker(service)
        else:  # off the server's GIL and priority (api/mirror_process.py)
            self.mirror = MirrorProcess(self.settings, replica_repos)
        self.mirror.start()

    def _start_webhooks(self, engine: Engine) -> None:
        """The outgoing-webhook worker (docs/webhooks.md): delivers the outbox rows
        pushes leave behind, including those a previous run left pending."""
        from dakora.api.metrics import record_webhook_delivery
        from dakora.registry.webhooks import WebhookService, WebhookWorker

        self.webhooks = WebhookWorker(
            WebhookService(
                engine,
                allow_private=self.settings.webhooks_allow_private,
                schedule=self.settings.webhooks_retry_schedule,
                timeout=self.settings.webhooks_timeout_seconds,
                observe=record_webhook_delivery,
            )
        )
        self.webhooks.start()

    def notify_webhooks(self) -> None:
        """Wake the webhook worker (after a push recorded by this process)."""
        if self.webhooks is not None:
            self.webhooks.notify()

    def notify_mirror(self) -> None:
        """Wake the mirror worker (after a ref update made by this process)."""
        if self.mirror is not None:
            self.mirror.notify()

    def close(self) -> None:
        with _LIVE_LOCK:
            _LIVE_STATES.discard(self)
        if self.mirror is not None:
            self.mirror.stop()
            self.mirror = None
        if self.webhooks is not None:
            self.webhooks.stop()
            self.webhooks = None
        advisory = getattr(self, "_advisory", None)
        if advisory is not None:
            advisory.dispose()
        if self.events is not None:
            self.events.close()
            self.events = None
        if self.auth is not None:
            self.auth.close()
        if self.content is not None:
            self.content.close()
        if self.render_pool is not None:
            self.render_pool.close()
            self.render_pool = None
        if self.git_pool is not None:
            self.git_pool.close()
            self.git_pool = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # -- invalidation ---------------------------------------------------------------

    def invalidate_project(self, project_id: str) -> None:
        """Forget what this app cached about a project's refs (after a push). The
        project's own record (repository path, default branch) is kept: pushes do not
        change it, and deletions send an ``all`` event."""
        if self.content is not None:
            self.content.invalidate_project(project_id)
        self._tell_listeners(project_id)

    def invalidate_keys(self) -> None:
        """Forget every verified API key (after a revocation anywhere)."""
        if self.auth is not None:
            self.auth.invalidate()

    def invalidate_all(self) -> None:
        """Forget everything derived from the database (events may have been missed)."""
        if self.content is not None:
            self.content.invalidate_all()
        if self.projects is not None:
            self.projects.invalidate()
        self.invalidate_keys()
        self._tell_listeners(None)

    def _tell_listeners(self, project_id: str | None) -> None:
        for listener in list(self.change_listeners):
            try:
                listener(project_id)
            except Exception:  # a listener must never fail a push or a request
                log.warning("change listener failed", exc_info=True)


def replica_sync(
    engine: Engine, store: BlobStore
) -> tuple[ReplicaSync, AdvisoryProjectLock]:
    """A replica's catch-up from the mirror, under an advisory project lock (the
    lock's connection is the caller's to dispose)."""
    from dakora.registry.mirror import ReplicaSync

    advisory = AdvisoryProjectLock(engine)
    return ReplicaSync(engine, store, lock=advisory.hold), advisory


def live_states() -> list[ServerState]:
    with _LIVE_LOCK:
        return list(_LIVE_STATES)


def invalidate_project(project_id: str) -> None:
    """Make every app in this process re-resolve the project's refs on its next request.

    Call it after a ref update is committed (git push, API write, import). Blob-keyed
    entries are immutable and stay. Other processes learn of the update from
    ``dakora.registry.db.events.publish_project_changed`` (call that in the same DB
    transaction as the index rows).
    """
    for state in live_states():
        state.invalidate_project(project_id)
        state.notify_mirror()  # the outbox row is committed: mirror it now
        state.notify_webhooks()  # and deliver its webhook events


def notify_webhooks() -> None:
    """Wake every app's webhook worker in this process (after a refused push: its
    ``push.rejected`` events are committed)."""
    for state in live_states():
        state.notify_webhooks()
