"""The render pool's pipeline: renders driven from the event loop, several per worker.

``RenderPool.render_async`` (the render route and the fast path, docs/design.md §7)
is this pipeline: on the event loop, with no thread and no task per render. A render
is a frame appended to a worker's outgoing buffer (written once per loop iteration
for every render queued in it) and a future; the worker's pipe stays registered
with the loop, and each reply completes the oldest future of that worker. A render
goes to an idle worker, else to a new one while the pool has fewer than its size,
else behind the renders of the worker with the shortest queue (at most
``PIPELINE_DEPTH``, and never behind a render running longer than ``STUCK_S``), else
it waits in the backlog for the next reply (``ACQUIRE_TIMEOUT_S`` at most: 422
``workers_busy``). The worker renders in order and replies to each as soon as it is
done, so the render at the head of a queue began when the reply before it arrived
(or when it was sent): its kill deadline is that plus ``kill_after_s``. A worker
past it is killed (422 ``render_limit`` ``timeout_ms`` for the render at its head)
and the renders queued behind it go to other workers, as if just sent: they never
began. A worker that dies is the same with ``"limit": "memory"``. A worker idle for
``IDLE_RELEASE_S`` goes back to the process pool.

:class:`Pipeline` is the part of ``RenderPool`` (``api/render_pool.py``) that does it;
the pool's ``_pool`` (the process pool), ``_lock``, ``size`` and ``kill_after_s`` are
its inputs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections import deque
from typing import Any

from dakora.api.process_pool import ProcessPool
from dakora.api.render_worker import Died, Overrun, RenderWorker, frame, on_loop
from dakora.registry.core import DakoraError, RenderError

ACQUIRE_TIMEOUT_S = 30.0  # waiting for a free worker
PIPELINE_DEPTH = 8  # renders sent to one worker ahead of its replies
STUCK_S = 0.05  # a worker whose current render runs longer gets no more
IDLE_RELEASE_S = 1.0  # a worker idle that long goes back to the process pool


class Job:
    """One render on the pipeline: its request frame and the future of its reply."""

    __slots__ = ("frame", "future", "timer")

    def __init__(self, data: bytes, future: asyncio.Future[tuple[Any, ...]]) -> None:
        self.frame = data
        self.future = future
        self.timer: asyncio.TimerHandle | None = None  # while in the backlog


class Pipeline:
    """Renders on one event loop's pipeline (see the module docstring)."""

    _pool: ProcessPool[RenderWorker]
    _lock: threading.Lock
    size: int
    kill_after_s: float

    def _init_pipeline(self) -> None:
        # the loop that drives it and, touched on that loop only, the workers it
        # holds, the renders no worker could take yet, the workers with frames to
        # write this iteration
        self._loop: asyncio.AbstractEventLoop | None = None
        self._held: list[RenderWorker] = []
        self._backlog: deque[Job] = deque()
        self._to_write: list[RenderWorker] = []
        self._wanted = False  # (under _lock) the loop waits for a released worker

    def _adopt(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Make ``loop`` the pipeline's unless another running loop drives it (its
        workers go back to the process pool, or are killed when replies of that
        loop's renders may still be on their way)."""
        with self._lock:
            current = self._loop
            if (
                current is not None
                and current is not loop
                and current.is_running()
                and not current.is_closed()
            ):
                return False
            self._loop = loop
            old, self._held = self._held, []
            backlog, self._backlog = self._backlog, deque()
            self._to_write = []
            self._wanted = False
        for job in backlog:  # nobody waits for these on a stopped loop
            with contextlib.suppress(Exception):
                job.future.cancel()
        for worker in old:
            clean = not worker.inflight and not worker.out
            worker.inflight.clear()
            worker.out.clear()
            worker.timer = None
            if clean and current is not None and current.is_closed():
                worker.detach()  # a closed loop: nothing registered any more
                self._pool.release(worker, True)
            else:
                worker.loop = None
                self._in_thread_release(worker)
        return True

    def _submit(
        self, loop: asyncio.AbstractEventLoop, message: tuple[Any, ...]
    ) -> asyncio.Future[tuple[Any, ...]]:
        job = Job(frame(message), loop.create_future())
        self._dispatch(job, loop)
        return job.future

    def _dispatch(self, job: Job, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        best: RenderWorker | None = None
        for worker in self._held:
            queued = len(worker.inflight)
            if not queued:
                best = worker
                break
            if (
                queued < PIPELINE_DEPTH
                and now - worker.head_since < STUCK_S
                and (best is None or queued < len(best.inflight))
            ):
                best = worker
        if (best is None or best.inflight) and len(self._held) < self.size:
            try:
                with self._lock:
                    new = self._pool.try_acquire()
                    if new is None and best is None:
                        self._wanted = True
            except DakoraError as exc:  # closed
                job.future.set_exception(exc)
                return
            if new is not None:
                self._hold(new, loop)
                best = new
        elif best is None:
            with self._lock:
                self._wanted = True  # a worker another loop or thread gives back
        if best is None:
            self._backlog.append(job)
            job.timer = loop.call_later(ACQUIRE_TIMEOUT_S, self._expire, job)
            return
        self._send(best, job, now, loop)

    def _send(
        self,
        worker: RenderWorker,
        job: Job,
        now: float,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        if not worker.inflight:
            worker.head_since = now
        worker.inflight.append(job)
        if not worker.out:
            if not self._to_write:
                loop.call_soon(self._write_all)
            self._to_write.append(worker)
        worker.out += job.frame

    def _write_all(self) -> None:
        workers, self._to_write = self._to_write, []
        for worker in workers:
            self._write(worker)

    def _write(self, worker: RenderWorker) -> None:
        loop = worker.loop
        if not worker.out or loop is None:
            return
        try:
            written = os.write(worker.fd, worker.out)
        except BlockingIOError:
            written = 0
        except OSError:
            self._lost(worker, Died())
            return
        del worker.out[:written]
        if worker.out:  # the pipe is full: the rest when it drains
            if not worker.writing:
                loop.add_writer(worker.fd, self._write, worker)
                worker.writing = True
        elif worker.writing:
            loop.remove_writer(worker.fd)
            worker.writing = False

    def _readable(self, worker: RenderWorker) -> None:
        replies = worker.read_replies()
        if replies is None or len(replies) > len(worker.inflight):
            self._lost(worker, Died())
            return
        if not replies:
            return
        inflight = worker.inflight
        for reply in replies:
            future = inflight.popleft().future
            if not future.done():
                future.set_result(reply)
        loop = worker.loop
        assert loop is not None
        now = loop.time()
        if inflight:
            worker.head_since = now
        else:
            worker.idle_since = now
        backlog = self._backlog
        while backlog and len(inflight) < PIPELINE_DEPTH:
            job = backlog.popleft()
            if job.timer is not None:
                job.timer.cancel()
            if not job.future.done():
                self._send(worker, job, now, loop)

    def _hold(self, worker: RenderWorker, loop: asyncio.AbstractEventLoop) -> None:
        worker.attach(loop, self._readable, worker)
        worker.inflight.clear()
        worker.out.clear()
        worker.writing = False
        worker.idle_since = loop.time()
        self._held.append(worker)
        worker.timer = loop.call_at(
            worker.idle_since + IDLE_RELEASE_S, self._tick, worker
        )

    def _tick(self, worker: RenderWorker) -> None:
        """A held worker's one timer: the kill deadline of the render at its head,
        or the end of its idle time."""
        worker.timer = None
        loop = worker.loop
        if loop is None or worker not in self._held:
            return
        if worker.inflight and loop.time() >= worker.head_since + self.kill_after_s:
            self._readable(worker)  # a reply that came in with the deadline
            if worker not in self._held:
                return
            if worker.inflight and loop.time() >= worker.head_since + self.kill_after_s:
                self._lost(worker, Overrun())
                return
        if worker.inflight:
            due = worker.head_since + self.kill_after_s
        else:
            due = worker.idle_since + IDLE_RELEASE_S
            if loop.time() >= due:
                self._held.remove(worker)
                worker.detach()
                self._release(worker, True)
                return
        worker.timer = loop.call_at(due, self._tick, worker)

    def _lost(self, worker: RenderWorker, failure: Exception) -> None:
        """A worker that overran or died: the render at its head fails with
        ``failure``, the ones behind it go to other workers."""
        loop = worker.loop
        with contextlib.suppress(ValueError):
            self._held.remove(worker)
        if worker.timer is not None:
            worker.timer.cancel()
            worker.timer = None
        worker.detach()
        jobs = list(worker.inflight)
        worker.inflight.clear()
        worker.out.clear()
        self._in_thread_release(worker)
        if not jobs:
            return
        head = jobs[0].future
        if not head.done():
            head.set_exception(failure)
        if loop is None:
            return
        for job in jobs[1:]:
            if not job.future.done():
                self._dispatch(job, loop)

    def _in_thread_release(self, worker: RenderWorker) -> None:
        """Kill and replace a worker: killing joins the process, not on the loop."""
        threading.Thread(
            target=self._release, args=(worker, False), daemon=True
        ).start()

    def _expire(self, job: Job) -> None:
        with contextlib.suppress(ValueError):
            self._backlog.remove(job)
        if not job.future.done():
            job.future.set_exception(self._pool.busy())

    def _take(self, worker: RenderWorker) -> None:
        """(On the loop.) A worker handed over by :meth:`_release`."""
        loop = self._loop
        if loop is None or not on_loop(loop):
            self._release(worker, True)
            return
        self._hold(worker, loop)
        now = loop.time()
        backlog = self._backlog
        while backlog and len(worker.inflight) < PIPELINE_DEPTH:
            job = backlog.popleft()
            if job.timer is not None:
                job.timer.cancel()
            if not job.future.done():
                self._send(worker, job, now, loop)

    def _release(self, worker: RenderWorker, healthy: bool) -> None:
        """Give a worker back (any thread): to the pipeline when its loop waits for
        one, else to the process pool. A dead one is killed, and replaced for a
        waiting pipeline, which would otherwise wait for a worker that never comes
        back."""
        if not healthy:
            self._pool.release(worker, False)
        with self._lock:
            loop = self._loop
            if not self._wanted or loop is None or loop.is_closed():
                if healthy:
                    self._pool.release(worker, True)
                return
            if not healthy:
                try:
                    replacement = self._pool.try_acquire()
                except DakoraError:  # closed
                    return
                if replacement is None:
                    return
                worker = replacement
            self._wanted = False
        try:
            loop.call_soon_threadsafe(self._take, worker)
        except RuntimeError:  # that loop is closed
            self._pool.release(worker, True)

    def _fail_all(self) -> None:
        """(On the loop, at close.) Every render waiting fails."""
        held, self._held = self._held, []
        backlog, self._backlog = self._backlog, deque()
        jobs = list(backlog)
        for worker in held:
            if worker.timer is not None:
                worker.timer.cancel()
                worker.timer = None
            worker.detach()
            jobs.extend(worker.inflight)
            worker.inflight.clear()
        for job in jobs:
            if job.timer is not None:
                job.timer.cancel()
            if not job.future.done():
                job.future.set_exception(RenderError("the server is shutting down"))
