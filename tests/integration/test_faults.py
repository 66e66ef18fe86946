"""Fault tests on the real server: ``kill -9`` at many points of a large push, and
PostgreSQL stopped while a push runs (docs/operations.md, "Failures").

What must hold after each fault: the bare repository is ``git fsck``-clean, no
quarantine is left behind, the refs table equals the repository's refs (the index is
derived from git and reconciled at start-up), and the same push retried succeeds.
"""

from __future__ import annotations

import random
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import postgres as pg
from tests.fixtures.gitrepos import GitRepoBuilder, make_prompt_yaml
from tests.integration.git_server_support import quarantine_dirs, run_git
from tests.integration.test_git_live import Live

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KILL_ROUNDS = 10
PROMPTS_PER_PUSH = 200


def _add_prompts(repo: GitRepoBuilder, tag: str, n: int = PROMPTS_PER_PUSH) -> None:
    repo.write_many(
        {
            f"prompts/{tag}/p{i}.yaml": make_prompt_yaml(
                id=f"{tag}-p{i}",
                description=f"prompt {i} of {tag}",
                template="Hello {{ name }}! " + "lorem ipsum " * 40 + "\n",
            )
            for i in range(n)
        }
    )
    repo.commit(f"add {n} prompts ({tag})")


def _assert_consistent(server: Any, live: Live) -> None:
    from dakora.registry.index.writer import refs_in_sync

    assert quarantine_dirs(live.path) == [], "a quarantine was left behind"
    fsck = run_git(live.path, "--git-dir", str(live.path), "fsck", "--no-dangling")
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    assert refs_in_sync(server.engine(), live.project["id"]), "refs table != git refs"


def _push(repo: GitRepoBuilder, live: Live) -> subprocess.CompletedProcess[str]:
    run_git(repo.path, "remote", "set-url", "origin", live.url(live.write_key))
    return run_git(repo.path, "push", "origin", "main")


def test_kill_9_at_many_points_of_a_large_push(
    start_live_server: Any, tmp_path: Path
) -> None:
    server = start_live_server(None)
    rng = random.Random(20261203)
    try:
        live = Live(server, "crash")
        out = run_git(tmp_path, "clone", "-q", live.url(live.write_key), "w")
        assert out.returncode == 0, out.stderr
        repo = GitRepoBuilder(tmp_path / "w")
        repo.write("prompts/greeting.yaml", make_prompt_yaml(id="greeting"))
        repo.commit("first")
        assert _push(repo, live).returncode == 0
        # how long an undisturbed push of this size takes: kill points spread over it
        _add_prompts(repo, "warmup")
        started = time.monotonic()
        assert _push(repo, live).returncode == 0
        span = time.monotonic() - started
        outcomes = []
        for round_no in range(KILL_ROUNDS):
            _add_prompts(repo, f"r{round_no}")
            proc = subprocess.Popen(
                ["git", "push", "origin", "main"],
                cwd=repo.path,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            time.sleep(rng.uniform(0.0, span * 1.1))
            server.kill()
            pushed_out, _ = proc.communicate(timeout=60)
            outcomes.append(proc.returncode == 0)
            server.start()
            _assert_consistent(server, live)
            retried = _push(repo, live)
            assert retried.returncode == 0, retried.stdout + retried.stderr
            _assert_consistent(server, live)
            remote = run_git(repo.path, "ls-remote", "origin", "refs/heads/main")
            assert remote.stdout.split()[0] == repo.head()
        # the kills fell before and after the point of no return (at least one push
        # was cut off); a push git reported as ok is never lost
        assert not all(outcomes), "no kill interrupted a push: widen the window"
    finally:
        server.close()


@pytest.fixture
def private_cluster() -> Iterator[pg.Cluster]:
    """A PostgreSQL cluster of this test alone: it gets stopped mid-push."""
    cluster = pg.Cluster()
    try:
        cluster.start()
        pg._wait_ready(cluster.url)
        yield cluster
    finally:
        cluster.remove()


def test_postgresql_stopped_during_a_push(
    start_live_server: Any, private_cluster: pg.Cluster, tmp_path: Path
) -> None:
    server = start_live_server(None, database_url=private_cluster.url)
    try:
        live = Live(server, "pgdown")
        out = run_git(tmp_path, "clone", "-q", live.url(live.write_key), "w")
        assert out.returncode == 0, out.stderr
        repo = GitRepoBuilder(tmp_path / "w")
        repo.write("prompts/greeting.yaml", make_prompt_yaml(id="greeting"))
        repo.commit("first")
        assert _push(repo, live).returncode == 0
        before = run_git(repo.path, "ls-remote", "origin", "refs/heads/main").stdout
        _add_prompts(repo, "down")
        proc = subprocess.Popen(
            ["git", "push", "origin", "main"],
            cwd=repo.path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not quarantine_dirs(live.path):
            time.sleep(0.005)
        private_cluster.stop()
        pushed_out, _ = proc.communicate(timeout=120)
        assert "Traceback" not in pushed_out
        after_ref = run_git(live.path, "--git-dir", str(live.path), "rev-parse", "main")
        if proc.returncode != 0:
            # refused: the message says why, and nothing moved
            assert "database unavailable" in pushed_out, pushed_out
            assert "nothing was applied" in pushed_out, pushed_out
            assert after_ref.stdout.split()[0] == before.split()[0]
        private_cluster.start()
        pg._wait_ready(private_cluster.url)
        # the server recovers by itself once the database is back
        deadline = time.monotonic() + 60
        while True:
            r = server.client().get("/api/health")
            if r.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        # A push whose index transaction was cut off at COMMIT may have landed in the
        # index while its refs were put back here; then this server catches up from
        # the mirror first, and says "try again" until the mirror has it.
        deadline = time.monotonic() + 60
        while True:
            retried = _push(repo, live)
            told = retried.stdout + retried.stderr
            if retried.returncode == 0 or time.monotonic() > deadline:
                break
            assert "cannot catch up with the mirror right now; try again" in told, told
            time.sleep(1)
        assert retried.returncode == 0, told
        server.restart()  # start-up reconciliation: the index agrees with git
        _assert_consistent(server, live)
        r = server.client(live.read_key).get(
            f"/api/projects/{live.project['id']}/prompts/down-p0"
        )
        assert r.status_code == 200, r.text
    finally:
        server.close()
