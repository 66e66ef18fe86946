"""Two replicas (docs/design.md §11): two ``dakora serve`` processes sharing one PostgreSQL
database and one Azurite container, each with its own data dir (repositories).

- a push to A is served by B, which has no repository yet and rehydrates it from the
  mirror (and a later push reaches B the same way: LISTEN/NOTIFY + catch-up);
- concurrent pushes to one project through A and B never lose an update: per base,
  exactly one wins and the history holds every accepted commit;
- a key revoked on A (``dakora admin revoke-key`` with A's settings) is refused by B
  on its next request.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.fixtures.azurite import Azurite
from tests.fixtures.gitrepos import GitRepoBuilder, make_prompt_yaml
from tests.integration.git_server_support import bare_refs, run_git

pytestmark = pytest.mark.integration

WS = "acme"
SERVE_DEADLINE_S = 15.0


class Pair:
    def __init__(self, a: Any, b: Any) -> None:
        self.a, self.b = a, b

    def url(self, server: Any, slug: str, key: str) -> str:
        return f"http://git:{key}@{server.host}:{server.port}/git/{WS}/{slug}.git"

    def local_repo(self, server: Any, slug: str) -> Path:
        return Path(server.data_dir) / "repos" / WS / f"{slug}.git"

    def get(self, server: Any, key: str, path: str) -> httpx.Response:
        with server.client(key) as client:
            return client.get(path)


@pytest.fixture(scope="module")
def pair(
    start_live_server: Any,
    azurite: Azurite,
    postgres_url: str,
) -> Iterator[Pair]:
    from tests.fixtures.postgres import _create_database, _drop_database

    name = f"dakora_replicas_{uuid.uuid4().hex[:10]}"
    url = _create_database(postgres_url, name)
    env = {
        "DAKORA_MIRROR_BACKEND": "azure",
        "DAKORA_AZURE_CONNECTION_STRING": azurite.connection_string,
        "DAKORA_AZURE_CONTAINER": f"replicas{uuid.uuid4().hex[:10]}",
        "DAKORA_KEY_PEPPER": "shared-pepper-of-both-replicas",
    }
    a = start_live_server(database_url=url, env=env)
    b = start_live_server(database_url=url, env=env)
    try:
        yield Pair(a, b)
    finally:
        a.close()
        b.close()
        with contextlib.suppress(Exception):
            _drop_database(postgres_url, name)


def clone(url: str, dest: Path) -> GitRepoBuilder:
    out = run_git(dest.parent, "clone", "-q", url, dest.name)
    assert out.returncode == 0, out.stderr
    repo = GitRepoBuilder(dest)
    if not repo.git("branch", "--show-current"):
        repo.git("symbolic-ref", "HEAD", "refs/heads/main")
    return repo


def served_version(pair: Pair, server: Any, key: str, slug: str, pid: str) -> Any:
    r = pair.get(server, key, f"/api/projects/{WS}~{slug}/prompts/{pid}")
    return r.json().get("version") if r.status_code == 200 else r.status_code


def test_a_push_to_a_is_served_by_b(pair: Pair, tmp_path: Path) -> None:
    slug = "served"
    pair.a.create_project(WS, slug)
    key = pair.a.create_key(f"{WS}/{slug}", "write")["key"]
    assert not pair.local_repo(pair.b, slug).exists()

    work = clone(pair.url(pair.a, slug, key), tmp_path / "w")
    timings = []
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        work.write(
            "prompts/greeting.yaml",
            make_prompt_yaml(id="greeting", version=version),
        )
        work.commit(f"greeting {version}")
        out = run_git(work.path, "push", "origin", "HEAD:main")
        assert out.returncode == 0, out.stderr
        pushed = time.monotonic()
        while served_version(pair, pair.b, key, slug, "greeting") != version:
            assert time.monotonic() - pushed < SERVE_DEADLINE_S, pair.b.log_text()
            time.sleep(0.01)
        timings.append(time.monotonic() - pushed)
    # B rehydrated its own repository from the mirror
    assert bare_refs(pair.local_repo(pair.b, slug)) == bare_refs(
        pair.local_repo(pair.a, slug)
    )
    # and serves git too: a clone from B has the pushed commit
    again = clone(pair.url(pair.b, slug, key), tmp_path / "from-b")
    assert again.head() == work.head()
    print(f"push on A -> served by B: {', '.join(f'{t:.3f}' for t in timings)} s")
    # B's worker never recorded an error for rows it could not mirror (A did them)
    deadline = time.monotonic() + SERVE_DEADLINE_S
    while True:
        rows = {
            r["project"]: r
            for r in json.loads(pair.b.dakora("mirror", "status", "--json").stdout)[
                "projects"
            ]
        }
        row = rows[f"{WS}/{slug}"]
        assert row["last_error"] is None, row
        if row["pending"] == 0:
            break
        assert time.monotonic() < deadline, row
        time.sleep(0.2)


def test_concurrent_pushes_through_both_replicas_never_lose_an_update(
    pair: Pair, tmp_path: Path
) -> None:
    slug = "contended"
    pair.a.create_project(WS, slug)
    key = pair.a.create_key(f"{WS}/{slug}", "write")["key"]
    seed = clone(pair.url(pair.a, slug, key), tmp_path / "seed")
    seed.write("prompts/base.yaml", make_prompt_yaml(id="base"))
    seed.commit("base")
    out = run_git(seed.path, "push", "origin", "HEAD:main")
    assert out.returncode == 0, out.stderr

    clones = {
        "a": clone(pair.url(pair.a, slug, key), tmp_path / "via-a"),
        "b": clone(pair.url(pair.b, slug, key), tmp_path / "via-b"),
    }
    servers = {"a": pair.a, "b": pair.b}
    winners: list[str] = []
    rounds = 4
    for round_ in range(rounds):
        base = index_main(pair, slug)
        for name, repo in clones.items():
            out = run_git(repo.path, "fetch", "-q", "origin")
            assert out.returncode == 0, out.stderr
            repo.git("reset", "-q", "--hard", base)
            repo.write(
                f"prompts/{name}{round_}.yaml",
                make_prompt_yaml(id=f"{name}{round_}"),
            )
            repo.commit(f"{name} round {round_}")
        results: dict[str, Any] = {}
        barrier = threading.Barrier(2)
        threads = [
            threading.Thread(target=push_at_once, args=(barrier, repo, name, results))
            for name, repo in clones.items()
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ok = [n for n, r in results.items() if r.returncode == 0]
        assert len(ok) == 1, {n: r.stderr for n, r in results.items()}
        loser = next(n for n in results if n not in ok)
        assert "rejected" in results[loser].stderr, results[loser].stderr
        winners.append(clones[ok[0]].head())
        assert index_main(pair, slug) == winners[-1]

    check = clone(pair.url(pair.b, slug, key), tmp_path / "check")
    history = check.git("rev-list", "HEAD").split()
    assert all(w in history for w in winners)
    assert len(history) == 1 + rounds  # base + one winner per round, nothing else
    for server in servers.values():  # both replicas' repositories agree
        out = run_git(
            tmp_path, "ls-remote", pair.url(server, slug, key), "refs/heads/main"
        )
        assert out.stdout.split()[0] == winners[-1]


def push_at_once(
    barrier: threading.Barrier,
    repo: GitRepoBuilder,
    name: str,
    results: dict[str, Any],
) -> None:
    barrier.wait()
    results[name] = run_git(repo.path, "push", "origin", "HEAD:main")


def index_main(pair: Pair, slug: str) -> str:
    from dakora.registry.db import projects, refs, workspaces

    engine = pair.a.engine()
    with engine.connect() as conn:
        row = conn.execute(
            select(refs.c.sha)
            .join(projects, projects.c.id == refs.c.project_id)
            .join(workspaces, workspaces.c.id == projects.c.workspace_id)
            .where(
                workspaces.c.slug == WS,
                projects.c.slug == slug,
                refs.c.name == "refs/heads/main",
            )
        ).scalar_one()
    return str(row)


def test_a_key_revoked_on_a_is_refused_by_b(pair: Pair) -> None:
    slug = "keys"
    pair.a.create_project(WS, slug)
    created = pair.a.create_key(f"{WS}/{slug}", "read")
    key, key_id = created["key"], created["id"]
    me = f"/api/projects/{WS}~{slug}/prompts"
    assert pair.get(pair.b, key, me).status_code == 200  # verified and cached by B
    assert pair.get(pair.a, key, me).status_code == 200
    pair.a.revoke_key(f"{WS}/{slug}", key_id)
    assert pair.get(pair.b, key, me).status_code == 401
    assert pair.get(pair.a, key, me).status_code == 401


def test_the_advisory_lock_excludes_other_sessions(pair: Pair) -> None:
    from sqlalchemy import text

    from dakora.registry.db import AdvisoryProjectLock

    first, second = (AdvisoryProjectLock(pair.a.engine()) for _ in range(2))
    held = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def holder() -> None:
        with first.hold("project-x"):
            order.append("first in")
            held.set()
            release.wait(30)
            order.append("first out")

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(30)
    with pair.a.engine().connect() as conn:
        locks = conn.execute(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
        ).scalar_one()
    assert locks >= 1
    waiter = threading.Thread(target=lambda: _take(second, order))
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive()  # blocked by the other session's lock
    release.set()
    waiter.join(30)
    thread.join(30)
    assert order == ["first in", "first out", "second in"]
    first.dispose()
    second.dispose()


def _take(lock: Any, order: list[str]) -> None:
    with lock.hold("project-x"):
        order.append("second in")


def test_a_stale_replica_refuses_a_push_based_on_old_refs(
    pair: Pair, azurite: Azurite, tmp_path: Path
) -> None:
    """Blob down: B cannot catch up with A's push, so a push through B from the old
    base is refused (never accepted over A's commit); once Blob is back it works."""
    slug = "stale"
    pair.a.create_project(WS, slug)
    key = pair.a.create_key(f"{WS}/{slug}", "write")["key"]
    via_a = clone(pair.url(pair.a, slug, key), tmp_path / "via-a")
    via_a.write("prompts/base.yaml", make_prompt_yaml(id="base"))
    base = via_a.commit("base")
    assert run_git(via_a.path, "push", "origin", "HEAD:main").returncode == 0
    via_b = clone(pair.url(pair.b, slug, key), tmp_path / "via-b")  # B caught up
    assert via_b.head() == base

    azurite.stop()
    try:
        via_a.write("prompts/from_a.yaml", make_prompt_yaml(id="from_a"))
        from_a = via_a.commit("from A")
        out = run_git(via_a.path, "push", "origin", "HEAD:main")
        assert out.returncode == 0, out.stderr  # Blob down never fails a push
        via_b.write("prompts/from_b.yaml", make_prompt_yaml(id="from_b"))
        via_b.commit("from B")
        out = run_git(via_b.path, "push", "origin", "HEAD:main")
        assert out.returncode != 0
        assert "remote rejected" in out.stderr or "fetch first" in out.stderr, (
            out.stderr
        )
        assert index_main(pair, slug) == from_a
    finally:
        azurite.start()
    out = run_git(via_b.path, "pull", "-q", "--rebase", "origin", "main")
    assert out.returncode == 0, out.stderr
    out = run_git(via_b.path, "push", "origin", "HEAD:main")
    assert out.returncode == 0, out.stderr
    history = via_b.git("rev-list", "HEAD").split()
    assert from_a in history and base in history
    assert index_main(pair, slug) == via_b.head()


def test_a_replica_restarting_behind_the_index_never_rolls_it_back(
    pair: Pair, tmp_path: Path
) -> None:
    """B restarts with a repository behind the index (A took pushes meanwhile): its
    start-up repair must not reindex from it (the project row names B's path)."""
    slug = "restarts"
    pair.b.create_project(WS, slug)  # the row's repo_path is in B's data dir
    key = pair.b.create_key(f"{WS}/{slug}", "write")["key"]
    work = clone(pair.url(pair.a, slug, key), tmp_path / "w")
    work.write("prompts/greeting.yaml", make_prompt_yaml(id="greeting"))
    work.commit("v1")
    assert run_git(work.path, "push", "origin", "HEAD:main").returncode == 0
    deadline = time.monotonic() + SERVE_DEADLINE_S
    while served_version(pair, pair.b, key, slug, "greeting") != "1.0.0":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    pair.b.stop()
    work.write(
        "prompts/greeting.yaml", make_prompt_yaml(id="greeting", version="2.0.0")
    )
    v2 = work.commit("v2")
    assert run_git(work.path, "push", "origin", "HEAD:main").returncode == 0
    pair.b.start()
    assert index_main(pair, slug) == v2
    assert served_version(pair, pair.b, key, slug, "greeting") == "2.0.0"
    assert index_main(pair, slug) == v2
