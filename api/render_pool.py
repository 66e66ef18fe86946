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

The cost is one round trip through a pipe per render (a few tens of µs warm): the
worker keeps the prompt and its parts by cache key and compiles once, so a warm
request sends only the key and the inputs; on a miss the parent sends the prompt and
the parts it includes (found by static analysis — includes must be literal).

``RenderPool.render`` has ``Renderer.render``'s signature, so the review (compare
route) uses it like the in-process renderer; it blocks the calling thread (FastAPI
runs that route in its thread pool). ``RenderPool.render_async`` is the same render
for a coroutine (the render route and the fast path, docs/design.md §7): it waits for
a free worker on the event loop and drives the worker from it — the pipe stays
registered with the loop (``add_reader``), so a render costs the loop one write and
one read, no thread hop. Threads and coroutines wait for workers in one first-come
queue. Workers (``api/render_worker.py``) start on first use, from a fork server with
that module preloaded, so a replacement starts in milliseconds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
import logging
import multiprocessing
import os
import threading
import time
from collections import OrderedDict, deque
from typing import Any

from dakora.api.render_worker import Died, Overrun, ShippedParts, Waiter, Worker
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


# -- the server side ------------------------------------------------------------------


_CONTEXT: Any = None
_CONTEXT_LOCK = threading.Lock()


def _context() -> Any:
    """A fork server with the worker module (and so Jinja and the renderer) preloaded."""
    global _CONTEXT
    with _CONTEXT_LOCK:
        if _CONTEXT is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["dakora.api.render_worker"])
            _CONTEXT = ctx
        return _CONTEXT


