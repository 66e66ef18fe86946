"""Mirror backends and sync/restore against a local folder and real Azurite."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import ContainerClient

from dakora.registry.core.errors import RefConflict
from dakora.registry.mirror.azure_store import API_VERSION, AzureBlobStore
from dakora.registry.mirror.backends import BlobStore, LocalFolderStore
from dakora.registry.mirror.sync import (
    MirrorBehind,
    hydrate_project,
    read_manifest,
    restore_project,
    sync_project,
)
from tests.fixtures.azurite import Azurite

pytestmark = pytest.mark.integration


@pytest.fixture(params=["local", "azure"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, azure_container_name: str
) -> Iterator[BlobStore]:
    if request.param == "local":
        yield LocalFolderStore(tmp_path / "mirror")
        return
    server: Azurite = request.getfixturevalue("azurite")
    container = ContainerClient.from_connection_string(
        server.connection_string, azure_container_name, api_version=API_VERSION
    )
    yield AzureBlobStore(container)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def make_prompt(pid: str, version: str, body: str) -> str:
    return (
        f"id: {pid}\nversion: '{version}'\ntemplate: |\n  {body} {{{{ name }}}}\n"
        "inputs:\n  name: {type: string}\n"
    )


@pytest.fixture
def pushed_repo(tmp_path: Path) -> tuple[Path, Path]:
    """A work tree and the bare repo it pushes to (objects arrive as packs)."""
    bare = tmp_path / "project.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    work = tmp_path / "work"
    git(tmp_path, "init", "-q", str(work))
    (work / "prompts").mkdir()
    (work / "prompts" / "greeting.yaml").write_text(
        make_prompt("greeting", "1.0.0", "Hi")
    )
    git(work, "add", "-A")
    git(work, "commit", "-qm", "first")
    git(work, "remote", "add", "origin", str(bare))
    git(work, "push", "-q", "origin", "main")
    return work, bare


def test_create_only_and_cas(store: BlobStore) -> None:
    assert store.put_new("a/b/one.bin", b"1") is True
    assert store.put_new("a/b/one.bin", b"2") is False
    got = store.get("a/b/one.bin")
    assert got is not None and got[0] == b"1"
    assert store.get("a/missing") is None
    etag = store.put_if("a/manifest.json", b"v1", None)
    with pytest.raises(RefConflict):
        store.put_if("a/manifest.json", b"v1-again", None)
    etag2 = store.put_if("a/manifest.json", b"v2", etag)
    with pytest.raises(RefConflict):
        store.put_if("a/manifest.json", b"stale", etag)
    got = store.get("a/manifest.json")
    assert got is not None and got[0] == b"v2" and got[1] == etag2
    assert store.list("a/") == ["a/b/one.bin", "a/manifest.json"]
    assert store.exists("a/b/one.bin") and not store.exists("a/b/two.bin")


def test_sync_is_incremental_and_restore_round_trips(
    store: BlobStore, pushed_repo: tuple[Path, Path], tmp_path: Path
) -> None:
    work, bare = pushed_repo
    first = sync_project(store, "ws/proj", bare)
    assert first.packs_uploaded >= 1 and first.bytes_uploaded > 0
    assert first.refs["refs/heads/main"] == git(work, "rev-parse", "HEAD")

    again = sync_project(store, "ws/proj", bare)
    assert again.packs_uploaded == 0 and again.bytes_uploaded == 0

    (work / "prompts" / "greeting.yaml").write_text(
        make_prompt("greeting", "1.1.0", "Hello")
    )
    git(work, "commit", "-qam", "bump")
    git(work, "tag", "-a", "v1.1", "-m", "release")
    git(work, "checkout", "-qb", "feature")
    git(work, "push", "-q", "origin", "main", "feature", "--tags")
    blob = git(work, "rev-parse", "HEAD:prompts/greeting.yaml")
    third = sync_project(
        store, "ws/proj", bare, prompt_versions=[("greeting", "1.1.0", blob)]
    )
    assert third.packs_uploaded == 1
    assert third.prompts_written == 1
    copy = store.get("ws/proj/prompts/greeting/1.1.0.yaml")
    assert copy is not None and b"Hello" in copy[0]
    manifest, _ = read_manifest(store, "ws/proj")
    assert set(manifest.refs) == {
        "refs/heads/main",
        "refs/heads/feature",
        "refs/tags/v1.1",
    }

    restored = tmp_path / "restored.git"
    restore_project(store, "ws/proj", restored)
    for ref in ("refs/heads/main", "refs/heads/feature", "refs/tags/v1.1"):
        assert git(restored, "rev-parse", ref) == git(bare, "rev-parse", ref)
    git(restored, "fsck", "--strict")
    assert git(restored, "log", "--format=%s", "main") == "bump\nfirst"


def test_manifest_cas_conflict_rereads_and_retries(
    store: BlobStore, pushed_repo: tuple[Path, Path]
) -> None:
    work, bare = pushed_repo
    sync_project(store, "ws/proj", bare)
    (work / "prompts" / "greeting.yaml").write_text(
        make_prompt("greeting", "1.0.1", "Yo")
    )
    git(work, "commit", "-qam", "patch")
    git(work, "push", "-q", "origin", "main")

    class Racing:
        """Another replica writes the manifest between our read and our write."""

        def __init__(self, inner: BlobStore) -> None:
            self.inner = inner
            self.raced = False

        def __getattr__(self, name: str) -> object:
            return getattr(self.inner, name)

        def put_if(self, name: str, data: bytes, etag: str | None) -> str:
            if not self.raced:
                self.raced = True
                current = self.inner.get(name)
                assert current is not None
                self.inner.put_if(name, current[0] + b" ", current[1])
            return self.inner.put_if(name, data, etag)

    racing = Racing(store)
    result = sync_project(racing, "ws/proj", bare)  # type: ignore[arg-type]
    assert racing.raced and result.cas_retries == 1
    manifest, _ = read_manifest(store, "ws/proj")
    assert manifest.refs == result.refs
    assert manifest.refs["refs/heads/main"] == git(work, "rev-parse", "HEAD")


def test_a_replica_behind_the_index_never_moves_the_manifest_back(
    store: BlobStore, pushed_repo: tuple[Path, Path]
) -> None:
    work, bare = pushed_repo
    old = git(work, "rev-parse", "HEAD")
    sync_project(store, "ws/proj", bare)
    with pytest.raises(MirrorBehind):
        sync_project(
            store,
            "ws/proj",
            bare,
            expected_refs=lambda: {"refs/heads/main": "f" * 40},
        )
    manifest, _ = read_manifest(store, "ws/proj")
    assert manifest.refs == {"refs/heads/main": old}


def test_hydrate_brings_a_stale_replica_up_to_the_mirror(
    store: BlobStore, pushed_repo: tuple[Path, Path], tmp_path: Path
) -> None:
    work, bare = pushed_repo
    sync_project(store, "ws/proj", bare)
    replica = tmp_path / "replica.git"
    assert hydrate_project(store, "ws/proj", replica) >= 1  # missing: restored whole
    assert git(replica, "rev-parse", "main") == git(bare, "rev-parse", "main")

    (work / "prompts" / "greeting.yaml").write_text(
        make_prompt("greeting", "2.0.0", "Hey")
    )
    git(work, "commit", "-qam", "major")
    git(work, "push", "-q", "origin", "main")
    git(work, "push", "-q", "origin", "main:refs/heads/gone")
    sync_project(store, "ws/proj", bare)
    git(work, "push", "-q", "origin", ":refs/heads/gone")
    sync_project(store, "ws/proj", bare)

    # only the one new pack (pushing an existing commit to a new branch sends none)
    assert hydrate_project(store, "ws/proj", replica) == 1
    assert git(replica, "rev-parse", "main") == git(bare, "rev-parse", "main")
    assert "gone" not in git(replica, "branch", "--list")
    git(replica, "fsck", "--strict")
    assert hydrate_project(store, "ws/proj", replica) == 0


def test_a_replica_catches_up_to_the_index_from_the_mirror(
    db_engine: Any, tmp_path: Path
) -> None:
    """ReplicaSync: a missing repository is restored, a stale one waits for the
    mirror to reach the index (MirrorBehind when it does not in time), and the
    outbox worker of a replica behind the index leaves the row alone."""
    from dakora.registry.core.settings import Settings
    from dakora.registry.index.writer import index_project
    from dakora.registry.mirror.outbox import MirrorService, enqueue
    from dakora.registry.mirror.replica import ReplicaSync, local_refs
    from dakora.registry.tenancy.projects import create_project
    from dakora.registry.tenancy.workspaces import create_workspace

    settings = Settings(data_dir=tmp_path / "primary")
    create_workspace(db_engine, "ws")
    project = create_project(db_engine, settings, "ws", "proj")
    origin = Path(project.repo_path)
    work = tmp_path / "work"
    git(tmp_path, "init", "-q", str(work))
    (work / "prompts").mkdir()
    (work / "prompts" / "greeting.yaml").write_text(
        make_prompt("greeting", "1.0.0", "Hi")
    )
    git(work, "add", "-A")
    git(work, "commit", "-qm", "first")
    git(work, "push", "-q", str(origin), "HEAD:refs/heads/main")
    index_project(db_engine, project.id)
    store = LocalFolderStore(tmp_path / "mirror")
    sync_project(store, "ws/proj", origin)

    replica_path = tmp_path / "replica" / "proj.git"
    replica = ReplicaSync(db_engine, store, wait_seconds=0.3, poll_seconds=0.02)
    assert replica.ensure_fresh(project.id, "ws/proj/", replica_path) is True
    assert local_refs(replica_path) == {
        "refs/heads/main": git(work, "rev-parse", "HEAD")
    }
    assert replica.ensure_fresh(project.id, "ws/proj/", replica_path) is False

    (work / "prompts" / "greeting.yaml").write_text(
        make_prompt("greeting", "1.1.0", "Yo")
    )
    git(work, "commit", "-qam", "second")
    git(work, "tag", "-a", "v2", "-m", "v2")
    git(work, "push", "-q", str(origin), "HEAD:refs/heads/main", "v2")
    index_project(db_engine, project.id)  # the index is ahead of the mirror
    with pytest.raises(MirrorBehind):
        replica.ensure_fresh(project.id, "ws/proj/", replica_path)

    with db_engine.begin() as conn:
        enqueue(conn, project.id)
    behind = MirrorService(db_engine, store, repo_path_for=lambda p: replica_path)
    assert behind.run_pending() == (0, 0)  # not its to mirror: no error recorded
    [status] = behind.status()
    assert status.pending == 1 and status.last_error is None and status.attempts == 0

    primary = MirrorService(db_engine, store)
    assert primary.run_pending() == (1, 0)
    assert replica.ensure_fresh(project.id, "ws/proj/", replica_path) is True
    assert local_refs(replica_path) == local_refs(origin)
    assert git(replica_path, "rev-parse", "v2") == git(origin, "rev-parse", "v2")
    git(replica_path, "fsck", "--strict")


def test_loose_objects_are_mirrored_without_leaving_the_repository(
    store: BlobStore, pushed_repo: tuple[Path, Path], tmp_path: Path
) -> None:
    """Objects written loose (an import, a hand-made commit) reach the mirror once,
    and stay readable in place while that happens."""
    work, bare = pushed_repo
    (work / "prompts" / "greeting.yaml").write_text(
        make_prompt("greeting", "1.2.0", "Hoi")
    )
    git(work, "commit", "-qam", "loose")
    head = git(work, "rev-parse", "HEAD")
    # a small fetch lands its objects loose (below git's unpack limit)
    git(bare, "fetch", "-q", "--no-write-fetch-head", str(work), "main")
    git(bare, "update-ref", "refs/heads/main", head)
    assert not git(bare, "count-objects").startswith("0 objects")
    loose_before = git(bare, "count-objects")
    first = sync_project(store, "ws/proj", bare)
    assert git(bare, "count-objects") == loose_before  # loose files left in place
    assert first.packs_uploaded == 1
    second = sync_project(store, "ws/proj", bare)
    assert second.packs_uploaded == 0  # packed once, not again
    restored = tmp_path / "restored.git"
    restore_project(store, "ws/proj", restored)
    assert git(restored, "rev-parse", "main") == head
    git(restored, "fsck", "--strict")
