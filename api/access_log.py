"""The access log of ``dakora serve``: one line per request, at almost no cost.

uvicorn's own access log makes a ``logging`` record per request (caller frame lookup,
formatter copy, a locked write and flush of stderr), which cost the warm ``GET prompt``
about a quarter of its throughput (docs/server.md, "Access log"). This ASGI wrapper
does the least on the request path: it notes the request line's fields and the
response status in a list and, at most every ``interval`` seconds (or once ``batch``
requests are noted), writes the lines to the stream in one write. A line is formatted
once per (client, method, target, HTTP version, status) and kept as bytes (up to
``CACHE_LINES`` of them): a keep-alive client asking for the same URL again costs a
dict lookup, not a format. Bytes go to the stream's binary buffer when it has one (a
real stderr), so no text encoding either. The line is uvicorn's (no timestamp: a
process manager adds its own)::

    INFO:     127.0.0.1:50312 - "GET /api/health HTTP/1.1" 200 OK

A request that ends without a response status (the app raised, or returned without
starting a response: uvicorn then answers 500) is logged as ``500``. Lifespan and
websocket scopes pass through unlogged. ``flush()`` writes what is noted; it runs at
the lifespan shutdown (after uvicorn has served the last request).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from http import HTTPStatus
from typing import Any, TextIO

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_PHRASES = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}
CACHE_LINES = 4096  # formatted lines kept (the cache is emptied when full)
# (client, method, raw path, query string, HTTP version) of one request
_Noted = tuple[Any, str, bytes, bytes, str]


def _fields(scope: Scope) -> _Noted:
    """What the line needs, taken from the scope at once: holding the scope itself
    until the write would keep every object the request made alive (and for the cycle
    collector to walk) for up to ``interval`` seconds."""
    return (
        scope.get("client"),
        scope["method"],
        scope.get("raw_path") or scope["path"].encode(),
        scope.get("query_string", b""),
        scope.get("http_version", "1.1"),
    )


def _line(fields: _Noted, status: int) -> str:
    client, method, raw_path, query, version = fields
    addr = f"{client[0]}:{client[1]}" if client else ""
    target = raw_path.decode("latin-1")
    if query:
        target = f"{target}?{query.decode('ascii', 'replace')}"
    target = target.replace('"', "%22")
    code = _PHRASES.get(status) or f"{status} "
    return f'INFO:     {addr} - "{method} {target} HTTP/{version}" {code}\n'


def format_line(scope: Scope, status: int) -> str:
    """The log line of one request, as uvicorn's access formatter writes it."""
    return _line(_fields(scope), status)


class AccessLog:
    """ASGI middleware writing one access line per HTTP request, in batches."""

    def __init__(
        self,
        app: ASGIApp,
        stream: TextIO | None = None,
        *,
        interval: float = 0.2,
        batch: int = 512,
    ) -> None:
        self.app = app
        self._stream = stream  # None: sys.stderr at the time of writing
        self.interval = interval
        self.batch = batch
        self._noted: list[tuple[_Noted, int]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._lines: dict[tuple[_Noted, int], bytes] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._flushing_at_shutdown(send))
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        box = [500]  # the status; 500 when no response starts

        def send_noting_status(message: Message) -> Awaitable[None]:
            # not a coroutine: it hands back ``send``'s own awaitable (one frame less)
            if message["type"] == "http.response.start":
                box[0] = message["status"]
            return send(message)

        fields = (
            scope.get("client"),
            scope["method"],
            scope.get("raw_path") or scope["path"].encode(),
            scope.get("query_string", b""),
            scope.get("http_version", "1.1"),
        )  # _fields(scope), inline
        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            noted = self._noted
            noted.append((fields, box[0]))
            if len(noted) >= self.batch:
                self.flush()
            elif self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(
                    self.interval, self.flush
                )

    def _flushing_at_shutdown(self, send: Send) -> Send:
        """``send`` for the lifespan scope, writing what is noted before the shutdown
        is reported. uvicorn serves every open request before the lifespan shutdown and,
        once stopped by a signal, raises that signal again with its default handler:
        code after ``uvicorn.run`` never runs, so this is the last moment to write."""

        async def send_after_flush(message: Message) -> None:
            if message["type"] in (
                "lifespan.shutdown.complete",
                "lifespan.shutdown.failed",
            ):
                self.flush()
            await send(message)

        return send_after_flush

    def flush(self) -> None:
        """Write every noted request (one write, one flush)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        noted, self._noted = self._noted, []
        if not noted:
            return
        lines = self._lines
        if len(lines) > CACHE_LINES:
            lines.clear()
        chunks = []
        for item in noted:
            try:
                line = lines.get(item)
            except TypeError:  # a client address that is not a tuple
                line = _line(*item).encode("utf-8", "replace")
            if line is None:
                line = lines[item] = _line(*item).encode("utf-8", "replace")
            chunks.append(line)
        data = b"".join(chunks)
        stream = self._stream or sys.stderr
        try:
            buffer = getattr(stream, "buffer", None)
            if buffer is not None:
                stream.flush()  # text written before, in order
                buffer.write(data)
                buffer.flush()
            else:
                stream.write(data.decode("utf-8"))
                stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken stderr must not fail requests
