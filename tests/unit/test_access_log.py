"""The lean access log of ``dakora serve`` (api/access_log.py), driven as ASGI."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest

from dakora.api.access_log import AccessLog, format_line

SCOPE: dict[str, Any] = {
    "type": "http",
    "method": "GET",
    "path": "/api/projects/p/prompts/hi",
    "raw_path": b"/api/projects/p/prompts/hi",
    "query_string": b"",
    "http_version": "1.1",
    "client": ("127.0.0.1", 50312),
}


async def _ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 304, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def _boom(scope: Any, receive: Any, send: Any) -> None:
    raise RuntimeError("boom")


async def _silent(scope: Any, receive: Any, send: Any) -> None:
    return None


def _run(log: AccessLog, scope: dict[str, Any]) -> list[Any]:
    sent: list[Any] = []

    async def receive() -> Any:
        return {"type": "http.request"}

    async def send(message: Any) -> None:
        sent.append(message)

    async def go() -> None:
        await log(scope, receive, send)

    asyncio.run(go())
    return sent


def test_the_line_is_uvicorns() -> None:
    assert format_line(SCOPE, 200) == (
        'INFO:     127.0.0.1:50312 - "GET /api/projects/p/prompts/hi HTTP/1.1" 200 OK\n'
    )
    odd = {**SCOPE, "query_string": b"a=1", "raw_path": b'/x"y', "client": None}
    assert format_line(odd, 599) == 'INFO:      - "GET /x%22y?a=1 HTTP/1.1" 599 \n'


def test_requests_are_passed_through_and_written_in_one_batch() -> None:
    out = io.StringIO()
    log = AccessLog(_ok, out, interval=60)
    sent = _run(log, SCOPE)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert out.getvalue() == ""  # noted, not yet written
    _run(log, {**SCOPE, "method": "HEAD"})
    log.flush()
    lines = out.getvalue().splitlines()
    assert [line.split('"')[1].split()[0] for line in lines] == ["GET", "HEAD"]
    assert all(line.endswith("304 Not Modified") for line in lines)
    log.flush()  # nothing noted: nothing written
    assert len(out.getvalue().splitlines()) == 2


def test_a_full_batch_is_written_at_once() -> None:
    out = io.StringIO()
    log = AccessLog(_ok, out, interval=60, batch=3)
    for _ in range(3):
        _run(log, SCOPE)
    assert len(out.getvalue().splitlines()) == 3


def test_the_timer_writes_without_a_flush_call() -> None:
    out = io.StringIO()
    log = AccessLog(_ok, out, interval=0.01)

    async def go() -> None:
        async def receive() -> Any:
            return {"type": "http.request"}

        async def send(message: Any) -> None:
            pass

        await log(SCOPE, receive, send)
        await asyncio.sleep(0.2)

    asyncio.run(go())
    assert out.getvalue().count("\n") == 1


def test_no_response_is_logged_as_500_and_the_error_propagates() -> None:
    out = io.StringIO()
    log = AccessLog(_boom, out, interval=60)
    with pytest.raises(RuntimeError):
        _run(log, SCOPE)
    _run(AccessLog(_silent, out, interval=60), SCOPE)
    log.flush()
    assert out.getvalue().endswith(
        '"GET /api/projects/p/prompts/hi HTTP/1.1" 500 Internal Server Error\n'
    )


def test_other_scopes_pass_unlogged() -> None:
    out = io.StringIO()
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    log = AccessLog(app, out, interval=60)
    _run(log, {"type": "lifespan"})
    log.flush()
    assert seen == ["lifespan"] and out.getvalue() == ""


def test_a_closed_stream_does_not_fail() -> None:
    out = io.StringIO()
    log = AccessLog(_ok, out, interval=60)
    _run(log, SCOPE)
    out.close()
    log.flush()  # no exception


def test_what_is_noted_is_written_before_the_lifespan_shutdown_is_reported() -> None:
    """uvicorn re-raises the stopping signal after shutdown, so nothing after
    ``uvicorn.run`` runs: the lines must be out before the shutdown completes."""
    out = io.StringIO()
    at_report: list[str] = []

    async def lifespan(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "lifespan.shutdown.complete"})

    log = AccessLog(_ok, out, interval=60)
    _run(log, SCOPE)
    assert out.getvalue() == ""
    log.app = lifespan

    async def receive() -> Any:
        return {"type": "lifespan.shutdown"}

    async def send(message: Any) -> None:
        at_report.append(out.getvalue())

    asyncio.run(log({"type": "lifespan"}, receive, send))
    assert at_report[0].endswith(
        '"GET /api/projects/p/prompts/hi HTTP/1.1" 304 Not Modified\n'
    )
