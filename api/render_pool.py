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
queue. Workers start on first use, from a fork server with this module preloaded, so
a replacement starts in milliseconds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import json
import logging
import multiprocessing
import os
import pickle
import resource
import struct
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from dakora.registry.core import (
    DakoraError,
    Prompt,
    RenderError,
    RenderLimitError,
)
from dakora.registry.git import PartsSource
from dakora.registry.render import (
    Renderer,
    RenderResult,
    analyze_template,
    memory_error,
    timeout_error,
)

log = logging.getLogger("dakora.api")

WORKER_MEMORY_MIB = 512  # address space a worker may add to what it maps at start
WORKER_NICE = 5
KILL_GRACE_S = 0.5  # past the budget (+25%) before a worker is killed
ACQUIRE_TIMEOUT_S = 30.0  # waiting for a free worker
WORKER_CACHE = 512  # prompts (with their parts) a worker keeps


# -- the worker side ------------------------------------------------------------------


@dataclass(frozen=True)
class ShippedParts:
    """A ``PartsSource`` of just the parts one prompt includes, sent to a worker."""

    key: str
    sources: dict[str, tuple[str, str]]

    def names(self) -> list[str]:
        return sorted(self.sources)

    def get_source(self, name: str) -> tuple[str, str] | None:
        return self.sources.get(name)


def _limit_memory() -> None:
    with open("/proc/self/statm") as f:
        mapped = int(f.read().split()[0]) * resource.getpagesize()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = mapped + WORKER_MEMORY_MIB * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft == resource.RLIM_INFINITY or soft > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def worker_main(conn: Connection, timeout_ms: int) -> None:
    """One worker: render what the parent sends until the pipe closes."""
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICE)
    _limit_memory()
    renderer = Renderer(timeout_ms=timeout_ms)
    prompts: OrderedDict[str, tuple[Prompt, ShippedParts]] = OrderedDict()
    while True:
        try:
            key, inputs, payload = conn.recv()
        except (EOFError, OSError):
            return
        if payload is not None:
            prompts[key] = payload
            while len(prompts) > WORKER_CACHE:
                prompts.popitem(last=False)
        entry = prompts.get(key)
        if entry is None:
            conn.send(("miss",))
            continue
        prompts.move_to_end(key)
        conn.send(_render_one(renderer, entry, inputs, key))


def _render_one(
    renderer: Renderer, entry: tuple[Prompt, ShippedParts], inputs: Any, key: str
) -> tuple[Any, ...]:
    prompt, parts = entry
    try:
        r = renderer.render(prompt, inputs, parts, cache_key=key)
    except DakoraError as exc:
        return ("error", type(exc).__name__, exc.message, exc.details)
    except MemoryError:
        exc = memory_error()
        return ("error", type(exc).__name__, exc.message, exc.details)
    except Exception as exc:  # a template must never kill the worker
        return (
            "error",
            "RenderError",
            f"template failed: {type(exc).__name__}: {exc}",
            {},
        )
    return ("ok", r.kind, r.rendered, r.messages)


# -- the server side ------------------------------------------------------------------


class _Overrun(Exception):
    pass


class _Died(Exception):
    pass


class _Worker:
    """One worker process and the parent's end of its pipe.

    Replies are read in one of two ways, never both at once: blocking (:meth:`call`,
    from a thread) or from an event loop (:meth:`call_async`), where the pipe stays
    registered with the loop between calls (``add_reader`` once: no system call per
    render but the write and one read). :meth:`detach` unregisters it (before a
    blocking call and before the pipe is closed)."""

    def __init__(self, ctx: Any, timeout_ms: int) -> None:
        parent, child = ctx.Pipe(duplex=True)
        self.conn: Connection = parent
        self.fd = parent.fileno()
        self.process = ctx.Process(
            target=worker_main,
            args=(child, timeout_ms),
            name="dakora-render",
            daemon=True,
        )
        self.process.start()
        child.close()
        self.loop: asyncio.AbstractEventLoop | None = None  # the pipe is registered
        self._reply: asyncio.Future[tuple[Any, ...]] | None = None
        self._buf = bytearray()

    def call(self, message: tuple[Any, ...], deadline: float) -> tuple[Any, ...]:
        self.detach()
        try:
            self.conn.send(message)
            if not self.conn.poll(max(deadline - time.monotonic(), 0.0)):
                raise _Overrun
            reply: tuple[Any, ...] = self.conn.recv()
        except (EOFError, OSError, BrokenPipeError) as exc:
            raise _Died from exc
        return reply

    async def call_async(
        self, message: tuple[Any, ...], deadline: float
    ) -> tuple[Any, ...]:
        """:meth:`call` on the event loop: send, then wait for the reply by watching
        the pipe, not by blocking a thread. ``deadline`` is ``time.monotonic()``
        based."""
        loop = asyncio.get_running_loop()
        if self.loop is not loop:
            self.detach()
            loop.add_reader(self.fd, self._readable)
            self.loop = loop
        reply = self._reply = loop.create_future()
        try:
            self.conn.send(message)
        except (OSError, BrokenPipeError) as exc:
            raise _Died from exc
        try:
            async with asyncio.timeout(max(deadline - time.monotonic(), 0.0)):
                return await reply
        except TimeoutError:
            raise _Overrun from None
        finally:
            self._reply = None

    def _readable(self) -> None:
        """(On the loop.) Read what the pipe holds; a whole reply completes the
        waiting future."""
        try:
            data = os.read(self.fd, 65536)
        except OSError:
            data = b""
        reply = self._reply
        if not data:  # the worker is gone
            self.detach()
            if reply is not None and not reply.done():
                reply.set_exception(_Died())
            return
        self._buf += data
        message = _take_message(self._buf)
        if message is not None and reply is not None and not reply.done():
            reply.set_result(message)

    def detach(self) -> None:
        """Unregister the pipe from its event loop (waiting for that loop when called
        from another thread; nothing to do when the loop is closed)."""
        loop = self.loop
        if loop is None:
            return
        self.loop = None
        self._buf.clear()
        if _on_loop(loop):
            loop.remove_reader(self.fd)
            return
        if loop.is_closed():
            return
        done = threading.Event()

        def remove() -> None:
            with contextlib.suppress(Exception):
                loop.remove_reader(self.fd)
            done.set()

        try:
            loop.call_soon_threadsafe(remove)
        except RuntimeError:  # closed meanwhile
            return
        done.wait(5)

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.detach()
        with contextlib.suppress(Exception):
            self.process.kill()
        with contextlib.suppress(Exception):
            self.process.join(5)
        with contextlib.suppress(Exception):
            self.conn.close()


