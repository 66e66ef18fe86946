"""``dakora hook pre-receive`` installed in a plain ``git init --bare`` repository.

Real git runs the hook with the pushed objects in its own quarantine
(``GIT_QUARANTINE_PATH``…); the hook must see them, print the same messages and exit
non-zero to reject.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.fixtures.gitrepos import GitRepoBuilder, make_prompt_yaml
from tests.integration.git_server_support import ROOT, bare_refs, run_git

pytestmark = pytest.mark.integration

DAKORA = ROOT / ".venv" / "bin" / "dakora"


@pytest.fixture
def hooked(tmp_path: Path) -> Path:
    bare = tmp_path / "server.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(f'#!/bin/sh\nexec "{DAKORA}" hook pre-receive\n')
    hook.chmod(0o755)
    return bare


@pytest.fixture
def clone(hooked: Path, tmp_path: Path) -> GitRepoBuilder:
    repo = GitRepoBuilder.init(tmp_path / "work")
    run_git(repo.path, "remote", "add", "origin", str(hooked))
    repo.write("parts/system/tone.md", "Be kind.\n")
    repo.write("prompts/greeting.yaml", make_prompt_yaml(id="greeting"))
    repo.commit("first")
    out = run_git(repo.path, "push", "origin", "main")
    assert out.returncode == 0, out.stderr
    return repo


def test_good_push_passes(hooked: Path, clone: GitRepoBuilder) -> None:
    clone.write(
        "prompts/greeting.yaml",
        make_prompt_yaml(id="greeting", version="1.1.0", template="Hi {{ name }}\n"),
    )
    sha = clone.commit("bump")
    out = run_git(clone.path, "push", "origin", "main")
    assert out.returncode == 0, out.stderr
    assert bare_refs(hooked)["refs/heads/main"] == sha


def test_bad_push_is_rejected_with_file_and_line(
    hooked: Path, clone: GitRepoBuilder
) -> None:
    before = bare_refs(hooked)
    clone.write(
        "prompts/greeting.yaml",
        make_prompt_yaml(id="greeting", version="1.1.0", template="Hi {{ nmae }}\n"),
    )
    clone.commit("typo")
    out = run_git(clone.path, "push", "origin", "main")
    assert out.returncode != 0
    assert "! [remote rejected] main -> main (pre-receive hook declined)" in out.stderr
    assert "remote: error: prompts/greeting.yaml:" in out.stderr
    assert "nmae" in out.stderr
    assert bare_refs(hooked) == before


def test_new_objects_only_in_quarantine_are_read(
    hooked: Path, clone: GitRepoBuilder
) -> None:
    """The bad blob exists only in git's quarantine: the hook must open it there."""
    clone.write("prompts/new.yaml", "id: new\nversion: 1.0\ntemplate: hi\n")
    clone.commit("float version")
    out = run_git(clone.path, "push", "origin", "main")
    assert out.returncode != 0
    assert "remote: error: prompts/new.yaml:" in out.stderr


def test_force_push_and_delete_of_main_are_rejected(
    hooked: Path, clone: GitRepoBuilder
) -> None:
    before = bare_refs(hooked)
    run_git(clone.path, "commit", "-q", "--amend", "-m", "rewritten")
    out = run_git(clone.path, "push", "--force", "origin", "main")
    assert out.returncode != 0
    assert "remote: error: refs/heads/main: non-fast-forward" in out.stderr
    out = run_git(clone.path, "push", "origin", ":main")
    assert out.returncode != 0
    assert "remote: error: refs/heads/main: cannot delete" in out.stderr
    assert bare_refs(hooked) == before


@pytest.mark.parametrize("newline", [True, False], ids=["newline", "no-newline"])
def test_stdin_with_or_without_trailing_newline(
    newline: bool, hooked: Path, clone: GitRepoBuilder
) -> None:
    """Shell hooks lose the last line without a newline (docs/design.md §12); we don't."""
    main = bare_refs(hooked)["refs/heads/main"]
    # The second (last) line deletes main: only seen if the last line is read.
    lines = f"{'0' * 40} {main} refs/heads/other\n{main} {'0' * 40} refs/heads/main"
    stdin = lines + ("\n" if newline else "")
    proc = subprocess.run(
        [str(DAKORA), "hook", "pre-receive", "--repo", str(hooked)],
        input=stdin,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1, proc.stderr
    assert "refs/heads/main: cannot delete" in proc.stderr


def test_empty_stdin_accepts(hooked: Path) -> None:
    proc = subprocess.run(
        [str(DAKORA), "hook", "pre-receive", "--repo", str(hooked)],
        input="",
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
