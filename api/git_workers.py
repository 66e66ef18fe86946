"""Git smart-HTTP requests served by worker processes (docs/design.md §15).

A push's work (reading and indexing the pack, checking every new object and prompt,
writing the index) and a clone's (building a pack) is pure-Python CPU work. In a
thread of the server it holds the GIL the event loop needs: with four pushes in
flight, warm reads queued for a second (issue 10 finding 11). So the server process
only authenticates a git request and relays bytes; a pool of git worker processes
(``DAKORA_GIT_WORKERS``) runs dulwich and the receive pipeline, at a lower CPU
priority than the server.

One request, seen from the server (``GitWorkerApp``, a WSGI app in a2wsgi's threads,
never on the event loop): the body is spooled to a file under the data dir (at most
``max_pack_bytes`` + 1 MiB are kept: the worker's pack guard refuses anything past
the limit with its own message, so the refusal is the same), an idle worker gets
``(environ, target, body path)``, and its replies are relayed as they come:
``("start", status, headers)``, ``("data", bytes)``…, then ``("done", changed
projects)``, on which the server drops what it cached of those projects before the
response ends (a client that pushed and then reads sees its push). A worker that dies
is replaced; its request gets a 503 if nothing was sent yet.

In the worker (``worker_main``): the same ``GitWSGIApp`` and ``server_pipeline`` the
server would run in a thread, over its own engine, repository cache and (PostgreSQL
with a mirror) replica sync. Ref updates are serialised across processes by the
project lock (an ``fcntl`` lock on SQLite, an advisory lock on PostgreSQL).
"""

from __future__ import annotations

import contextlib
import gc
import io
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from dakora.api.git_auth import SCOPE_KEY, GitTarget
from dakora.api.process_pool import ProcessPool, Worker, lower_priority
from dakora.registry.checks import PushLimits
from dakora.registry.core import DakoraError, ServiceUnavailable, Settings

log = logging.getLogger("dakora.api.git")

ACQUIRE_TIMEOUT_S = 120.0  # waiting for a free git worker
SPOOL_MARGIN = 1024 * 1024  # request bytes kept past max_pack_bytes (ref commands)
CHUNK = 64 * 1024
DIED = "the git worker serving this request stopped unexpectedly; try again"


def default_git_workers() -> int:
    return max(2, os.cpu_count() or 1)


# -- the worker side ------------------------------------------------------------------


class WorkerState:
    """What ``server_pipeline`` reads of a ``ServerState``, inside a git worker."""

    def __init__(self, settings: Settings) -> None:
        from dakora.registry.db import make_engine

        self.settings = settings
        self.engine = make_engine(settings.database_url)
        self.replica: Any = None
        self.changed: set[str] = set()
        # push results of the current request, counted by the server's metrics
        # (``InstrumentedPipeline`` reads ``state.metrics``; docs/telemetry.md)
        self.metrics = PushTally()
        if self.engine.dialect.name == "postgresql":
            from dakora.api.state import replica_sync
            from dakora.registry.mirror import open_store

            store = open_store(settings)
            if store is not None:
                self.replica, _lock = replica_sync(self.engine, store)

    def notify_mirror(self) -> None:
        """The server wakes its mirror worker when the request's ``done`` names a
        changed project; nothing to wake from here."""


class PushTally:
    """Stands in for ``Metrics`` in a git worker: the results go back to the server
    with the request's ``done`` message."""

    def __init__(self) -> None:
        self.results: list[str] = []

    def observe_push(self, result: Any) -> None:
        self.results.append("accepted" if result.accepted else "rejected")


def worker_main(conn: Connection, settings: Settings) -> None:
    """One git worker: serve what the server sends until the pipe closes."""
    from dakora.api.git_http import replica_freshener, server_pipeline
    from dakora.api.git_wsgi import GitWSGIApp, RepoCache

    lower_priority()  # below the event loop (docs/design.md §15)
    state = WorkerState(settings)
    cache = RepoCache()
    cache.freshen = replica_freshener(state, cache)
    app = GitWSGIApp(cache, server_pipeline(state, invalidate=state.changed.add))
    while True:
        try:
            environ, target, body_path = conn.recv()
        except (EOFError, OSError):
            return
        state.changed.clear()
        state.metrics.results.clear()
        # a push allocates ~10 objects per prompt of every tree it reads: no cyclic
        # collection on its path; the allocation count left when the request ends
        # triggers one right after it (docs/performance.md)
        gc.disable()
        try:
            _serve(conn, app, environ, target, body_path)
            conn.send(("done", sorted(state.changed), list(state.metrics.results)))
        except (BrokenPipeError, OSError):
            return  # the server went away
        finally:
            gc.enable()


def _serve(
    conn: Connection,
    app: Callable[..., Iterable[bytes]],
    environ: dict[str, Any],
    target: GitTarget,
    body_path: str | None,
) -> None:
    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        conn.send(("start", status, list(headers)))
        return lambda data: conn.send(("data", bytes(data)))

    with open(body_path, "rb") if body_path else io.BytesIO() as body:
        environ = {
            **environ,
            "wsgi.input": body,
            "wsgi.errors": sys.stderr,
            "asgi.scope": {SCOPE_KEY: target},
        }
        try:
            result = app(environ, start_response)
            try:
                for chunk in result:
                    if chunk:
                        conn.send(("data", bytes(chunk)))
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception:  # noqa: BLE001 - reported to the client, logged here
            log.exception("git request failed in a worker")
            conn.send(("failed", "internal error while serving the git request"))


