"""The access log of ``dakora serve``: one line per request, at almost no cost.

uvicorn's own access log makes a ``logging`` record per request (caller frame lookup,
formatter copy, a locked write and flush of stderr), which cost the warm ``GET prompt``
about a quarter of its throughput (docs/server.md, "Access log"). This ASGI wrapper
does the least on the request path: it notes the scope and the response status in a
list and, at most every ``interval`` seconds (or once ``batch`` requests are noted),
formats the lines and writes them to the stream in one write. The line is uvicorn's::

    INFO:     127.0.0.1:50312 - "GET /api/health HTTP/1.1" 200 OK

A request that ends without a response status (the app raised, or returned without
starting a response: uvicorn then answers 500) is logged as ``500``. Lifespan and
websocket scopes pass through unlogged. ``flush()`` writes what is noted; the server
calls it on shutdown.
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


def format_line(scope: Scope, status: int) -> str:
    """The log line of one request, as uvicorn's access formatter writes it."""
    client = scope.get("client")
    addr = f"{client[0]}:{client[1]}" if client else ""
    path = scope.get("raw_path") or scope["path"].encode()
    target = path.decode("latin-1")
    if scope.get("query_string"):
        target = f"{target}?{scope['query_string'].decode('ascii', 'replace')}"
    target = target.replace('"', "%22")
    code = _PHRASES.get(status) or f"{status} "
    return (
        f'INFO:     {addr} - "{scope["method"]} {target} '
        f'HTTP/{scope.get("http_version", "1.1")}" {code}\n'
    )


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
        self._noted: list[tuple[Scope, int]] = []
        self._timer: asyncio.TimerHandle | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            self._note(scope, status or 500)

    def _note(self, scope: Scope, status: int) -> None:
        noted = self._noted
        noted.append((scope, status))
        if len(noted) >= self.batch:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(
                self.interval, self.flush
            )

    def flush(self) -> None:
        """Write every noted request (one write, one flush)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        noted, self._noted = self._noted, []
        if not noted:
            return
        stream = self._stream or sys.stderr
        try:
            stream.write("".join([format_line(s, code) for s, code in noted]))
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken stderr must not fail requests
