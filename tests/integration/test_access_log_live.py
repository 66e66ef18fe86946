"""``dakora serve --access-log``: one uvicorn-style line per request, through the
installed ``dakora`` (docs/server.md, "Access log")."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration


def test_every_request_is_one_line_and_the_last_ones_are_written_on_stop(
    start_live_server: Any,
) -> None:
    server = start_live_server(extra_args=("--access-log",))
    try:
        for i in range(5):
            assert httpx.get(server.url(f"/api/health?n={i}")).status_code == 200
        assert httpx.get(server.url("/api/projects/nope/prompts")).status_code == 401
        deadline = time.monotonic() + 10  # written in batches, at most 0.2 s late
        while time.monotonic() < deadline and "?n=4" not in server.log_text():
            time.sleep(0.05)
        assert "INFO:     127.0.0.1:" in server.log_text()
        assert '"GET /api/health?n=4 HTTP/1.1" 200 OK' in server.log_text()
        httpx.get(server.url("/api/health?last=1"))
    finally:
        server.stop()
    log = server.log_text()
    lines = [line for line in log.splitlines() if '"GET /api/' in line]
    assert '"GET /api/projects/nope/prompts HTTP/1.1" 401 Unauthorized' in log
    assert '"GET /api/health?last=1 HTTP/1.1" 200 OK' in log  # flushed on shutdown
    assert len([x for x in lines if "/api/health?" in x]) == 6
    assert "Traceback" not in log


def test_no_access_log_writes_no_request_line(live_server: Any) -> None:
    assert httpx.get(live_server.url("/api/health?quiet=1")).status_code == 200
    time.sleep(0.5)
    assert "quiet=1" not in live_server.log_text()
