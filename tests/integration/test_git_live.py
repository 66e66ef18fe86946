"""Git over HTTP through the real ``dakora serve`` (``/git`` mounted in the API app).

The same transport as ``test_git_http`` but with the production wiring: keys from the
database, the index written in the push transaction, the push audit log, the API
serving the pushed version right away, and start-up recovery after ``kill -9``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.fixtures.gitrepos import GitRepoBuilder, make_prompt_yaml
from tests.integration.git_server_support import (
    bare_objects,
    bare_refs,
    quarantine_dirs,
    run_git,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("live_server", ["sqlite", "postgresql"], indirect=True),
]


class Live:
    """A project of the live server, made in-process (same database and secret)."""

    def __init__(self, server: Any, slug: str) -> None:
        from dakora.registry import tenancy
        from dakora.registry.core.errors import AlreadyExists
        from dakora.registry.tenancy import keys

        engine, settings = server.engine(), server.settings()
        with contextlib.suppress(AlreadyExists):
            tenancy.create_workspace(engine, "acme")
        project = tenancy.create_project(engine, settings, "acme", slug)
        self.server = server
        self.project = {"id": project.id}
        self.slug = slug
        self.path = Path(project.repo_path)
        self.write_key = keys.create_key(
            engine, settings.pepper(), project.id, scope="write"
        ).plaintext
        self.read_key = keys.create_key(
            engine, settings.pepper(), project.id, scope="read"
        ).plaintext

    def url(self, key: str | None) -> str:
        auth = f"git:{key}@" if key else ""
        return f"http://{auth}{self.server.host}:{self.server.port}/git/acme/{self.slug}.git"


@pytest.fixture(scope="module")
def live(live_server: Any) -> Live:
    return Live(live_server, "prompts")


def _rows(server: Any, table: Any, project_id: str) -> list[Any]:
    engine = server.engine()
    with engine.connect() as conn:
        return list(conn.execute(select(table).where(table.c.project_id == project_id)))


def test_push_indexes_audits_and_serves_the_new_version(
    live: Live, tmp_path: Path
) -> None:
    from dakora.registry.db import prompt_versions, push_events

    out = run_git(tmp_path, "clone", "-q", live.url(live.write_key), "w")
    assert out.returncode == 0, out.stderr
    repo = GitRepoBuilder(tmp_path / "w")
    repo.write("prompts/greeting.yaml", make_prompt_yaml(id="greeting"))
    repo.commit("add greeting")
    out = run_git(repo.path, "push", "origin", "HEAD:refs/heads/main")
    assert out.returncode == 0, out.stderr
    assert "+ greeting 1.0.0" in out.stderr
    repo.write(
        "prompts/greeting.yaml",
        make_prompt_yaml(id="greeting", version="1.1.0", template="Hi {{ name }}\n"),
    )
    sha = repo.commit("bump")
    out = run_git(repo.path, "push", "origin", "HEAD:refs/heads/main")
    assert out.returncode == 0, out.stderr
    pid = live.project["id"]
    versions = {
        (r.prompt_id, r.version) for r in _rows(live.server, prompt_versions, pid)
    }
    assert versions == {("greeting", "1.0.0"), ("greeting", "1.1.0")}
    events = _rows(live.server, push_events, pid)
    assert [e.result for e in events][-2:] == ["ok", "ok"]
    assert events[-1].new_sha == sha
    with live.server.client(live.read_key) as client:
        r = client.get(
            f"/api/projects/{pid}/prompts/greeting", params={"version": "1.1.0"}
        )
        assert r.status_code == 200, r.text
        assert r.json()["version"] == "1.1.0"
        r = client.get(f"/api/projects/{pid}/prompts/greeting")
        assert r.json()["version"] == "1.1.0"


def test_rejected_push_is_audited_and_changes_nothing(
    live: Live, tmp_path: Path
) -> None:
    from dakora.registry.db import prompt_versions, push_events

    out = run_git(tmp_path, "clone", "-q", live.url(live.write_key), "w")
    assert out.returncode == 0, out.stderr
    repo = GitRepoBuilder(tmp_path / "w")
    repo.write(
        "prompts/greeting.yaml",
        make_prompt_yaml(id="greeting", version="9.0.0", template="Hi {{ nmae }}\n"),
    )
    repo.commit("typo")
    pid = live.project["id"]
    before = (bare_refs(live.path), bare_objects(live.path))
    before_versions = len(_rows(live.server, prompt_versions, pid))
    out = run_git(repo.path, "push", "origin", "main")
    assert out.returncode != 0
    assert "remote: error: prompts/greeting.yaml:" in out.stderr
    assert "! [remote rejected] main -> main (prompt checks failed)" in out.stderr
    assert (bare_refs(live.path), bare_objects(live.path)) == before
    assert len(_rows(live.server, prompt_versions, pid)) == before_versions
    last = _rows(live.server, push_events, pid)[-1]
    assert last.result == "rejected"
    assert any("nmae" in m for m in last.messages)


def test_auth_rules(live: Live, live_server: Any, tmp_path: Path) -> None:
    other = Live(live_server, "other")
    ls = run_git(tmp_path, "ls-remote", live.url(live.read_key))
    assert ls.returncode == 0, ls.stderr
    denied = run_git(tmp_path, "ls-remote", live.url(other.read_key))
    assert denied.returncode != 0
    assert "does not give access to acme/prompts" in denied.stderr
    clone = run_git(tmp_path, "clone", "-q", live.url(live.read_key), "w")
    assert clone.returncode == 0, clone.stderr
    repo = GitRepoBuilder(tmp_path / "w")
    repo.write("prompts/x.yaml", make_prompt_yaml(id="x"))
    repo.commit("x")
    out = run_git(repo.path, "push", "origin", "main")
    assert out.returncode != 0
    assert "remote: this API key is read-only" in out.stderr
    out = run_git(repo.path, "push", live.url(None), "main")
    assert out.returncode != 0


def test_kill_during_push_then_restart_agrees(
    live_server: Any, start_live_server: Any, tmp_path: Path
) -> None:
    from dakora.registry.index.writer import refs_in_sync

    # a server of its own (it gets killed), on the same kind of database
    url = (
        None
        if live_server.database_url.startswith("sqlite")
        else _fresh_pg(live_server.database_url)
    )
    server = start_live_server(None, database_url=url)
    try:
        live = Live(server, "crash")
        out = run_git(tmp_path, "clone", "-q", live.url(live.write_key), "w")
        assert out.returncode == 0, out.stderr
        repo = GitRepoBuilder(tmp_path / "w")
        repo.write("prompts/greeting.yaml", make_prompt_yaml(id="greeting"))
        repo.commit("first")
        assert (
            run_git(repo.path, "push", "origin", "HEAD:refs/heads/main").returncode == 0
        )
        for i in range(8):
            repo.write(f"docs/blob-{i}.bin", os.urandom(512 * 1024))
        repo.commit("big")
        proc = subprocess.Popen(
            ["git", "-c", "http.postBuffer=65536", "push", "origin", "main"],
            cwd=repo.path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not quarantine_dirs(live.path):
            time.sleep(0.005)
        server.kill()
        proc.wait(timeout=60)
        server.start()
        assert quarantine_dirs(live.path) == []
        engine = server.engine()
        assert refs_in_sync(engine, live.project["id"])
        fsck = run_git(live.path, "--git-dir", str(live.path), "fsck", "--no-dangling")
        assert fsck.returncode == 0, fsck.stdout + fsck.stderr
        run_git(repo.path, "remote", "set-url", "origin", live.url(live.write_key))
        out = run_git(repo.path, "push", "origin", "main")
        assert out.returncode == 0, out.stderr
        assert refs_in_sync(engine, live.project["id"])
    finally:
        server.close()


def _fresh_pg(url: str) -> str:
    """A new empty database next to the module's PostgreSQL database."""
    import uuid

    from sqlalchemy import create_engine, text

    name = f"git_kill_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return url.rsplit("/", 1)[0] + "/" + name


