"""The mirror in a real ``dakora serve``: Azure backend on Azurite, real git pushes.

One server (SQLite) and one project for the module: incremental uploads after each
push, a Blob outage during pushes (the pushes succeed, the outbox grows and survives a
restart, the worker catches up when Blob returns) and ``dakora restore`` of a deleted
repository.
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.storage.blob import ContainerClient

from dakora.registry.mirror import read_manifest
from dakora.registry.mirror.azure_store import API_VERSION, AzureBlobStore
from tests.fixtures.azurite import Azurite
from tests.fixtures.gitrepos import GitRepoBuilder, make_prompt_yaml
from tests.integration.git_server_support import bare_refs, run_git

pytestmark = pytest.mark.integration

WS, SLUG = "acme", "mirrored"
PREFIX = f"{WS}/{SLUG}/"
PROMPTS = 150
WAIT_S = 60.0

WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
]


def filler(rng: random.Random, words: int) -> str:
    return " ".join(
        rng.choice(WORDS) if i % 2 else f"{rng.getrandbits(40):010x}"
        for i in range(words)
    )


class Setup:
    def __init__(self, server: Any, azurite: Azurite, container: str, base: Path):
        self.server = server
        self.azurite = azurite
        self.container = ContainerClient.from_connection_string(
            azurite.connection_string, container, api_version=API_VERSION
        )
        self.store = AzureBlobStore(self.container)
        self.project = server.create_project(WS, SLUG)
        self.repo_path = Path(self.project["repo_path"])
        self.key = server.create_key(f"{WS}/{SLUG}", "write")["key"]
        out = run_git(base, "clone", "-q", self.url, "work")
        assert out.returncode == 0, out.stderr
        self.work = GitRepoBuilder(base / "work")
        self.work.git("symbolic-ref", "HEAD", "refs/heads/main")
        self.rng = random.Random(5)
        self.versions: dict[str, tuple[int, int]] = {}

    @property
    def url(self) -> str:  # the port changes when the server restarts
        server = self.server
        return f"http://git:{self.key}@{server.host}:{server.port}/git/{WS}/{SLUG}.git"

    def version(self, i: int) -> str:
        major, minor = self.versions[f"p{i:04d}"]
        return f"{major}.{minor}.0"

    def write_prompt(self, i: int, bump: bool = True) -> None:
        major, minor = self.versions.get(f"p{i:04d}", (1, -1))
        minor = minor + 1 if bump else minor
        self.versions[f"p{i:04d}"] = (major, minor)
        self.work.write(
            f"prompts/p{i:04d}.yaml",
            make_prompt_yaml(
                id=f"p{i:04d}",
                version=f"{major}.{minor}.0",
                template=f"{filler(self.rng, 120)} {{{{ name }}}}\n",
            ),
        )

    def push(self, *refspecs: str) -> float:
        started = time.monotonic()
        out = run_git(self.work.path, "push", self.url, *(refspecs or ("HEAD:main",)))
        elapsed = time.monotonic() - started
        assert out.returncode == 0, out.stderr
        return elapsed

    def pack_bytes(self) -> int:
        return sum(
            b.size
            for b in self.container.list_blobs(name_starts_with=PREFIX + "objects/")
        )

    def mirrored(self) -> bool:
        manifest, etag = read_manifest(self.store, PREFIX)
        return etag is not None and manifest.refs == bare_refs(self.repo_path)

    def wait_mirrored(self, timeout: float = WAIT_S) -> float:
        started = time.monotonic()
        while not self.mirrored():
            if time.monotonic() - started > timeout:
                raise AssertionError(
                    f"mirror did not catch up: {self.status()}\n"
                    f"{self.server.log_text()[-3000:]}"
                )
            time.sleep(0.02)
        return time.monotonic() - started

    def status(self) -> dict[str, Any]:
        proc = self.server.dakora("mirror", "status", "--json")
        data = json.loads(proc.stdout)
        rows = [r for r in data["projects"] if r["project"] == f"{WS}/{SLUG}"]
        assert len(rows) == 1, data
        row: dict[str, Any] = rows[0]
        return row

    def api(self, path: str) -> httpx.Response:
        with self.server.client(self.key) as client:
            return client.get(f"/api/projects/{WS}~{SLUG}{path}")


@pytest.fixture(scope="module")
def live(
    start_live_server: Any,
    azurite: Azurite,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Setup]:
    container = f"live{uuid.uuid4().hex[:12]}"
    server = start_live_server(
        env={
            "DAKORA_MIRROR_BACKEND": "azure",
            "DAKORA_AZURE_CONNECTION_STRING": azurite.connection_string,
            "DAKORA_AZURE_CONTAINER": container,
        }
    )
    setup = Setup(server, azurite, container, tmp_path_factory.mktemp("mirror-live"))
    for i in range(PROMPTS):
        setup.write_prompt(i)
    setup.work.commit("many prompts")
    setup.push()
    setup.wait_mirrored()
    try:
        yield setup
    finally:
        azurite.start()  # whatever a test did
        server.stop()


def test_each_push_uploads_only_what_is_new(live: Setup) -> None:
    total_before = live.pack_bytes()
    assert total_before > 100_000  # a repository worth mirroring incrementally
    lags = []
    for round_ in range(3):
        live.write_prompt(round_)
        live.work.commit(f"change p{round_:04d}")
        before = live.pack_bytes()
        live.push()
        lags.append(live.wait_mirrored())
        added = live.pack_bytes() - before
        assert 0 < added < total_before / 10, (added, total_before)
        version = live.version(round_)
        copy = live.store.get(f"{PREFIX}prompts/p{round_:04d}/{version}.yaml")
        assert copy is not None and f"version: {version}".encode() in copy[0]
    status = live.status()
    assert status["pending"] == 0 and status["last_error"] is None
    print(f"mirror lag after a push (median of 3): {statistics.median(lags):.3f} s")


def test_blob_outage_never_fails_a_push_and_the_mirror_catches_up(
    live: Setup,
) -> None:
    up = []
    for i in range(10, 12):
        live.write_prompt(i)
        live.work.commit(f"up {i}")
        up.append(live.push())
    live.wait_mirrored()
    live.azurite.stop()
    try:
        down = []
        for i in range(12, 15):
            live.write_prompt(i)
            live.work.commit(f"down {i}")
            down.append(live.push())
        deadline = time.monotonic() + WAIT_S
        status = live.status()
        while status["last_error"] is None:  # the worker tried and failed
            assert time.monotonic() < deadline, status
            time.sleep(0.2)
            status = live.status()
        assert status["pending"] >= 3
        assert status["attempts"] >= 1
        assert "unavailable" in status["last_error"]
        # Pushes do not call Blob: no retry or timeout shows up in their duration.
        assert max(down) < 3 * max(up) + 2.0, (up, down)
        print(f"push durations, Blob up {up} s, Blob down {down} s")
        # The API keeps serving the pushed versions.
        got = live.api("/prompts/p0014").json()
        assert got["version"] == live.version(14)
        # The outbox is in the database: a restart keeps every pending row.
        live.server.restart()
        assert live.status()["pending"] >= 3
    finally:
        live.azurite.start()
    live.wait_mirrored()
    deadline = time.monotonic() + WAIT_S
    while live.status()["pending"]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    manifest, _ = read_manifest(live.store, PREFIX)
    assert manifest.refs == bare_refs(live.repo_path)
    for i in range(12, 15):
        version = live.version(i)
        assert live.store.exists(f"{PREFIX}prompts/p{i:04d}/{version}.yaml")


def test_restore_brings_back_every_ref_commit_and_version(
    live: Setup, tmp_path: Path
) -> None:
    work = live.work
    work.branch("feature")
    work.switch("feature")
    live.write_prompt(20)
    work.commit("feature work")
    work.tag("v-light")
    work.switch("main")
    live.write_prompt(21)
    work.commit("release")
    work.tag("v1", message="release v1")
    live.push("main", "feature", "--tags")
    live.wait_mirrored()

    before_refs = bare_refs(live.repo_path)
    assert {"refs/heads/main", "refs/heads/feature", "refs/tags/v1"} <= set(before_refs)
    paths = [
        "/prompts",
        "/prompts/p0021",
        "/prompts/p0020?ref=feature",
        "/prompts/p0020?ref=v-light",
        "/prompts/p0021?ref=v1",
        "/prompts/p0000/versions",
    ]
    before_api = {p: live.api(p).json() for p in paths}
    for p, body in before_api.items():
        assert "code" not in body, (p, body)
    commits = run_git(live.repo_path, "rev-list", "--all").stdout.split()

    live.server.stop()
    shutil.rmtree(live.repo_path)
    refused = live.server.dakora("restore", f"{WS}/{SLUG}", "--json", check=False)
    assert refused.returncode == 0, refused.stderr
    summary = json.loads(refused.stdout)
    assert summary["refs"] == before_refs
    again = live.server.dakora("restore", f"{WS}/{SLUG}", check=False)
    assert again.returncode != 0 and "--force" in again.stderr
    assert "Traceback" not in again.stderr
    forced = live.server.dakora("restore", f"{WS}/{SLUG}", "--force", "--json")
    moved = json.loads(forced.stdout)["previous_repo_moved_to"]
    assert moved and Path(moved).is_dir() and moved.startswith(str(live.repo_path))
    live.server.start()

    assert bare_refs(live.repo_path) == before_refs
    assert run_git(live.repo_path, "rev-list", "--all").stdout.split() == commits
    fsck = run_git(live.repo_path, "fsck", "--strict")
    assert fsck.returncode == 0, fsck.stderr
    for p, body in before_api.items():
        assert live.api(p).json() == body, p
    out = run_git(tmp_path, "clone", "-q", live.url, "again")
    assert out.returncode == 0, out.stderr
    assert GitRepoBuilder(tmp_path / "again").head() == before_refs["refs/heads/main"]


def test_mirror_sync_command_reports_an_up_to_date_project(live: Setup) -> None:
    proc = live.server.dakora("mirror", "sync", f"{WS}/{SLUG}", "--json")
    result = json.loads(proc.stdout)["results"]
    assert result == [
        {
            "project": f"{WS}/{SLUG}",
            "ok": True,
            "packs_uploaded": 0,
            "bytes_uploaded": 0,
            "prompts_written": 0,
            "refs": len(bare_refs(live.repo_path)),
        }
    ]
    missing = live.server.dakora("mirror", "sync", "acme/nope", check=False)
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
