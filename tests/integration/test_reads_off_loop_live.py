"""Reads that must wait never wait on the event loop (issue 10, finding 11; docs/design.md
§15): a replica (PostgreSQL with a mirror) whose repository is behind the index waits,
on a cache miss, up to its catch-up deadline for the mirror to reach the index. That
wait, and any index or repository read of a miss, runs in a worker thread: the health
check and other requests keep being answered meanwhile. Found by the PostgreSQL soak,
where such waits on the event loop stalled every request for seconds."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from dakora.registry.db.tables import refs

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("live_server", ["postgresql"], indirect=True),
]

ROOT = Path(__file__).resolve().parents[2]


def test_a_read_waiting_for_the_mirror_holds_up_no_other_request(
    live_server: Any,
) -> None:
    project = live_server.create_project("stall", "p", ROOT / "sample-repo")
    key = live_server.create_key("stall/p", "read")["key"]
    auth = {"Authorization": f"Bearer {key}"}
    # another replica's push, as this one sees it: the index moved main to a commit
    # that neither this repository nor the mirror has yet
    with live_server.engine().begin() as conn:
        conn.execute(
            update(refs)
            .where(refs.c.project_id == project["id"], refs.c.name == "refs/heads/main")
            .values(sha="1" * 40)
        )
    base = f"/api/projects/{project['id']}"
    reads: dict[str, Any] = {}

    def read(name: str, path: str) -> None:
        started = time.monotonic()
        response = httpx.get(live_server.url(path), headers=auth, timeout=60)
        reads[name] = (response.status_code, time.monotonic() - started)

    waiting = [
        threading.Thread(target=read, args=("get", f"{base}/prompts/support-reply")),
        threading.Thread(target=read, args=("list", f"{base}/prompts")),
        threading.Thread(target=read, args=("parts", f"{base}/parts")),
    ]
    for thread in waiting:
        thread.start()
    time.sleep(0.5)
    health: list[float] = []
    while any(t.is_alive() for t in waiting):
        started = time.monotonic()
        assert httpx.get(live_server.url("/api/health"), timeout=60).status_code == 200
        health.append(time.monotonic() - started)
        time.sleep(0.1)
    for thread in waiting:
        thread.join()
    # the reads did wait for the mirror (then answered from this repository) ...
    assert all(status == 200 for status, _ in reads.values()), reads
    assert max(seconds for _, seconds in reads.values()) > 2.0, reads
    assert len(health) >= 10
    # ... and nothing else waited for them
    assert max(health) < 1.0, sorted(health)[-5:]
