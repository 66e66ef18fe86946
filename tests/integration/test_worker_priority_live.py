"""The CPU priorities of ``dakora serve``'s processes (docs/design.md §15): git workers
and the mirror process ``BACKGROUND_NICE`` steps below the server, in the normal
scheduling class (they hold the project lock reads may wait for); render workers
(reads, which someone waits on) only a few steps down; the event loop's process
untouched."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from dakora.api.process_pool import BACKGROUND_NICE
from tests.integration.git_server_support import run_git

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCHED_OTHER = "0"


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int(_stat(int(entry.name))[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def test_git_and_mirror_workers_run_below_render_workers_below_the_server(
    live_server: Any, tmp_path: Path
) -> None:
    project = live_server.create_project("prio", "p", ROOT / "sample-repo")
    key = live_server.create_key("prio/p", "read")["key"]
    url = f"http://git:{key}@127.0.0.1:{live_server.port}/git/prio/p.git"
    assert run_git(tmp_path, "clone", "-q", url, "c").returncode == 0  # a git worker
    rendered = httpx.post(  # a render worker
        live_server.url(f"/api/projects/{project['id']}/prompts/support-reply/render"),
        headers={"Authorization": f"Bearer {key}"},
        json={"inputs": {}},
    )
    assert rendered.status_code in (200, 422), rendered.text
    server = live_server.process.pid
    own = int(_stat(server)[16])
    background = min(19, own + BACKGROUND_NICE)
    deadline = time.monotonic() + 30
    while True:
        stats = {
            p: _stat(p) for p in _descendants(server) if os.path.exists(f"/proc/{p}")
        }
        low = [p for p, f in stats.items() if int(f[16]) == background]
        # the git workers (at least the one that served the clone) and the mirror
        if len(low) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(low) >= 2, stats
    assert all(f[38] == SCHED_OTHER for f in stats.values()), stats
    # the render workers: a few steps below the server, above the background work
    assert any(own < int(f[16]) < background for f in stats.values()), stats
    assert _stat(server)[38] == SCHED_OTHER and int(_stat(server)[16]) == own
