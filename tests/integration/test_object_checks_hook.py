"""The object checks from inside git's own pre-receive hook (``dakora hook
pre-receive`` in a plain bare repository): git stored the pushed objects in its
quarantine — loose for a small push, a pack for a larger one — and the hook must read
and refuse them like the server does."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.fixtures.gitrepos import GitRepoBuilder, make_prompt_yaml
from tests.integration.git_server_support import ROOT, bare_refs, run_git
from tests.integration.receive_attack_support import (
    PUSH_OPTS,
    blob,
    commit,
    tree,
    tree_of,
    write_object,
)

pytestmark = pytest.mark.integration

DAKORA = ROOT / ".venv" / "bin" / "dakora"


@pytest.fixture
def hooked(tmp_path: Path) -> Path:
    bare = tmp_path / "server.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    # git must not refuse the objects itself: the hook is what is tested
    run_git(bare, "config", "receive.fsckObjects", "false")
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(f'#!/bin/sh\nexec "{DAKORA}" hook pre-receive\n')
    hook.chmod(0o755)
    return bare


@pytest.fixture
def work(hooked: Path, tmp_path: Path) -> GitRepoBuilder:
    repo = GitRepoBuilder.init(tmp_path / "work")
    repo.write("prompts/greeting.yaml", make_prompt_yaml(id="greeting"))
    repo.commit("first")
    out = run_git(repo.path, "push", str(hooked), "main")
    assert out.returncode == 0, out.stderr
    return repo


@pytest.mark.parametrize("unpack_limit", ["100", "1"])  # loose objects, then a pack
def test_duplicate_entries_are_refused_by_the_hook(
    hooked: Path, work: GitRepoBuilder, unpack_limit: str
) -> None:
    run_git(hooked, "config", "receive.unpackLimit", unpack_limit)
    repo = work.path
    prompts = tree_of(repo, "HEAD", "prompts")
    other = blob(repo, b"x\n")
    root = tree(repo, [(b"40000", b"prompts", prompts), (b"100644", b"prompts", other)])
    sha = commit(repo, root, work.head())
    before = bare_refs(hooked)
    out = run_git(repo, *PUSH_OPTS, "push", str(hooked), f"{sha}:refs/heads/main")
    assert out.returncode != 0
    assert "pre-receive hook declined" in out.stderr, out.stderr
    assert f"tree {root}" in out.stderr and "duplicateEntries" in out.stderr
    assert bare_refs(hooked) == before


def test_tag_at_a_large_blob_is_refused_by_the_hook(
    hooked: Path, work: GitRepoBuilder
) -> None:
    repo = work.path
    big = blob(repo, b"y" * (11 * 1024 * 1024))
    tag = write_object(
        repo,
        "tag",
        b"object " + big.encode() + b"\ntype blob\ntag v1\n"
        b"tagger A <a@b.c> 1700000000 +0000\n\nbig\n",
    )
    out = run_git(repo, *PUSH_OPTS, "push", str(hooked), f"{tag}:refs/tags/v1")
    assert out.returncode != 0
    assert f"blob {big}" in out.stderr and "limit 10485760" in out.stderr, out.stderr
    assert "refs/tags/v1" not in bare_refs(hooked)
