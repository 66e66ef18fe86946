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
route) and the render route use it the same way; it blocks the calling thread (the
routes are sync: FastAPI runs them in its thread pool). Workers start on first use,
from a fork server with this module preloaded, so a replacement starts in
milliseconds.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import resource
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from dakora.api.process_pool import ProcessPool, Worker
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


class _Worker(Worker):
    def __init__(self, timeout_ms: int) -> None:
        super().__init__(worker_main, (timeout_ms,), "dakora-render")

    def call(self, message: tuple[Any, ...], deadline: float) -> tuple[Any, ...]:
        try:
            self.conn.send(message)
            if not self.conn.poll(max(deadline - time.monotonic(), 0.0)):
                raise _Overrun
            reply: tuple[Any, ...] = self.conn.recv()
        except (EOFError, OSError, BrokenPipeError) as exc:
            raise _Died from exc
        return reply


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
        self._pool: ProcessPool[_Worker] = ProcessPool(
            self.size,
            lambda: _Worker(timeout_ms),
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
            self._pool.release(worker, healthy)
        return _result(reply, inputs)

    # -- workers

    def warm(self) -> threading.Thread:
        """Start the workers in the background, so the first render does not wait
        for the fork server."""
        return self._pool.warm("dakora-render", log)

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
        self._pool.close()


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
