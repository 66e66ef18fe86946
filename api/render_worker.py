"""The render worker processes of ``api/render_pool.py`` and the parent's end of each.

A worker (:func:`worker_main`) renders what its pipe brings until the pipe closes,
at a lower CPU priority and under a ceiling on its address space (see the pool's
docstring). The pipe carries frames both ways: a 4-byte big-endian length and a
pickle (:func:`frame`). The parent may write several requests before the first reply
(the pool's pipeline, docs/design.md §7): the worker reads whatever the pipe holds in
one ``read``, renders the requests in order and writes each reply as soon as it has
it, so the parent knows when the next render began (its kill deadline).

:class:`RenderWorker` is the parent's end: a blocking :meth:`RenderWorker.call` for
threads; on an event loop the pool drives it (``api/render_pool.py``: its in-flight
queue, the reply reader registered with the loop, the deadline of the render at its
head); :meth:`RenderWorker.kill`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import resource
import select
import struct
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from dakora.api.process_pool import Worker
from dakora.registry.content import encode_result
from dakora.registry.core import DakoraError, Prompt
from dakora.registry.render import Renderer, memory_error

if TYPE_CHECKING:
    from dakora.api.render_pipeline import Job

WORKER_MEMORY_MIB = 512  # address space a worker may add to what it maps at start
WORKER_NICE = 5
WORKER_CACHE = 512  # prompts (with their parts) a worker keeps
READ_SIZE = 1 << 16
_HEADER = struct.Struct("!I")
_PROTOCOL = pickle.HIGHEST_PROTOCOL


@dataclass(frozen=True)
class ShippedParts:
    """A ``PartsSource`` of just the parts one prompt includes, sent to a worker."""

    key: str
    sources: dict[str, tuple[str, str]]

    def names(self) -> list[str]:
        return sorted(self.sources)

    def get_source(self, name: str) -> tuple[str, str] | None:
        return self.sources.get(name)


def frame(message: Any) -> bytes:
    """One message as it crosses the pipe: its length, then its pickle."""
    data = pickle.dumps(message, _PROTOCOL)
    return _HEADER.pack(len(data)) + data


def take_frames(buf: bytearray) -> list[Any]:
    """Every whole message at the start of ``buf`` (removed from it)."""
    messages: list[Any] = []
    pos, end = 0, len(buf)
    while end - pos >= 4:
        (size,) = _HEADER.unpack_from(buf, pos)
        stop = pos + 4 + size
        if stop > end:
            break
        messages.append(pickle.loads(buf[pos + 4 : stop]))
        pos = stop
    if pos:
        del buf[:pos]
    return messages


def _limit_memory() -> None:
    with open("/proc/self/statm") as f:
        mapped = int(f.read().split()[0]) * resource.getpagesize()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = mapped + WORKER_MEMORY_MIB * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft == resource.RLIM_INFINITY or soft > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def worker_main(conn: Connection, timeout_ms: int) -> None:
    """One worker: render what the parent sends until the pipe closes."""
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICE)
    _limit_memory()
    renderer = Renderer(timeout_ms=timeout_ms)
    prompts: OrderedDict[str, tuple[Prompt, ShippedParts]] = OrderedDict()
    fd = conn.fileno()  # ``conn`` stays referenced here: it owns the descriptor
    os.set_blocking(fd, True)
    buf = bytearray()
    while True:
        try:
            data = os.read(fd, READ_SIZE)
        except OSError:
            return
        if not data:
            return
        buf += data
        for key, inputs, payload, encode in take_frames(buf):
            if payload is not None:
                prompts[key] = payload
                while len(prompts) > WORKER_CACHE:
                    prompts.popitem(last=False)
            entry = prompts.get(key)
            if entry is None:
                reply: tuple[Any, ...] = ("miss",)
            else:
                prompts.move_to_end(key)
                reply = _render_one(renderer, entry, inputs, key, encode)
            try:
                _write_all(fd, frame(reply))
            except OSError:
                return


def _render_one(
    renderer: Renderer,
    entry: tuple[Prompt, ShippedParts],
    inputs: Any,
    key: str,
    encode: bool,
) -> tuple[Any, ...]:
    """The reply to one request: ``("ok", kind, rendered, messages)``, or with
    ``encode`` ``("body", bytes)`` (the result's part of the response body,
    ``encode_result``: the JSON encoding done here, not on the server's loop), or
    ``("error", class name, message, details)``."""
    prompt, parts = entry
    try:
        r = renderer.render(prompt, inputs, parts, cache_key=key)
        if encode:
            return ("body", encode_result(r))
    except DakoraError as exc:
        return ("error", type(exc).__name__, exc.message, exc.details)
    except MemoryError:
        err = memory_error()
        return ("error", type(err).__name__, err.message, err.details)
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
    """One render worker process and the parent's end of its pipe (non-blocking).

    Used in one of two ways at a time, never both: blocking (:meth:`call`, by the
    thread that acquired it) or by the pool on its event loop, which keeps the pipe
    registered with the loop (``add_reader`` once: no system call per render but the
    writes and the reads) and the requests written but not answered in
    :attr:`inflight`, oldest first. :meth:`detach` unregisters the pipe."""

    def __init__(self, timeout_ms: int) -> None:
        super().__init__(worker_main, (timeout_ms,), "dakora-render")
        self.fd = self.conn.fileno()
        os.set_blocking(self.fd, False)
        self.loop: asyncio.AbstractEventLoop | None = None  # the pipe is registered
        self._buf = bytearray()
        # the pool's state while it drives this worker on its loop
        self.inflight: deque[Job] = deque()
        self.out = bytearray()  # frames not written yet
        self.writing = False  # a writer is registered for the rest of ``out``
        self.head_since = 0.0  # loop.time() the render at the head began (at most)
        self.timer: asyncio.TimerHandle | None = None
        self.idle_since = 0.0

    def call(self, message: tuple[Any, ...], deadline: float) -> tuple[Any, ...]:
        """Send one request and wait for its reply (``deadline``:
        ``time.monotonic()`` based; :class:`Overrun` past it, :class:`Died` when the
        worker is gone)."""
        self.detach()
        fd = self.fd
        poller = select.poll()
        view = memoryview(frame(message))
        try:
            while view:
                poller.register(fd, select.POLLOUT)
                if not poller.poll(_ms_left(deadline)):
                    raise Overrun
                with contextlib.suppress(BlockingIOError):
                    view = view[os.write(fd, view) :]
            poller.register(fd, select.POLLIN)
            while True:
                messages = take_frames(self._buf)
                if messages:
                    reply: tuple[Any, ...] = messages[0]
                    return reply
                if not poller.poll(_ms_left(deadline)):
                    raise Overrun
                try:
                    data = os.read(fd, READ_SIZE)
                except BlockingIOError:
                    continue
                if not data:
                    raise Died
                self._buf += data
        except OSError as exc:
            raise Died from exc

    def attach(
        self, loop: asyncio.AbstractEventLoop, readable: Any, *args: Any
    ) -> None:
        """Register the pipe with ``loop`` (``readable(*args)`` when it has data)."""
        if self.loop is not loop:
            self.detach()
            loop.add_reader(self.fd, readable, *args)
            self.loop = loop

    def read_replies(self) -> list[Any] | None:
        """(On the loop.) The whole replies the pipe holds; None when the worker is
        gone."""
        try:
            data = os.read(self.fd, READ_SIZE)
        except BlockingIOError:
            return []
        except OSError:
            return None
        if not data:
            return None
        self._buf += data
        return take_frames(self._buf)

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
            loop.remove_writer(self.fd)
            return
        if loop.is_closed():
            return
        done = threading.Event()

        def remove() -> None:
            with contextlib.suppress(Exception):
                loop.remove_reader(self.fd)
                loop.remove_writer(self.fd)
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


def _ms_left(deadline: float) -> int:
    return max(int((deadline - time.monotonic()) * 1000) + 1, 0)


def on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