# -- the server side ------------------------------------------------------------------


class _GitWorker(Worker):
    def __init__(self, settings: Settings) -> None:
        super().__init__(worker_main, (settings,), "dakora-git")


class GitWorkerPool(ProcessPool[_GitWorker]):
    def __init__(self, settings: Settings) -> None:
        size = settings.git_workers or default_git_workers()
        super().__init__(
            size,
            lambda: _GitWorker(settings),
            closed=lambda: ServiceUnavailable("the server is shutting down"),
            busy=lambda: ServiceUnavailable(
                f"all {size} git workers stayed busy for {ACQUIRE_TIMEOUT_S:.0f} s; "
                "try again"
            ),
            timeout_s=ACQUIRE_TIMEOUT_S,
        )


def _picklable(environ: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in environ.items() if isinstance(v, str)}


class GitWorkerApp:
    """The WSGI app of ``/git`` when git requests run in worker processes."""

    def __init__(
        self,
        pool: GitWorkerPool,
        spool_dir: Path,
        changed: Callable[[str], None],
        limits: PushLimits | None = None,
        pushed: Callable[[str], None] | None = None,
        mirror: Callable[[], None] | None = None,
    ) -> None:
        self.pool = pool
        self.spool_dir = spool_dir
        self.changed = changed
        self.pushed = pushed  # a push result ("accepted" / "rejected") for metrics
        self.mirror = mirror  # wakes the mirror worker after a push changed a project
        self.max_body = (limits or PushLimits()).max_pack_bytes + SPOOL_MARGIN

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        target = environ.get("asgi.scope", {}).get(SCOPE_KEY)
        if not isinstance(target, GitTarget):
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"unauthenticated git request\n"]
        environ.pop("HTTP_TRANSFER_ENCODING", None)  # uvicorn de-chunked the body
        body_path = (
            self._spool(environ) if environ.get("REQUEST_METHOD") == "POST" else None
        )
        try:
            worker = self.pool.acquire()
        except DakoraError as exc:
            _remove(body_path)
            return _plain(start_response, "503 Service Unavailable", exc.message)
        try:
            worker.conn.send((_picklable(environ), target, body_path))
            first = worker.conn.recv()
        except (EOFError, OSError):
            self.pool.release(worker, False)
            _remove(body_path)
            return _plain(start_response, "503 Service Unavailable", DIED)
        if first[0] != "start":
            _remove(body_path)
            if not self._finish(worker, first):
                self.pool.release(worker, False)
            message = first[1] if first[0] == "failed" else DIED
            return _plain(start_response, "500 Internal Server Error", message)
        start_response(first[1], first[2])
        return self._relay(worker, body_path)

    def _spool(self, environ: dict[str, Any]) -> str:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        fd, path = tempfile.mkstemp(prefix="git-body-", dir=self.spool_dir)
        stream = environ["wsgi.input"]
        kept = 0
        with os.fdopen(fd, "wb") as out:
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    break
                if kept < self.max_body:
                    out.write(chunk[: self.max_body - kept])
                    kept += len(chunk)
        return path

    def _relay(self, worker: _GitWorker, body_path: str | None) -> Iterator[bytes]:
        healthy = False
        try:
            while True:
                message = worker.conn.recv()
                if message[0] == "data":
                    yield message[1]
                    continue
                healthy = self._finish(worker, message)
                return
        except GeneratorExit:
            # the client went away: let the worker finish (a push it is applying
            # completes or rolls back by itself), then reuse it
            healthy = self._drain(worker)
            raise
        except (EOFError, OSError):
            log.warning("a git worker died while serving a request")
        finally:
            if not healthy:
                self.pool.release(worker, False)
            _remove(body_path)

    def _drain(self, worker: _GitWorker) -> bool:
        try:
            while True:
                message = worker.conn.recv()
                if message[0] != "data":
                    return self._finish(worker, message)
        except (EOFError, OSError):
            return False

    def _finish(self, worker: _GitWorker, message: tuple[Any, ...]) -> bool:
        """Handle the worker's last message; True when the worker is released."""
        if message[0] == "failed":
            message = worker.conn.recv()  # its "done" follows
        if message[0] != "done":
            return False
        for project_id in message[1]:
            self.changed(project_id)
        if message[1] and self.mirror is not None:
            self.mirror()  # the push's outbox row is committed: mirror it now
        if self.pushed is not None:
            for result in message[2] if len(message) > 2 else ():
                self.pushed(result)
        self.pool.release(worker, True)
        return True


def _plain(start_response: Any, status: str, message: str) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
    return [f"{message}\n".encode()]


def _remove(path: str | None) -> None:
    if path is not None:
        with contextlib.suppress(OSError):
            os.unlink(path)