def _take_message(buf: bytearray) -> Any:
    """The first whole message of ``multiprocessing.Connection``'s framing in ``buf``
    (removed from it), or None while it is incomplete."""
    if len(buf) < 4:
        return None
    (size,) = struct.unpack("!i", buf[:4])
    start = 4
    if size == -1:  # a message over 2 GiB
        if len(buf) < 12:
            return None
        (size,) = struct.unpack("!Q", buf[4:12])
        start = 12
    end = start + size
    if len(buf) < end:
        return None
    message = pickle.loads(bytes(buf[start:end]))
    del buf[:end]
    return message


_CONTEXT: Any = None
_CONTEXT_LOCK = threading.Lock()


def _context() -> Any:
    """A fork server with this module (and so Jinja and the renderer) preloaded."""
    global _CONTEXT
    with _CONTEXT_LOCK:
        if _CONTEXT is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload([__name__])
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
        self._idle: deque[_Worker] = deque()
        # who waits for a worker, first come first served: threads (render) and
        # coroutines (render_async) in one queue (_Waiter)
        self._waiters: deque[_Waiter] = deque()
        self._all: set[_Worker] = set()
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
        except _Overrun:
            log.warning(
                "render of %s overran %d ms: worker killed", prompt.id, self.timeout_ms
            )
            raise timeout_error(self.timeout_ms) from None
        except _Died:
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
        except _Overrun:
            log.warning(
                "render of %s overran %d ms: worker killed", prompt.id, self.timeout_ms
            )
            raise timeout_error(self.timeout_ms) from None
        except _Died:
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

    def _acquire(self) -> _Worker:
        """An idle worker, a new one (up to ``size``), or the next one released."""
        with self._lock:
            worker = self._idle_or_new()
            if worker is not None:
                return worker
            waiter = _Waiter(None, concurrent.futures.Future())
            self._waiters.append(waiter)
        try:
            return waiter.future.result(timeout=ACQUIRE_TIMEOUT_S)  # type: ignore[no-any-return]
        except concurrent.futures.TimeoutError:
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                    raise self._busy() from None
            return waiter.future.result()  # type: ignore[no-any-return]  # handed over meanwhile

    async def _acquire_async(self) -> _Worker:
        """:meth:`_acquire` for a coroutine: waits on the event loop, not a thread."""
        with self._lock:
            worker = self._idle.pop() if self._idle else None
            if worker is None:
                if self._closed:
                    raise RenderError("the server is shutting down")
                starting = len(self._all) < self.size
                if not starting:
                    loop = asyncio.get_running_loop()
                    waiter = _Waiter(loop, loop.create_future())
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

    def _idle_or_new(self) -> _Worker | None:
        """(Under the lock.) An idle worker, or a new one while there are fewer than
        ``size``; None when every worker is busy."""
        if self._idle:
            return self._idle.pop()
        if self._closed:
            raise RenderError("the server is shutting down")
        if len(self._all) < self.size:
            worker = _Worker(_context(), self.timeout_ms)
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

    def _hand_off(self, worker: _Worker) -> None:
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

    def _release(self, worker: _Worker, healthy: bool) -> None:
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


@dataclass(eq=False)
class _Waiter:
    """A thread (``loop`` None, a ``concurrent.futures.Future``) or a coroutine (an
    asyncio future of ``loop``) waiting for a worker."""

    loop: asyncio.AbstractEventLoop | None
    future: Any

    def give(self, worker: _Worker, again: Any) -> bool:
        """Hand ``worker`` over; False when this waiter gave up (pass it on)."""
        if self.loop is None:
            if self.future.done():
                return False
            self.future.set_result(worker)
            return True
        if _on_loop(self.loop):
            if self.future.done():  # cancelled
                return False
            self.future.set_result(worker)
            return True
        try:
            self.loop.call_soon_threadsafe(self._deliver, worker, again)
        except RuntimeError:  # that event loop is closed
            return False
        return True

    def fail(self, exc: Exception) -> None:
        """Wake the waiter with ``exc`` (the pool is closing)."""
        if self.loop is None:
            if not self.future.done():
                self.future.set_exception(exc)
            return
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self._fail, exc)

    def _fail(self, exc: Exception) -> None:
        if not self.future.done():
            self.future.set_exception(exc)

    def _deliver(self, worker: _Worker, again: Any) -> None:
        if self.future.done():
            again(worker)  # it gave up meanwhile: the next waiter
        else:
            self.future.set_result(worker)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


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
