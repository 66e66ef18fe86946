"""Git requests run in worker processes, not in the server's threads (docs/design.md
§15): reads answer while every git worker is stopped, a dead worker is replaced, and
the workers die with the server.

The workers are found as the server's descendant processes (the fork server and its
children); the tests stop, kill and count them with signals, as an operator would.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.gitrepos import GitRepoBuilder, make_prompt_yaml
from tests.fixtures.procs import descendants
from tests.integration.git_server_support import run_git
from tests.integration.test_git_live import Live

pytestmark = [pytest.mark.integration]


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def workers_of(pid: int) -> list[int]:
    """The worker processes of a server: its descendants but the fork server."""
    return [p for p in descendants(pid) if "forkserver" not in _cmdline(p)]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


@pytest.fixture
def server(start_live_server: Any) -> Iterator[Any]:
    server = start_live_server(None)
    try:
        yield server
    finally:
        server.close()


def _pushed_repo(server: Any, tmp_path: Path, slug: str) -> tuple[Live, GitRepoBuilder]:
    live = Live(server, slug)
    out = run_git(tmp_path, "clone", "-q", live.url(live.write_key), "w")
    assert out.returncode == 0, out.stderr
    repo = GitRepoBuilder(tmp_path / "w")
    repo.write("prompts/greeting.yaml", make_prompt_yaml(id="greeting"))
    repo.commit("first")
    pushed = run_git(repo.path, "push", "-q", "origin", "main")
    assert pushed.returncode == 0, pushed.stderr
    return live, repo


def _wait_for_workers(pid: int, at_least: int) -> list[int]:
    deadline = time.monotonic() + 60
    while True:
        found = workers_of(pid)
        if len(found) >= at_least or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_reads_answer_while_every_git_worker_is_stopped(
    server: Any, tmp_path: Path
) -> None:
    live, repo = _pushed_repo(server, tmp_path, "stopped")
    assert server.process is not None
    stopped = descendants(server.process.pid)
    assert stopped, "the server has no worker processes"
    with server.client(live.read_key) as http:
        http.get(f"/api/projects/{live.project['id']}/prompts/greeting")  # warm
        _signal_all(stopped, signal.SIGSTOP)
        try:
            listing = subprocess.Popen(
                ["git", "ls-remote", live.url(live.read_key), "refs/heads/main"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            # the event loop is free: health and a warm read answer meanwhile
            assert http.get("/api/health").status_code == 200
            r = http.get(f"/api/projects/{live.project['id']}/prompts/greeting")
            assert r.status_code == 200, r.text
            # and git is not served meanwhile (served in-process, it would be: an
            # ls-remote takes well under a second here)
            with pytest.raises(subprocess.TimeoutExpired):
                listing.wait(timeout=5)
        finally:
            _signal_all(stopped, signal.SIGCONT)
    out, err = listing.communicate(timeout=60)
    assert listing.returncode == 0, err
    assert out.split()[0] == repo.head()


def test_a_killed_git_worker_is_replaced(server: Any, tmp_path: Path) -> None:
    live, repo = _pushed_repo(server, tmp_path, "replaced")
    assert server.process is not None
    victims = _wait_for_workers(server.process.pid, 1)
    assert victims
    _signal_all(victims, signal.SIGKILL)
    repo.write("prompts/second.yaml", make_prompt_yaml(id="second"))
    repo.commit("second")
    pushed = run_git(repo.path, "push", "-q", "origin", "main")
    assert pushed.returncode == 0, pushed.stderr
    remote = run_git(repo.path, "ls-remote", "origin", "refs/heads/main")
    assert remote.stdout.split()[0] == repo.head()
    r = server.client(live.read_key).get(
        f"/api/projects/{live.project['id']}/prompts/second"
    )
    assert r.status_code == 200, r.text


def test_workers_die_with_the_server(server: Any, tmp_path: Path) -> None:
    _pushed_repo(server, tmp_path, "orphans")
    assert server.process is not None
    family = descendants(server.process.pid)
    assert family
    server.kill()
    deadline = time.monotonic() + 30
    while any(_alive(p) for p in family) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [p for p in family if _alive(p)] == [], (
        "worker processes outlived the server"
    )
