"""The mirror worker in its own process, below the server's CPU priority
(docs/design.md §15, "Reads while pushes run").

Mirroring a push writes one blob per new prompt version (each ``fsync``ed for the
local backend, an upload for Azure) plus the pack and refs. In a thread of the server
that work holds the GIL between system calls and runs at the server's priority: with
four 300-prompt pushes in flight it was the thread seen running in nearly every stall
of the event loop longer than 40 ms. So, as pushes moved to git worker processes, the
mirror moves to one process of its own, made by the same fork server
(``api/process_pool.py``) and ``nice``d like the git workers. Inside it the same
:class:`~dakora.registry.mirror.MirrorWorker` loop runs over its own engine and blob
store: it works the outbox off every second, at once when the server says ``wake``
(a push this server served), and stops on ``stop`` or when the pipe closes. A mirror
process that died is started again on the next wake-up; the outbox rows it left are
still due, so nothing is lost (the outbox is the source of truth, docs/mirror.md).
The process is started in the background, as the worker pools are, so the server's
start does not wait for the fork server.

With an in-memory SQLite database (tests) another process cannot see the outbox: the
server keeps the thread (:class:`~dakora.registry.mirror.MirrorWorker` itself).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING

from dakora.api.process_pool import Worker, lower_priority
from dakora.registry.core import Settings

if TYPE_CHECKING:
    from dakora.registry.mirror import ProjectRow

log = logging.getLogger("dakora.mirror")

_STOP_TIMEOUT_S = 10.0


def replica_paths(
    repos_dir: Path | None,
) -> Callable[[ProjectRow], Path] | None:
    """Where a replica (PostgreSQL) keeps each project's repository: under its own
    ``repos_dir``; None: the repository path the index holds."""
    if repos_dir is None:
        return None
    local = repos_dir

    def repo_path_for(p: ProjectRow) -> Path:
        return local / p.workspace / f"{p.slug}.git"

    return repo_path_for


def mirror_main(conn: Connection, settings: Settings, repos_dir: Path | None) -> None:
    """The mirror process: ``MirrorWorker`` over this process's engine and store
    until ``stop`` or the pipe closes. ``repos_dir``: a replica's own repositories
    (PostgreSQL), else None (the index's repository paths)."""
    from dakora.registry.db import make_engine
    from dakora.registry.mirror import MirrorService, MirrorWorker, open_store

    lower_priority()  # as the git workers (docs/design.md §15)
    store = open_store(settings)
    if store is None:
        return
    engine = make_engine(settings.database_url)
    service = MirrorService(engine, store, repo_path_for=replica_paths(repos_dir))
    worker = MirrorWorker(service)
    worker.start()
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return
            if message == "stop":
                return
            worker.notify()
    finally:
        worker.stop()
        engine.dispose()
        with contextlib.suppress(OSError):
            conn.send("stopped")


class MirrorProcess:
    """The server's handle on the mirror process: the interface of
    :class:`~dakora.registry.mirror.MirrorWorker` (``start``, ``notify``, ``stop``)."""

    def __init__(self, settings: Settings, repos_dir: Path | None) -> None:
        self._settings = settings
        self._repos_dir = repos_dir
        self._worker: Worker | None = None
        self._lock = threading.Lock()
        self._stopped = False

    @property
    def pid(self) -> int | None:
        worker = self._worker
        return worker.process.pid if worker is not None else None

    def start(self) -> threading.Thread:
        """Start the process in the background: the fork server's first start
        imports the worker modules (seconds on a busy machine), and the server must
        not wait for that. The process's first pass works off whatever is due."""

        def start() -> None:
            try:
                with self._lock:
                    self._start_locked()
            except Exception:  # the next wake-up tries again
                log.warning("the mirror process did not start", exc_info=True)

        thread = threading.Thread(target=start, name="dakora-mirror-start", daemon=True)
        thread.start()
        return thread

    def _start_locked(self) -> None:
        if self._stopped:
            return
        if self._worker is not None and self._worker.process.is_alive():
            return
        if self._worker is not None:
            log.warning("the mirror process died; starting it again")
            self._worker.kill()
        self._worker = Worker(
            mirror_main, (self._settings, self._repos_dir), "dakora-mirror"
        )

    def notify(self) -> None:
        """Wake the mirror now (a push landed); start it again if it died."""
        with self._lock:
            self._start_locked()
            worker = self._worker
            if worker is None:
                return
            with contextlib.suppress(OSError, ValueError):
                worker.conn.send("wake")

    def stop(self, timeout: float | None = None) -> None:
        """Let the pass in progress finish (as the thread's ``stop`` does), then end."""
        with self._lock:
            self._stopped = True
            worker, self._worker = self._worker, None
        if worker is None:
            return
        wait = _STOP_TIMEOUT_S if timeout is None else timeout
        with contextlib.suppress(OSError, ValueError, EOFError):
            worker.conn.send("stop")
            if worker.conn.poll(wait):
                worker.conn.recv()
        worker.process.join(1.0)
        if worker.process.is_alive():
            worker.kill()
        with contextlib.suppress(OSError):
            worker.conn.close()
