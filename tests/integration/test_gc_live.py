"""Packs do not pile up (issue 10 finding 12), through the installed ``dakora serve``
with real git: past ``DAKORA_GC_PACK_LIMIT`` packs a project is repacked in the
background; ``dakora admin gc WS/PROJECT`` repacks by hand. No object is lost — not
even one no ref reaches any more — the repository stays ``git fsck``-clean, the API
keeps serving, and a restore from the mirror afterwards gives the same refs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.gitrepos import make_prompt_yaml
from tests.integration.git_server_support import bare_objects, bare_refs, run_git
from tests.integration.receive_attack_support import LiveProject

pytestmark = pytest.mark.integration

LIMIT = 4


def packs(path: Path) -> int:
    return len(list((path / "objects" / "pack").glob("*.idx")))


def fsck(path: Path) -> None:
    out = run_git(path, "--git-dir", str(path), "fsck", "--full", "--strict")
    assert out.returncode == 0, out.stdout + out.stderr


def bump(project: LiveProject, version: str) -> str:
    project.work.write(
        "prompts/greeting.yaml",
        make_prompt_yaml(id="greeting", version=version, template=f"Hi {version}\n"),
    )
    sha = project.work.commit(f"v{version}")
    out = project.push(sha)
    assert out.returncode == 0, out.stderr
    return sha


@pytest.fixture(scope="module")
def server(start_live_server: Any) -> Any:
    return start_live_server(env={"DAKORA_GC_PACK_LIMIT": str(LIMIT)})


def test_packs_are_repacked_past_the_limit_and_nothing_is_lost(
    server: Any, tmp_path: Path
) -> None:
    project = LiveProject(server, "gc-auto", tmp_path)
    # an object no ref will reach: a branch pushed, then deleted
    project.work.write("notes/draft.txt", "draft\n")
    draft = project.work.commit("draft")
    assert project.push(draft, "refs/heads/draft").returncode == 0
    out = run_git(project.work.path, "push", project.url(), ":refs/heads/draft")
    assert out.returncode == 0, out.stderr
    run_git(project.work.path, "reset", "-q", "--hard", project.main)
    before = bare_objects(project.path)
    assert draft in before
    assert packs(project.path) == 2  # main's first push and the draft's
    for minor in range(1, LIMIT):  # the last push makes LIMIT + 1 packs
        bump(project, f"1.{minor}.0")
    deadline = time.monotonic() + 60
    while packs(project.path) > 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert packs(project.path) == 1, server.log_text()[-2000:]
    after = bare_objects(project.path)
    assert before <= after  # nothing deleted, the unreachable draft included
    fsck(project.path)
    with server.client(project.read_key) as client:
        r = client.get(f"/api/projects/{project.id}/prompts/greeting")
    assert r.status_code == 200 and r.json()["version"] == f"1.{LIMIT - 1}.0"
    clone = tmp_path / "clone"
    out = run_git(tmp_path, "clone", "-q", project.url(project.read_key), str(clone))
    assert out.returncode == 0, out.stderr


def test_admin_gc_repacks_and_the_mirror_restores_the_same_repository(
    server: Any, tmp_path: Path
) -> None:
    project = LiveProject(server, "gc-manual", tmp_path)
    for minor in range(1, LIMIT):  # stays under the limit: no background repack
        bump(project, f"1.{minor}.0")
    assert packs(project.path) == LIMIT
    refs, objects = bare_refs(project.path), bare_objects(project.path)
    done = server.admin("gc", "acme/gc-manual")
    assert done["packs_before"] == LIMIT and done["packs_after"] == 1, done
    assert packs(project.path) == 1
    assert bare_refs(project.path) == refs and objects <= bare_objects(project.path)
    fsck(project.path)
    again = server.admin("gc", "acme/gc-manual")  # nothing left to do
    assert again["packs_before"] == again["packs_after"] == 1

    server.dakora("mirror", "sync", "acme/gc-manual")
    server.stop()
    try:
        server.dakora("restore", "--force", "acme/gc-manual")
        assert bare_refs(project.path) == refs
        assert objects <= bare_objects(project.path)
        fsck(project.path)
    finally:
        server.start()
    with server.client(project.read_key) as client:
        r = client.get(f"/api/projects/{project.id}/prompts/greeting")
    assert r.status_code == 200 and r.json()["version"] == f"1.{LIMIT - 1}.0"


def test_admin_gc_of_an_unknown_project_is_a_clear_error(server: Any) -> None:
    proc = server.admin("gc", "acme/nope", check=False)
    assert proc.returncode != 0
    assert "nope" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
