"""The render worker processes of ``api/render_pool.py`` and the parent's end of each.

A worker (:func:`worker_main`) renders what its pipe brings until the pipe closes,
at a lower CPU priority and under a ceiling on its address space (see the pool's
docstring). :class:`RenderWorker` is the parent's end: a blocking :meth:`RenderWorker.call` for
threads, :meth:`RenderWorker.call_async` for the event loop (the pipe stays registered with
the loop between calls), :meth:`RenderWorker.kill`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import resource
import struct
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from dakora.api.process_pool import Worker
from dakora.registry.core import DakoraError, Prompt
from dakora.registry.render import Renderer, memory_error

WORKER_MEMORY_MIB = 512  # address space a worker may add to what it maps at start
WORKER_NICE = 5
WORKER_CACHE = 512  # prompts (with their parts) a worker keeps


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


class Overrun(Exception):
    pass


class Died(Exception):
    pass


class RenderWorker(Worker):
    """One render worker process and the parent's end of its pipe.

    Replies are read in one of two ways, never both at once: blocking (:meth:`call`,
    from a thread) or from an event loop (:meth:`call_async`), where the pipe stays
    registered with the loop between calls (``add_reader`` once: no system call per
    render but the write and one read). :meth:`detach` unregisters it (before a
    blocking call and before the pipe is closed)."""

    def __init__(self, timeout_ms: int) -> None:
        super().__init__(worker_main, (timeout_ms,), "dakora-render")
        self.fd = self.conn.fileno()
        self.loop: asyncio.AbstractEventLoop | None = None  # the pipe is registered
        self._reply: asyncio.Future[tuple[Any, ...]] | None = None
        self._buf = bytearray()

    def call(self, message: tuple[Any, ...], deadline: float) -> tuple[Any, ...]:
        self.detach()
        try:
            self.conn.send(message)
            if not self.conn.poll(max(deadline - time.monotonic(), 0.0)):
                raise Overrun
            reply: tuple[Any, ...] = self.conn.recv()
        except (EOFError, OSError, BrokenPipeError) as exc:
            raise Died from exc
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
            raise Died from exc
        try:
            async with asyncio.timeout(max(deadline - time.monotonic(), 0.0)):
                return await reply
        except TimeoutError:
            raise Overrun from None
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
                reply.set_exception(Died())
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
        if on_loop(loop):
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
        super().kill()


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


def on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