def default_workers() -> int:
    return max(2, os.cpu_count() or 1)


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
        self._idle: deque[Worker] = deque()
        # who waits for a worker, first come first served: threads (render) and
        # coroutines (render_async) in one queue (Waiter)
        self._waiters: deque[Waiter] = deque()
        self._all: set[Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._payloads: OrderedDict[str, tuple[Prompt, ShippedParts]] = OrderedDict()
        self.kills = 0  # workers killed for overrunning the budget (or dying)

    # -- Renderer's interface

    def render(
        self,
        prompt: Prompt,
        inputs: dict[str, Any],
        parts: PartsSource,
        *,
        cache_key: str | None = None,
    ) -> RenderResult:
        key = _job_key(prompt, parts, cache_key)
        worker = self._acquire()
        deadline = time.monotonic() + self.kill_after_s
        healthy = False
        try:
            reply = worker.call((key, inputs, None), deadline)
            if reply[0] == "miss":
                payload = self._payload(key, prompt, parts)
                reply = worker.call((key, inputs, payload), deadline)
            healthy = True
        except Overrun:
            log.warning(
                "render of %s overran %d ms: worker killed", prompt.id, self.timeout_ms
            )
            raise timeout_error(self.timeout_ms) from None
        except Died:
            log.warning("render worker died rendering %s", prompt.id)
            raise memory_error() from None
        finally:
            self._release(worker, healthy)
        return _result(reply, inputs)

    async def render_async(
        self,
        prompt: Prompt,
        inputs: dict[str, Any],
        parts: PartsSource,
        *,
        cache_key: str | None = None,
    ) -> RenderResult:
        """:meth:`render` without a thread: an idle worker is driven from the event
        loop (the same job, budget and kill on overrun); with none idle, or when the
        worker needs the prompt shipped and the pool has not prepared it yet (template
        analysis: CPU), the blocking :meth:`render` runs in a thread instead."""
        key = _job_key(prompt, parts, cache_key)
        worker = await self._acquire_async()
        deadline = time.monotonic() + self.kill_after_s
        healthy = False
        try:
            reply = await worker.call_async((key, inputs, None), deadline)
            if reply[0] == "miss":
                with self._lock:
                    payload = self._payloads.get(key)
                if payload is None:
                    payload = await _in_thread(self._payload, key, prompt, parts)
                reply = await worker.call_async((key, inputs, payload), deadline)
            healthy = True
        except Overrun:
            log.warning(
                "render of %s overran %d ms: worker killed", prompt.id, self.timeout_ms
            )
            raise timeout_error(self.timeout_ms) from None
        except Died:
            log.warning("render worker died rendering %s", prompt.id)
            raise memory_error() from None
        finally:
            if healthy:
                self._release(worker, True)
            else:  # killing joins the process: not on the event loop
                worker.detach()
                threading.Thread(
                    target=self._release, args=(worker, False), daemon=True
                ).start()
        return _result(reply, inputs)

    # -- workers

    def warm(self) -> threading.Thread:
        """Start the workers in the background (the first start of the fork server
        imports the renderer: seconds on a busy machine), so the first render does
        not wait for it."""

        def start() -> None:
            try:
                started = [self._acquire() for _ in range(self.size)]
            except Exception:  # the first render retries and reports it
                log.warning("render workers did not start", exc_info=True)
                return
            for worker in started:
                self._release(worker, True)

        thread = threading.Thread(target=start, name="dakora-render-warm", daemon=True)
        thread.start()
        return thread

    def _acquire(self) -> Worker:
        """An idle worker, a new one (up to ``size``), or the next one released."""
        with self._lock:
            worker = self._idle_or_new()
            if worker is not None:
                return worker
            waiter = Waiter(None, concurrent.futures.Future())
            self._waiters.append(waiter)
        try:
            return waiter.future.result(timeout=ACQUIRE_TIMEOUT_S)  # type: ignore[no-any-return]
        except concurrent.futures.TimeoutError:
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                    raise self._busy() from None
            return waiter.future.result()  # type: ignore[no-any-return]  # handed over meanwhile

    async def _acquire_async(self) -> Worker:
        """:meth:`_acquire` for a coroutine: waits on the event loop, not a thread."""
        with self._lock:
            worker = self._idle.pop() if self._idle else None
            if worker is None:
                if self._closed:
                    raise RenderError("the server is shutting down")
                starting = len(self._all) < self.size
                if not starting:
                    loop = asyncio.get_running_loop()
                    waiter = Waiter(loop, loop.create_future())
                    self._waiters.append(waiter)
        if worker is not None:
            return worker
        if starting:  # starting a process takes milliseconds: not on the loop
            return await _in_thread(self._acquire)  # type: ignore[no-any-return]
        try:
            async with asyncio.timeout(ACQUIRE_TIMEOUT_S):
                return await waiter.future  # type: ignore[no-any-return]
        except (TimeoutError, asyncio.CancelledError) as exc:
            with self._lock:
                queued = waiter in self._waiters
                if queued:
                    self._waiters.remove(waiter)
            if not queued and waiter.future.done() and not waiter.future.cancelled():
                self._hand_off(waiter.future.result())  # handed over meanwhile
            if isinstance(exc, TimeoutError):
                raise self._busy() from None
            raise

    def _idle_or_new(self) -> Worker | None:
        """(Under the lock.) An idle worker, or a new one while there are fewer than
        ``size``; None when every worker is busy."""
        if self._idle:
            return self._idle.pop()
        if self._closed:
            raise RenderError("the server is shutting down")
        if len(self._all) < self.size:
            worker = Worker(_context(), self.timeout_ms)
            self._all.add(worker)
            return worker
        return None

    def _busy(self) -> RenderLimitError:
        return RenderLimitError(
            f"all {self.size} render workers stayed busy for "
            f"{ACQUIRE_TIMEOUT_S:.0f} s; try again",
            limit="workers_busy",
            max=self.size,
        )

    def _hand_off(self, worker: Worker) -> None:
        """Give a free worker to the first waiter, else keep it idle."""
        while True:
            with self._lock:
                if self._closed:
                    break
                if not self._waiters:
                    self._idle.append(worker)
                    return
                waiter = self._waiters.popleft()
            if waiter.give(worker, self._hand_off):
                return
        worker.kill()  # closed meanwhile

    def _release(self, worker: Worker, healthy: bool) -> None:
        if healthy and not self._closed:
            self._hand_off(worker)
            return
        worker.kill()
        with self._lock:
            self._all.discard(worker)
            self.kills += 0 if self._closed else 1
            waiting = bool(self._waiters) and not self._closed
            replacement = self._idle_or_new() if waiting else None
        if replacement is not None:  # someone waits: do not leave them to time out
            self._hand_off(replacement)

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
        with self._lock:
            return len(self._all)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
            self._idle.clear()
            waiters = list(self._waiters)
            self._waiters.clear()
        for waiter in waiters:
            waiter.fail(RenderError("the server is shutting down"))
        for worker in workers:
            worker.kill()


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