def test_reindex_rebuilds_the_index_equal_to_the_live_one(
    live: Live, live_server: Any, tmp_path: Path
) -> None:
    from sqlalchemy import delete

    from dakora.registry.db.engine import transaction
    from dakora.registry.db.tables import prompt_heads, prompt_versions, refs

    out = run_git(tmp_path, "clone", "-q", live.url(live.write_key), "w")
    assert out.returncode == 0, out.stderr
    repo = GitRepoBuilder(tmp_path / "w")
    repo.write("prompts/other.yaml", make_prompt_yaml(id="other"))
    repo.commit("another prompt")
    assert run_git(repo.path, "push", "origin", "HEAD:refs/heads/main").returncode == 0
    assert run_git(repo.path, "push", "origin", "HEAD:refs/tags/v1").returncode == 0
    pid = live.project["id"]

    def index() -> dict[str, set[tuple[Any, ...]]]:
        return {
            "versions": {
                (r.prompt_id, r.version, r.commit_sha, r.blob_sha, r.path)
                for r in _rows(live_server, prompt_versions, pid)
            },
            # a head row's commit_sha is the commit it was written at, which depends
            # on the pushes that wrote it (docs/performance.md); where each ref is,
            # is the refs rows' sha, compared below
            "heads": {
                (r.ref, r.prompt_id, r.version, r.blob_sha, r.path)
                for r in _rows(live_server, prompt_heads, pid)
            },
            "refs": {(r.name, r.sha) for r in _rows(live_server, refs, pid)},
        }

    before = index()
    assert before["versions"] and before["heads"] and before["refs"]
    with transaction(live_server.engine()) as conn:
        for table in (prompt_heads, prompt_versions, refs):
            conn.execute(delete(table).where(table.c.project_id == pid))
    assert index() == {"versions": set(), "heads": set(), "refs": set()}
    proc = live_server.dakora("reindex", f"acme/{live.slug}")
    assert "reindexed 1 project" in proc.stderr + proc.stdout
    assert index() == before
    proc = live_server.dakora("reindex")
    assert index() == before


