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
queue. Workers (``api/render_worker.py``) start on first use, from the server's fork server
(``api/process_pool.py``), so a replacement starts in milliseconds.
"""

from __future__ import annotations

import asyncio
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
        # coroutines waiting for a worker (render_async), first come first served
        self._waiters: deque[
            tuple[asyncio.AbstractEventLoop, asyncio.Future[RenderWorker]]
        ] = deque()

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
        worker = self._pool.acquire()
        deadline = time.monotonic() + self.kill_after_s
        healthy = False
        try:
            with self._worker_failures(prompt.id):
                reply = worker.call((key, inputs, None), deadline)
                if reply[0] == "miss":
                    payload = self._payload(key, prompt, parts)
                    reply = worker.call((key, inputs, payload), deadline)
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
        """:meth:`render` for a coroutine: it waits for a free worker on the event
        loop and drives the worker from it (the same job, budget and kill on
        overrun); only a payload the pool has not prepared yet (template analysis:
        CPU) is prepared in a thread."""
        key = _job_key(prompt, parts, cache_key)
        worker = await self._acquire_async()
        deadline = time.monotonic() + self.kill_after_s
        healthy = False
        try:
            with self._worker_failures(prompt.id):
                reply = await worker.call_async((key, inputs, None), deadline)
                if reply[0] == "miss":
                    with self._lock:
                        payload = self._payloads.get(key)
                    if payload is None:
                        payload = await _in_thread(self._payload, key, prompt, parts)
                    reply = await worker.call_async((key, inputs, payload), deadline)
            healthy = True
        finally:
            if healthy:
                self._release(worker, True)
            else:  # killing joins the process: not on the event loop
                worker.detach()
                threading.Thread(
                    target=self._release, args=(worker, False), daemon=True
                ).start()
        return _result(reply, inputs)

    # -- waiting for a worker on the event loop

    async def _acquire_async(self) -> RenderWorker:
        """An idle or new worker, else the next one released (coroutines waiting
        here are served before threads waiting in ``ProcessPool.acquire``)."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[RenderWorker] = loop.create_future()
        with self._lock:  # with _release's hand-over under it: no lost wake-up
            worker = self._pool.try_acquire()
            if worker is not None:
                return worker
            self._waiters.append((loop, waiter))
        try:
            async with asyncio.timeout(ACQUIRE_TIMEOUT_S):
                return await waiter
        except (TimeoutError, asyncio.CancelledError) as exc:
            with self._lock, contextlib.suppress(ValueError):
                self._waiters.remove((loop, waiter))
            if waiter.done() and not waiter.cancelled():
                self._release(waiter.result(), True)  # handed over meanwhile
            if isinstance(exc, TimeoutError):
                raise self._pool.busy() from None
            raise

    def _release(self, worker: RenderWorker, healthy: bool) -> None:
        """Give a worker back: to a coroutine waiting for one first, else to the
        pool. A dead one is replaced for a waiting coroutine, which would otherwise
        wait for a worker that never comes back."""
        if not healthy:
            self._pool.release(worker, False)
            if not self._waiters:
                return
            try:
                replacement = self._pool.try_acquire()
            except DakoraError:  # closed
                return
            if replacement is None:
                return
            worker = replacement
        while True:
            with self._lock:
                if not self._waiters:
                    self._pool.release(worker, True)
                    return
                waiter = self._waiters.popleft()
            loop, future = waiter
            if on_loop(loop):
                if not future.done():
                    future.set_result(worker)
                    return
                continue  # it gave up: the next one
            try:
                loop.call_soon_threadsafe(self._deliver, future, worker)
                return
            except RuntimeError:  # that loop is closed
                continue

    def _deliver(
        self, future: asyncio.Future[RenderWorker], worker: RenderWorker
    ) -> None:
        if future.done():
            self._release(worker, True)  # it gave up meanwhile
        else:
            future.set_result(worker)

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
            waiters = list(self._waiters)
            self._waiters.clear()
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # that loop is closed
                loop.call_soon_threadsafe(_fail, future)
        self._pool.close()


def _fail(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(RenderError("the server is shutting down"))


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
