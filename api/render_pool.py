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
runs renders through the pipeline of ``api/render_pipeline.py``: on the event loop,
several renders queued per worker, the kill deadline of the render at the head of
each queue.

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
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from dakora.api.process_pool import ProcessPool
from dakora.api.render_pipeline import ACQUIRE_TIMEOUT_S, Pipeline
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


def default_workers() -> int:
    return max(2, os.cpu_count() or 1)


class RenderPool(Pipeline):
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
        self._init_pipeline()

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
