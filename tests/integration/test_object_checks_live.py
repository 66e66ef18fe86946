"""Crafted objects pushed with the real git CLI into the installed ``dakora serve``:
every pushed object passes git-fsck-like checks, obeys the size limits whatever ref
points at it, and a compressed bomb is refused from its header (issue 10 findings 3,
4, 5, 9). Each refused push leaves the repository's refs and objects as they were."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.git_server_support import bare_objects, bare_refs, run_git
from tests.integration.receive_attack_support import (
    LiveProject,
    blob,
    commit,
    peak_rss_kib,
    raw_commit,
    reset_peak_rss,
    tree,
    tree_of,
    write_object,
    zero_blob_pack,
)

pytestmark = pytest.mark.integration

_COUNTER = iter(range(1, 10_000))


@pytest.fixture
def project(live_server: Any, tmp_path: Path) -> LiveProject:
    return LiveProject(live_server, f"objects{next(_COUNTER)}", tmp_path)


def refused(project: LiveProject, sha: str, *needles: str, ref: str = "") -> str:
    """Push ``sha`` (to a new branch unless ``ref``), expect a refusal showing every
    needle, and nothing changed on the server. Returns git's output."""
    before = (bare_refs(project.path), bare_objects(project.path))
    out = project.push(sha, ref or f"refs/heads/attack-{sha[:8]}")
    text = out.stdout + out.stderr
    assert out.returncode != 0, text
    assert "[remote rejected]" in text, text
    for needle in needles:
        assert needle in text, f"{needle!r} not in:\n{text}"
    assert "internal error" not in text, text
    assert (bare_refs(project.path), bare_objects(project.path)) == before
    return text


def prompt_entries(project: LiveProject) -> list[tuple[bytes, bytes, str]]:
    """The root entries of main: prompts/ (a tree)."""
    return [(b"40000", b"prompts", tree_of(project.work.path, project.main, "prompts"))]


# -- finding 3: what git fsck refuses ---------------------------------------------------


def test_duplicate_tree_entries_are_refused(project: LiveProject) -> None:
    repo = project.work.path
    good = blob(repo, b"id: a\n")
    prompts = tree_of(repo, project.main, "prompts")
    # two "prompts" entries: dulwich keeps one, git clone would later miss a blob
    root = tree(repo, [(b"40000", b"prompts", prompts), (b"100644", b"prompts", good)])
    sha = commit(repo, root, project.main)
    text = refused(project, sha, "duplicate entry 'prompts'", f"tree {root}")
    assert "duplicateEntries" in text


@pytest.mark.parametrize(
    ("mode", "needle"),
    [(b"0100644", "zero-padded mode 0100644"), (b"100600", "bad mode 100600")],
)
def test_bad_and_zero_padded_modes_are_refused(
    project: LiveProject, mode: bytes, needle: str
) -> None:
    repo = project.work.path
    data = blob(repo, b"notes\n")
    root = tree(repo, [*prompt_entries(project), (mode, b"readme.txt", data)])
    sha = commit(repo, root, project.main)
    refused(project, sha, needle, "readme.txt")


@pytest.mark.parametrize(
    "name",
    [
        b".git",
        b".GIT",
        b".Git",
        b".git.",  # NTFS drops trailing dots
        b".git ",  # and spaces
        b"git~1",  # the NTFS short name of .git
        b".git::$INDEX_ALLOCATION",  # an NTFS stream of it
        ".g\u200cit".encode(),  # HFS+ ignores zero-width joiners
        ".\ufeffGIT".encode(),
        b"..",
        b".",
    ],
)
def test_dotgit_names_in_every_spelling_are_refused(
    project: LiveProject, name: bytes
) -> None:
    repo = project.work.path
    hook = blob(repo, b"#!/bin/sh\necho owned\n")
    inner = tree(repo, [(b"100755", b"post-checkout", hook)])
    hooks = tree(repo, [(b"40000", b"hooks", inner)])
    entries = sorted(
        [*prompt_entries(project), (b"40000", name, hooks)],
        key=lambda e: e[1] + b"/",
    )
    root = tree(repo, entries)
    sha = commit(repo, root, project.main)
    text = refused(project, sha, f"tree {root}")
    assert any(i in text for i in ("hasDotgit", "hasDot", "hasDotdot")), text


def test_symlinked_gitmodules_is_refused(project: LiveProject) -> None:
    repo = project.work.path
    link = blob(repo, b"/etc/passwd")
    root = tree(repo, [(b"120000", b".gitmodules", link), *prompt_entries(project)])
    sha = commit(repo, root, project.main)
    refused(project, sha, "'.gitmodules' is a symlink", "gitmodulesSymlink")


def test_unsorted_tree_is_refused(project: LiveProject) -> None:
    repo = project.work.path
    a = blob(repo, b"a\n")
    root = tree(repo, [*prompt_entries(project), (b"100644", b"a.txt", a)])
    sha = commit(repo, root, project.main)
    refused(project, sha, "not sorted", "treeNotSorted")


@pytest.mark.parametrize(
    ("author", "needle"),
    [
        (b"A U Thor a@example.com 1700000000 +0000", "has no '<email>'"),
        (b"A U Thor<a@example.com> 1700000000 +0000", "lacks the space before"),
        (b"A U Thor <a@example.com> 01700000000 +0000", "zero-padded date"),
        (b"A U Thor <a@example.com> 99999999999999999999999 +0000", "overflows"),
        (b"A U Thor <a@example.com> 1700000000 +00", "malformed time zone"),
        (b"A U Thor <a@example.com> 1700000000 +0000\0x", "NUL byte"),
    ],
)
def test_malformed_commit_headers_are_refused(
    project: LiveProject, author: bytes, needle: str
) -> None:
    repo = project.work.path
    root = tree_of(repo, project.main)
    sha = write_object(repo, "commit", raw_commit(root, project.main, author=author))
    refused(project, sha, needle, f"commit {sha}")