def test_concurrent_pushes_one_wins_and_the_index_agrees(
    live_server: Any, tmp_path: Path
) -> None:
    import threading

    from dakora.registry.index.writer import refs_in_sync

    live = Live(live_server, "race")
    out = run_git(tmp_path, "clone", "-q", live.url(live.write_key), "seed")
    assert out.returncode == 0, out.stderr
    seed = GitRepoBuilder(tmp_path / "seed")
    seed.write("prompts/greeting.yaml", make_prompt_yaml(id="greeting"))
    base = seed.commit("base")
    assert run_git(seed.path, "push", "origin", "HEAD:refs/heads/main").returncode == 0
    clones = []
    for i in range(8):
        out = run_git(tmp_path, "clone", "-q", live.url(live.write_key), f"c{i}")
        assert out.returncode == 0, out.stderr
        repo = GitRepoBuilder(tmp_path / f"c{i}")
        repo.write(f"prompts/new-{i}.yaml", make_prompt_yaml(id=f"new-{i}"))
        repo.commit(f"new-{i}")
        clones.append(repo)
    codes: list[int] = [0] * 8
    barrier = threading.Barrier(8)

    def run(i: int) -> None:
        barrier.wait()
        codes[i] = run_git(clones[i].path, "push", "origin", "main").returncode

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes)[:2] == [0, 1] and codes.count(0) == 1, codes
    winner = clones[codes.index(0)].head()
    assert bare_refs(live.path)["refs/heads/main"] == winner
    history = run_git(live.path, "--git-dir", str(live.path), "rev-list", winner)
    assert history.stdout.split() == [winner, base]
    assert refs_in_sync(live_server.engine(), live.project["id"])


def test_push_rejection_carries_the_lint_rule_ids(live: Live, tmp_path: Path) -> None:
    """Each ``remote: error:`` line of a refused push is the finding `dakora lint`
    prints for the same commit, with the same ``[rule-id]``."""
    from tests.fixtures.server import dakora_executable

    out = run_git(tmp_path, "clone", "-q", live.url(live.write_key), "w")
    assert out.returncode == 0, out.stderr
    repo = GitRepoBuilder(tmp_path / "w")
    repo.write(
        "prompts/rule-ids.yaml",
        make_prompt_yaml(id="rule-ids", version="1.0.0", template="Hi {{ nmae }}\n"),
    )
    repo.write("prompts/broken.yaml", "id: broken\nversion: [\n")
    repo.commit("two mistakes")
    pushed = run_git(repo.path, "push", "origin", "HEAD:refs/heads/rule-ids")
    assert pushed.returncode != 0
    remote = sorted(
        line.removeprefix("remote: ").strip()
        for line in pushed.stderr.splitlines()
        if line.startswith("remote: error: prompts/")
    )

    # lint of the same commit against its parent (what the push checks)
    linted = subprocess.run(
        [dakora_executable(), "lint", str(repo.path), "--ref", "HEAD"],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )
    assert linted.returncode == 1, linted.stdout + linted.stderr
    lint_errors = sorted(
        # "path:line: error: message [rule]" -> "error: path:line: message [rule]"
        "error: " + line.replace(": error: ", ": ", 1)
        for line in linted.stdout.splitlines()
        if ": error: " in line
    )
    assert remote == lint_errors, pushed.stderr
    rules = {line.rsplit("[", 1)[-1].rstrip("]") for line in remote}
    assert {"undeclared-variable", "yaml-syntax"} <= rules, remote
