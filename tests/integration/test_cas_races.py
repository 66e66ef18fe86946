"""The compare-and-swap of the refs, tested with writers that do not take the project
lock (issue 14 point 1): a plain ``git push`` into the bare repository through the
``dakora hook pre-receive`` path, an operator's ``git update-ref``, and a second
process writing the ref. Each moves a ref *between* the pipeline's pre-check (old
shas still match) and its write: the quarantine's ``accept`` — which runs exactly
there — first lets the other writer in. The pipeline must then refuse (every ref
``ng``, nothing of ours applied, the other writer's ref kept); written without the
old-value condition (``set_if_equals(ref, None, …)``) these tests fail.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from dulwich.repo import Repo

from dakora.hooks import PushContext, Quarantine, ReceivePipeline, RefUpdate
from dakora.hooks.receive import STALE
from dakora.registry.core import ZERO_SHA
from tests.fixtures.gitrepos import GitRepoBuilder, make_prompt_yaml
from tests.integration.git_server_support import ROOT, bare_refs, run_git

pytestmark = pytest.mark.integration

DAKORA = ROOT / ".venv" / "bin" / "dakora"


class RacingQuarantine(Quarantine):
    """A real quarantine whose ``accept`` first runs ``race`` (another writer)."""

    def __init__(self, objects_dir: str, race: Callable[[], None]) -> None:
        super().__init__(objects_dir)
        self.race = race
        self.raced = False

    def accept(self) -> list[str]:
        self.race()
        self.raced = True
        return super().accept()


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    path = tmp_path / "server.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    hook = path / "hooks" / "pre-receive"
    hook.write_text(f'#!/bin/sh\nexec "{DAKORA}" hook pre-receive\n')
    hook.chmod(0o755)
    return path


def work_clone(bare: Path, dest: Path) -> GitRepoBuilder:
    out = run_git(dest.parent, "clone", "-q", str(bare), str(dest))
    assert out.returncode == 0, out.stderr
    return GitRepoBuilder(dest)


@pytest.fixture
def first(bare: Path, tmp_path: Path) -> GitRepoBuilder:
    repo = GitRepoBuilder.init(tmp_path / "first")
    repo.write("prompts/greeting.yaml", make_prompt_yaml(id="greeting"))
    repo.commit("first")
    repo.branch("old")
    out = run_git(repo.path, "push", str(bare), "main", "old")
    assert out.returncode == 0, out.stderr
    return repo


def commit_version(repo: GitRepoBuilder, version: str) -> str:
    repo.write(
        "prompts/greeting.yaml",
        make_prompt_yaml(id="greeting", version=version, template=f"v{version}\n"),
    )
    return repo.commit(f"v{version}")


def push_through_pipeline(
    bare: Path,
    source: GitRepoBuilder,
    updates: list[RefUpdate],
    race: Callable[[], None],
) -> tuple[object, RacingQuarantine]:
    """Send ``source``'s new objects as a real pack into a quarantine of ``bare``
    and run the pipeline (default checks, real lock) on ``updates``."""
    have = [u.old for u in updates if u.old != ZERO_SHA]
    wants = [u.new for u in updates if u.new != ZERO_SHA]
    revs = "\n".join(wants + [f"^{h}" for h in have]) + "\n"
    pack = subprocess.run(
        ["git", "pack-objects", "--stdout", "--revs", "--thin", "-q"],
        cwd=source.path,
        input=revs.encode(),
        capture_output=True,
        check=True,
    ).stdout
    repo = Repo(str(bare))
    try:
        quarantine = RacingQuarantine(str(bare / "objects"), race)
        try:
            from io import BytesIO

            stream = BytesIO(pack)
            quarantine.receive_pack(stream.read, stream.read)
            result = ReceivePipeline().process(
                repo,
                updates,
                quarantine=quarantine,
                context=PushContext(source="git"),
            )
        finally:
            quarantine.drop()
    finally:
        repo.close()
    return result, quarantine


def assert_refused(result: object, quarantine: RacingQuarantine) -> None:
    assert quarantine.raced, "the race never ran: the pipeline stopped earlier"
    assert not result.accepted  # type: ignore[attr-defined]
    statuses = dict(result.statuses)  # type: ignore[attr-defined]
    assert statuses and all(s != "ok" for s in statuses.values()), statuses
    assert result.reason == STALE  # type: ignore[attr-defined]


def test_a_git_push_through_the_hook_between_check_and_write_wins(
    bare: Path, first: GitRepoBuilder, tmp_path: Path
) -> None:
    base = first.head()
    ours = commit_version(first, "1.1.0")
    other = work_clone(bare, tmp_path / "other")
    theirs = commit_version(other, "1.2.0")

    def race() -> None:  # git's receive-pack, with dakora's checks as its hook
        out = run_git(other.path, "push", "origin", "main")
        assert out.returncode == 0, out.stderr

    result, quarantine = push_through_pipeline(
        bare, first, [RefUpdate(base, ours, "refs/heads/main")], race
    )
    assert_refused(result, quarantine)
    assert bare_refs(bare)["refs/heads/main"] == theirs


def test_an_operators_update_ref_between_check_and_write_wins(
    bare: Path, first: GitRepoBuilder
) -> None:
    base = first.head()
    ours = commit_version(first, "1.1.0")
    first.switch("old")
    operator = commit_version(first, "1.0.1")
    out = run_git(first.path, "push", str(bare), "old")  # objects there, ref moved
    assert out.returncode == 0, out.stderr
    first.switch("main")

    def race() -> None:
        out = run_git(
            bare,
            "--git-dir",
            str(bare),
            "update-ref",
            "refs/heads/main",
            operator,
            base,
        )
        assert out.returncode == 0, out.stderr

    result, quarantine = push_through_pipeline(
        bare, first, [RefUpdate(base, ours, "refs/heads/main")], race
    )
    assert_refused(result, quarantine)
    assert bare_refs(bare)["refs/heads/main"] == operator


def test_a_delete_loses_to_a_second_process_moving_the_ref(
    bare: Path, first: GitRepoBuilder
) -> None:
    """``remove_if_equals``: our push moves main and deletes ``old``; a second
    process moves ``old`` in between. Nothing of ours may stay applied."""
    base = first.head()
    ours = commit_version(first, "1.1.0")
    moved = bare_refs(bare)["refs/heads/old"]
    out = run_git(first.path, "push", str(bare), f"{ours}:refs/heads/side")
    assert out.returncode == 0, out.stderr

    def race() -> None:  # another process writes the ref file (dulwich, no lock)
        code = (
            "import sys; from dulwich.repo import Repo; r = Repo(sys.argv[1]); "
            "assert r.refs.set_if_equals(b'refs/heads/old', sys.argv[2].encode(), "
            "sys.argv[3].encode())"
        )
        subprocess.run([sys.executable, "-c", code, str(bare), moved, ours], check=True)

    updates = [
        RefUpdate(base, ours, "refs/heads/main"),
        RefUpdate(moved, ZERO_SHA, "refs/heads/old"),
    ]
    result, quarantine = push_through_pipeline(bare, first, updates, race)
    assert_refused(result, quarantine)
    refs = bare_refs(bare)
    assert refs["refs/heads/old"] == ours  # the other process's write stands
    assert refs["refs/heads/main"] == base  # ours was rolled back