def test_commit_without_author_or_with_a_nul_in_its_message_is_refused(
    project: LiveProject,
) -> None:
    repo = project.work.path
    root = tree_of(repo, project.main)
    no_author = (
        b"tree " + root.encode() + b"\nparent " + project.main.encode() + b"\n"
        b"committer A <a@b.c> 1700000000 +0000\n\nmsg\n"
    )
    sha = write_object(repo, "commit", no_author)
    refused(project, sha, "author header is missing", "missingAuthor")
    sha = write_object(
        repo, "commit", raw_commit(root, project.main, message=b"hi\0there\n")
    )
    refused(project, sha, "NUL byte in the commit's message", "nulInCommit")


def test_malformed_tag_is_refused(project: LiveProject) -> None:
    repo = project.work.path
    bad = (
        b"object " + project.main.encode() + b"\ntype commit\ntag bad..name\n"
        b"tagger A <a@b.c> 1700000000 +0000\n\nrelease\n"
    )
    sha = write_object(repo, "tag", bad)
    refused(project, sha, "not a valid ref name", ref="refs/tags/v-bad")


# -- finding 4: tags to blobs and trees; every object obeys the limits ------------------


def test_annotated_tag_at_a_blob_is_refused(project: LiveProject) -> None:
    repo = project.work.path
    data = blob(repo, b"anything\n")
    tag = (
        b"object " + data.encode() + b"\ntype blob\ntag v-blob\n"
        b"tagger A <a@b.c> 1700000000 +0000\n\nblob\n"
    )
    sha = write_object(repo, "tag", tag)
    refused(project, sha, "a tag must point at a commit", ref="refs/tags/v-blob")


def test_lightweight_tag_at_a_tree_is_refused(project: LiveProject) -> None:
    root = tree_of(project.work.path, project.main)
    refused(project, root, "a tag must point to a commit", ref="refs/tags/v-tree")


def test_a_large_blob_behind_a_tag_obeys_the_file_limit(project: LiveProject) -> None:
    """The 10 MiB file limit holds for a blob no commit holds (issue: 60 MB passed)."""
    repo = project.work.path
    big = blob(repo, b"x" * (11 * 1024 * 1024))
    tag = (
        b"object " + big.encode() + b"\ntype blob\ntag v-big\n"
        b"tagger A <a@b.c> 1700000000 +0000\n\nbig\n"
    )
    sha = write_object(repo, "tag", tag)
    refused(project, sha, f"blob {big}", "limit 10485760", ref="refs/tags/v-big")


# -- finding 5: a compressed bomb is refused from its header ----------------------------


def test_a_gib_of_zeros_is_refused_from_its_header(
    project: LiveProject, live_server: Any
) -> None:
    repo = project.work.path
    big = zero_blob_pack(repo)  # 1 GiB of zeros, ~1 MB packed
    entries = [*prompt_entries(project), (b"100644", b"zeros.bin", big)]
    root = tree(repo, sorted(entries, key=lambda e: e[1]))
    sha = commit(repo, root, project.main)
    pid = live_server.process.pid
    reset_peak_rss(pid)
    before = peak_rss_kib(pid)
    start = time.monotonic()
    text = refused(project, sha, "1073741824 bytes", "refused before inflating")
    elapsed = time.monotonic() - start
    grown_mib = (peak_rss_kib(pid) - before) / 1024
    print(f"bomb refused in {elapsed:.2f} s, server peak RSS +{grown_mib:.1f} MiB")
    assert grown_mib < 64, text
    assert elapsed < 10, f"{elapsed:.1f} s"  # main took 24.8 s


# -- finding 9: non-UTF-8 names and gitlinks are named -----------------------------------


def test_non_utf8_file_name_in_prompts_is_named(project: LiveProject) -> None:
    repo = project.work.path
    data = blob(repo, b"id: x\nversion: '1.0.0'\ntemplate: hi\n")
    prompts = tree_of(repo, project.main, "prompts")
    listing = run_git(repo, "cat-file", "-p", prompts).stdout.split("\n")[0]
    greeting = listing.split()[2]
    inner = tree(
        repo,
        sorted(
            [
                (b"100644", b"caf\xe9.yaml", data),
                (b"100644", b"greeting.yaml", greeting),
            ],
            key=lambda e: e[1],
        ),
    )
    root = tree(repo, [(b"40000", b"prompts", inner)])
    sha = commit(repo, root, project.main)
    refused(project, sha, "prompts/caf\\xe9.yaml", "not valid UTF-8")


def test_gitlink_in_prompts_is_named(project: LiveProject) -> None:
    repo = project.work.path
    prompts = tree_of(repo, project.main, "prompts")
    greeting = run_git(repo, "cat-file", "-p", prompts).stdout.split()[2]
    inner = tree(
        repo,
        [(b"100644", b"greeting.yaml", greeting), (b"160000", b"vendor", "ab" * 20)],
    )
    root = tree(repo, [(b"40000", b"prompts", inner)])
    sha = commit(repo, root, project.main)
    refused(project, sha, "prompts/vendor", "submodule")


def test_a_valid_push_still_passes(project: LiveProject) -> None:
    from tests.fixtures.gitrepos import make_prompt_yaml

    project.work.write(
        "prompts/greeting.yaml", make_prompt_yaml(id="greeting", version="1.1.0")
    )
    sha = project.work.commit("bump")
    out = project.push(sha)
    assert out.returncode == 0, out.stderr
    assert bare_refs(project.path)["refs/heads/main"] == sha
