"""Worker processes of the server: one fork server, and a pool of long-lived workers.

Two kinds of work leave the server process, each for the same reason: pure-Python CPU
work in a thread holds the GIL the event loop needs, so a few of them slow every
other request (docs/design.md §15). Renders go to ``render_pool`` workers, git
requests (push checks, pack indexing, pack generation) to ``git_workers``.

``fork_context()`` is the one fork server both use, started on first use with both
worker modules preloaded (so a worker, or a replacement for one that died, starts in
milliseconds). ``ProcessPool`` hands out idle workers, starts new ones up to its size,
waits for a free one otherwise (``busy()`` says what to raise after ``timeout_s``),
and replaces a worker released as unhealthy.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Generic, TypeVar

PRELOAD = [
    "dakora.api.render_pool",
    "dakora.api.git_workers",
    "dakora.api.mirror_process",
]

_CONTEXT: Any = None
_CONTEXT_LOCK = threading.Lock()


def fork_context() -> Any:
    """The fork server of this process, with the worker modules preloaded."""
    global _CONTEXT
    with _CONTEXT_LOCK:
        if _CONTEXT is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(PRELOAD)
            _CONTEXT = ctx
        return _CONTEXT


PR_SET_PDEATHSIG = 1  # prctl(2)


def _die_with_parent() -> None:
    """Linux: SIGKILL this worker when the fork server (its parent) exits, which it
    does when the server process dies. A server killed mid-push must not leave a
    worker applying that push while a restarted server repairs the repository."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(
                PR_SET_PDEATHSIG, int(signal.SIGKILL)
            )


BACKGROUND_NICE = 15


def lower_priority() -> None:
    """Put this worker process ``BACKGROUND_NICE`` steps below the server: for work
    whose latency nobody waits on request by request — a push's checks and indexing,
    the mirror's uploads — so under contention the event loop, which serves every
    read, gets the CPU first (docs/design.md §15). ``nice``, not Linux's idle
    scheduling class: these processes hold the project lock while they move refs and
    commit the index, and reads and API writes may wait for that lock; an idle-class
    holder can be starved for as long as normal-priority work keeps the CPUs busy
    (priority inversion), a nice one keeps a share."""
    with contextlib.suppress(OSError):
        os.nice(BACKGROUND_NICE)


def _run(target: Callable[..., None], *args: Any) -> None:
    _die_with_parent()
    target(*args)


class Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, target: Callable[..., None], args: tuple[Any, ...], name: str):
        ctx = fork_context()
        parent, child = ctx.Pipe(duplex=True)
        self.conn: Connection = parent
        self.process = ctx.Process(
            target=_run, args=(target, child, *args), name=name, daemon=True
        )
        self.process.start()
        child.close()

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
        with contextlib.suppress(Exception):
            self.process.join(5)
        with contextlib.suppress(Exception):
            self.conn.close()


W = TypeVar("W", bound=Worker)


class ProcessPool(Generic[W]):
    """Up to ``size`` workers made by ``start``. Thread-safe."""

    def __init__(
        self,
        size: int,
        start: Callable[[], W],
        *,
        closed: Callable[[], Exception],
        busy: Callable[[], Exception],
        timeout_s: float,
    ) -> None:
        self.size = size
        self._start = start
        self._closed_error = closed
        self._busy_error = busy
        self._timeout_s = timeout_s
        self._idle: queue.SimpleQueue[W] = queue.SimpleQueue()
        self._all: set[W] = set()
        self._lock = threading.Lock()
        self._closed = False
        self.kills = 0  # workers released as unhealthy (killed, replaced on demand)

    def acquire(self) -> W:
        """An idle live worker, a new one while there are fewer than ``size``, or
        the first to come free within ``timeout_s`` (then ``busy()`` is raised)."""
        worker = self.try_acquire()
        if worker is not None:
            return worker
        try:
            worker = self._idle.get(timeout=self._timeout_s)
        except queue.Empty:
            raise self._busy_error() from None
        if worker.process.is_alive():
            return worker
        self.release(worker, False)
        return self.acquire()

    def try_acquire(self) -> W | None:
        """:meth:`acquire` without waiting: None when every worker is busy."""
        while True:  # an idle worker that died meanwhile (OOM, a signal) is replaced
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                break
            if worker.process.is_alive():
                return worker
            self.release(worker, False)
        with self._lock:
            if self._closed:
                raise self._closed_error()
            if len(self._all) < self.size:
                worker = self._start()
                self._all.add(worker)
                return worker
        return None

    def busy(self) -> Exception:
        """What to raise when no worker came free in time."""
        return self._busy_error()

    def release(self, worker: W, healthy: bool) -> None:
        if healthy and not self._closed:
            self._idle.put(worker)
            return
        worker.kill()
        with self._lock:
            self._all.discard(worker)
            self.kills += 0 if self._closed else 1

    def warm(self, name: str, log: Any) -> threading.Thread:
        """Start every worker in the background (the fork server's first start
        imports the worker modules: seconds on a busy machine)."""

        def start() -> None:
            try:
                started = [self.acquire() for _ in range(self.size)]
            except Exception:  # the first request retries and reports it
                log.warning("%s workers did not start", name, exc_info=True)
                return
            for worker in started:
                self.release(worker, True)

        thread = threading.Thread(target=start, name=f"{name}-warm", daemon=True)
        thread.start()
        return thread

    @property
    def workers(self) -> int:
        with self._lock:
            return len(self._all)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            worker.kill()
