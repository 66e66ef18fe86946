"""Changes made by *other processes* reach a running server on its next request:
key revocations and ref moves, on SQLite (``PRAGMA data_version``) and PostgreSQL
(``LISTEN dakora_events``), and a lost PostgreSQL listener drops every cache.

On SQLite the very next request sees the change. On PostgreSQL the server learns it
from a notification that PostgreSQL delivers asynchronously right after the commit
(well under a millisecond on an idle machine); the tests there allow for that
delivery (a bounded retry) instead of racing it.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from tests.fixtures.server import LiveServer
from tests.integration.api_support import SAMPLE_REPO, git, import_project, new_key

pytestmark = pytest.mark.integration
BOTH_DATABASES = pytest.mark.parametrize(
    "live_server", ["sqlite", "postgresql"], indirect=True
)
POSTGRESQL_ONLY = pytest.mark.parametrize("live_server", ["postgresql"], indirect=True)


@dataclass(frozen=True)
class Project:
    server: LiveServer
    id: str

    @property
    def base(self) -> str:
        return f"/api/projects/{self.id}"


def _next_status(server: LiveServer, client: httpx.Client, url: str) -> int:
    """The status of the next request; on PostgreSQL, once the NOTIFY has arrived."""
    status = client.get(url).status_code
    if server.database_url.startswith("postgresql"):
        for _ in range(100):
            if status != 200:
                break
            time.sleep(0.02)
            status = client.get(url).status_code
    return status


@pytest.fixture(scope="module")
def project(live_server: LiveServer) -> Project:
    return Project(live_server, import_project(live_server, "events", "p", SAMPLE_REPO))


@BOTH_DATABASES
def test_revoked_by_another_process_is_refused_next_request(project: Project) -> None:
    from dakora.registry.tenancy import keys

    key, key_id = new_key(project.server, project.id, "read")
    with project.server.client(key) as c:
        for _ in range(3):  # cached now
            assert c.get(f"{project.base}/prompts").status_code == 200
        keys.revoke_key(project.server.engine(), project.id, key_id)
        assert _next_status(project.server, c, f"{project.base}/prompts") == 401
        assert c.get(f"{project.base}/prompts").status_code == 401


@BOTH_DATABASES
def test_revoked_by_the_cli_is_refused_next_request(project: Project) -> None:
    created = project.server.create_key("events/p", "read", name="cli")
    with project.server.client(created["key"]) as c:
        assert c.get(f"{project.base}/prompts").status_code == 200
        project.server.revoke_key("events/p", created["id"])
        assert _next_status(project.server, c, f"{project.base}/prompts") == 401


@BOTH_DATABASES
def test_other_keys_keep_working_after_a_revocation(project: Project) -> None:
    from dakora.registry.tenancy import keys

    keep, _ = new_key(project.server, project.id, "read")
    drop, drop_id = new_key(project.server, project.id, "read")
    with project.server.client(keep) as c, project.server.client(drop) as d:
        assert c.get(f"{project.base}/prompts").status_code == 200
        assert d.get(f"{project.base}/prompts").status_code == 200
        keys.revoke_key(project.server.engine(), project.id, drop_id)
        assert _next_status(project.server, d, f"{project.base}/prompts") == 401
        assert c.get(f"{project.base}/prompts").status_code == 200


@BOTH_DATABASES
def test_ref_moved_by_another_process_is_served_next_request(
    project: Project, tmp_path: Path
) -> None:
    from dulwich.repo import Repo

    from dakora.registry import tenancy
    from dakora.registry.index.writer import record_ref_updates

    key, _ = new_key(project.server, project.id, "read")
    engine = project.server.engine()
    bare = tenancy.get_project(engine, project.id).repo_path
    with project.server.client(key) as c:
        before = c.get(f"{project.base}/prompts/translate").json()
        assert c.get(f"{project.base}/prompts").json()["commit"] == before["commit"]
        # Another process moves main (here: git + the indexer, as a restore would).
        work = tmp_path / "work"
        subprocess.run(
            ["git", "clone", "-q", str(bare), str(work)],
            check=True,
            capture_output=True,
        )
        path = work / "prompts" / "general" / "translate.yaml"
        old = before["version"]
        major, minor, patch = (int(x) for x in old.split("."))
        new = f"{major}.{minor}.{patch + 1}"
        path.write_text(path.read_text().replace(f'"{old}"', f'"{new}"', 1))
        git(work, "commit", "-q", "-am", "translate: bump")
        git(work, "push", "-q", "origin", "main")
        head = git(work, "rev-parse", "HEAD")
        repo = Repo(str(bare))
        try:
            record_ref_updates(
                engine, project.id, repo, [("refs/heads/main", before["commit"], head)]
            )
        finally:
            repo.close()
        url = f"{project.base}/prompts/translate"
        if project.server.database_url.startswith("postgresql"):
            for _ in range(100):  # the NOTIFY is delivered asynchronously
                if c.get(url).json()["commit"] == head:
                    break
                time.sleep(0.02)
        after = c.get(url).json()
        assert (after["version"], after["commit"]) == (new, head)
        assert c.get(f"{project.base}/prompts").json()["commit"] == head


@POSTGRESQL_ONLY
def test_lost_listener_drops_the_caches(project: Project) -> None:
    """PostgreSQL only: with the LISTEN connection gone, a revocation whose NOTIFY
    nobody heard is still refused on the next request."""
    from dakora.registry.tenancy import keys

    server = project.server
    key, key_id = new_key(server, project.id, "read")
    engine = server.engine()
    listening = text(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND query ILIKE 'LISTEN %'"
    )
    with server.client(key) as c:
        assert c.get(f"{project.base}/prompts").status_code == 200
        with engine.connect() as conn:
            pids = [row.pid for row in conn.execute(listening)]
            assert pids, "the server listens for events"
            for pid in pids:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            conn.commit()
            gone = False
            for _ in range(200):
                conn.rollback()  # pg_stat_activity is a per-transaction snapshot
                alive = {row.pid for row in conn.execute(listening)}
                if not alive & set(pids):
                    gone = True
                    break
                time.sleep(0.05)
            assert gone
        keys.revoke_key(engine, project.id, key_id)
        assert c.get(f"{project.base}/prompts").status_code == 401
    # And the server reconnects: a fresh key works, a revocation is heard again.
    key2, key2_id = new_key(server, project.id, "read")
    with server.client(key2) as c:
        assert c.get(f"{project.base}/prompts").status_code == 200
        assert c.get(f"{project.base}/prompts").status_code == 200
        keys.revoke_key(engine, project.id, key2_id)
        assert _next_status(server, c, f"{project.base}/prompts") == 401
