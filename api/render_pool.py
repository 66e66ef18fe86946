"""The server's renders run in worker processes, never on the event loop.

Why processes, not threads (issue 10 finding 1): a thread cannot be interrupted in
the middle of one long C-level operation, and while it computes it holds the GIL the
event loop needs — four hostile renders in threads are four threads the loop must
win the GIL from before it can answer ``/api/health``. A worker process shares no
GIL with the server, and one that overruns the time budget is killed and replaced
(the hard stop behind the sandbox's cooperative checks and size bounds). Each worker
also runs with a ceiling on its address space (``WORKER_MEMORY_MIB`` above what it
maps at start), so a value the size bounds missed is a ``MemoryError`` in that worker
(422 ``render_limit``, ``"limit": "memory"``), not the server swapping. Workers run
at a lower CPU priority than the server process.

The worker keeps the prompt and its parts by cache key (blob sha, parts key, prompt
id) and compiles once, so a warm request sends only the key and the inputs; on a
miss the parent sends the prompt and the parts it includes (found by static
analysis — includes must be literal).

``RenderPool.render_async`` (the render route and the fast path, docs/design.md §7)
is the pipeline: on the event loop, with no thread and no task per render. A render
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

``RenderPool.render`` has ``Renderer.render``'s signature, so the review (compare
route) uses it like the in-process renderer; it blocks the calling thread (FastAPI
runs that route in its thread pool). While the pipeline's loop runs, it hands the
render to it (one first-come queue for threads and coroutines); without one it
takes a worker of its own from the process pool. Workers (``api/render_worker.py``)
start on first use, from the server's fork server (``api/process_pool.py``), so a
replacement starts in milliseconds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterator
from typing import Any

from dakora.api.process_pool import ProcessPool
from dakora.api.render_worker import (
    Died,
    Overrun,
    RenderWorker,
    ShippedParts,
    frame,
    on_loop,
)
from dakora.registry.core import (
    DakoraError,
    Prompt,
    RenderError,
    RenderLimitError,
)
from dakora.registry.git import PartsSource
from dakora.registry.render import (
    RenderResult,
    analyze_template,
    memory_error,
    timeout_error,
)

log = logging.getLogger("dakora.api")

KILL_GRACE_S = 0.5  # past the budget (+25%) before a worker is killed
ACQUIRE_TIMEOUT_S = 30.0  # waiting for a free worker
PIPELINE_DEPTH = 8  # renders sent to one worker ahead of its replies
STUCK_S = 0.05  # a worker whose current render runs longer gets no more
IDLE_RELEASE_S = 1.0  # a worker idle that long goes back to the process pool


def default_workers() -> int:
    return max(2, os.cpu_count() or 1)


class Job:
    """One render on the pipeline: its request frame and the future of its reply."""

    __slots__ = ("frame", "future", "timer")

    def __init__(self, data: bytes, future: asyncio.Future[tuple[Any, ...]]) -> None:
        self.frame = data
        self.future = future
        self.timer: asyncio.TimerHandle | None = None  # while in the backlog


class RenderPool:
    """Renders in worker processes (see the module docstring). Thread-safe."""

    def __init__(
        self, timeout_ms: int, workers: int = 0, *, kill_after_s: float | None = None
    ) -> None:
        self.timeout_ms = timeout_ms
        # wall time after which a render's worker is killed: past the budget, since
        # the sandbox's own checks end a render cleanly at the budget
        self.kill_after_s = (
            kill_after_s
            if kill_after_s is not None
            else timeout_ms / 1000 * 1.25 + KILL_GRACE_S
        )
        self.size = workers or default_workers()
        self._pool: ProcessPool[RenderWorker] = ProcessPool(
            self.size,
            lambda: RenderWorker(timeout_ms),
            closed=lambda: RenderError("the server is shutting down"),
            busy=lambda: RenderLimitError(
                f"all {self.size} render workers stayed busy for "
                f"{ACQUIRE_TIMEOUT_S:.0f} s; try again",
                limit="workers_busy",
                max=self.size,
            ),
            timeout_s=ACQUIRE_TIMEOUT_S,
        )
        self._lock = threading.Lock()
        self._payloads: OrderedDict[str, tuple[Prompt, ShippedParts]] = OrderedDict()
        # the pipeline: the loop that drives it and, touched on that loop only, the
        # workers it holds, the renders no worker could take yet, the workers with
        # frames to write this iteration
        self._loop: asyncio.AbstractEventLoop | None = None
        self._held: list[RenderWorker] = []
        self._backlog: deque[Job] = deque()
        self._to_write: list[RenderWorker] = []
        self._wanted = False  # (under _lock) the loop waits for a released worker

    # -- Renderer's interface

    def render(
        self,
        prompt: Prompt,
        inputs: dict[str, Any],
        parts: PartsSource,
        *,
        cache_key: str | None = None,
    ) -> RenderResult:
        loop = self._loop
        if loop is not None and loop.is_running() and not on_loop(loop):
            future = asyncio.run_coroutine_threadsafe(
                self.render_async(prompt, inputs, parts, cache_key=cache_key), loop
            )
            try:
                return future.result(ACQUIRE_TIMEOUT_S + 2 * self.kill_after_s + 5)
            except concurrent.futures.TimeoutError:
                future.cancel()
                raise self._pool.busy() from None
        key = _job_key(prompt, parts, cache_key)
        worker = self._pool.acquire()
        deadline = time.monotonic() + self.kill_after_s
        healthy = False
        try:
            with self._worker_failures(prompt.id):
                reply = worker.call((key, inputs, None, False), deadline)
                if reply[0] == "miss":
                    payload = self._payload(key, prompt, parts)
                    reply = worker.call((key, inputs, payload, False), deadline)
            healthy = True
        finally:
            self._release(worker, healthy)
        return _result(reply, inputs)

    @contextlib.contextmanager
    def _worker_failures(self, prompt_id: str) -> Iterator[None]:
        """A worker that overran the budget or died, as the render error it means."""
        try:
            yield
        except Overrun:
            log.warning(
                "render of %s overran %d ms: worker killed", prompt_id, self.timeout_ms
            )
            raise timeout_error(self.timeout_ms) from None
        except Died:
            log.warning("render worker died rendering %s", prompt_id)
            raise memory_error() from None

    async def render_async(
        self,
        prompt: Prompt,
        inputs: dict[str, Any],
        parts: PartsSource,
        *,
        cache_key: str | None = None,
    ) -> RenderResult:
        """:meth:`render` for a coroutine, through the pipeline (the same job, budget
        and kill on overrun); only a payload the pool has not prepared yet (template
        analysis: CPU) is prepared in a thread."""
        reply = await self._call(prompt, inputs, parts, cache_key, False)
        return _result(reply, inputs)

    async def render_encoded(
        self,
        prompt: Prompt,
        inputs: dict[str, Any],
        parts: PartsSource,
        *,
        cache_key: str | None = None,
    ) -> bytes:
        """:meth:`render_async`, encoded by the worker: the result's part of the
        render response (``encode_result``, for ``RenderJob.body_of``)."""
        reply = await self._call(prompt, inputs, parts, cache_key, True)
        if reply[0] == "body":
            body: bytes = reply[1]
            return body
        _result(reply, inputs)  # raises the render's error
        raise RenderError("the render worker sent no body")

    async def _call(
        self,
        prompt: Prompt,
        inputs: dict[str, Any],
        parts: PartsSource,
        cache_key: str | None,
        encode: bool,
    ) -> tuple[Any, ...]:
        loop = asyncio.get_running_loop()
        if self._loop is not loop and not self._adopt(loop):
            other = self._loop
            assert other is not None
            return await asyncio.wrap_future(  # that loop drives the pipeline
                asyncio.run_coroutine_threadsafe(
                    self._call(prompt, inputs, parts, cache_key, encode), other
                )
            )
        key = _job_key(prompt, parts, cache_key)
        with self._worker_failures(prompt.id):
            reply = await self._submit(loop, (key, inputs, None, encode))
            if reply[0] == "miss":
                with self._lock:
                    payload = self._payloads.get(key)
                if payload is None:
                    payload = await _in_thread(self._payload, key, prompt, parts)
                reply = await self._submit(loop, (key, inputs, payload, encode))
        return reply

    # -- the pipeline (on its loop)

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

    # -- workers

    def warm(self) -> threading.Thread:
        """Start the workers in the background, so the first render does not wait
        for the fork server (handed back through :meth:`_release`, so a render that
        waits for one on the event loop gets it)."""

        def start() -> None:
            try:
                started = [self._pool.acquire() for _ in range(self.size)]
            except Exception:  # the first render retries and reports it
                log.warning("render workers did not start", exc_info=True)
                return
            for worker in started:
                self._release(worker, True)

        thread = threading.Thread(target=start, name="dakora-render-warm", daemon=True)
        thread.start()
        return thread

    @property
    def kills(self) -> int:
        """Workers killed for overrunning the budget (or dying)."""
        return self._pool.kills

    def _payload(
        self, key: str, prompt: Prompt, parts: PartsSource
    ) -> tuple[Prompt, ShippedParts]:
        with self._lock:
            found = self._payloads.get(key)
        if found is not None:
            return found
        names: dict[str, tuple[str, str]] = {}
        for _label, source in prompt.sources():
            try:
                info = analyze_template(source, parts)
            except DakoraError:
                continue  # the worker reports the error when it compiles
            for name in info.includes:
                got = parts.get_source(name)
                if got is not None:
                    names[name] = got
        payload = (prompt, ShippedParts(parts.key, names))
        with self._lock:
            self._payloads[key] = payload
            while len(self._payloads) > 1024:
                self._payloads.popitem(last=False)
        return payload

    @property
    def workers(self) -> int:
        return self._pool.workers

    def close(self) -> None:
        with self._lock:
            loop = self._loop
            self._wanted = False
        if loop is not None and not loop.is_closed():
            if on_loop(loop):
                self._fail_all()
            else:
                with contextlib.suppress(RuntimeError):  # that loop is closed
                    loop.call_soon_threadsafe(self._fail_all)
        self._pool.close()


async def _in_thread(func: Any, *args: Any, **kwargs: Any) -> Any:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(func, *args, **kwargs)


def _job_key(prompt: Prompt, parts: PartsSource, cache_key: str | None) -> str:
    if cache_key is None:
        sources = json.dumps(prompt.sources(), ensure_ascii=False)
        cache_key = "src:" + hashlib.sha256(sources.encode("utf-8")).hexdigest()
    return f"{cache_key}|{parts.key}|{prompt.id}"


_ERRORS: dict[str, type[RenderError]] = {
    "RenderError": RenderError,
    "RenderLimitError": RenderLimitError,
}


def _result(reply: tuple[Any, ...], inputs: dict[str, Any]) -> RenderResult:
    if reply[0] == "ok":
        _tag, kind, rendered, messages = reply
        return RenderResult(kind, rendered, messages, inputs)
    _tag, name, message, details = reply
    raise _ERRORS.get(name, RenderError)(message, **details)
