"""The one path rule of pushes, API writes, lint and snapshots, and the names built
from it (``registry/git/layout.py``), case by case: each branch of each rule has a
test that fails when it is dropped or inverted (mutation-tested, docs/mutation.md)."""

from __future__ import annotations

import stat
import subprocess

import pytest

from dakora.registry.core import BadRequest, InvalidField
from dakora.registry.git.layout import (
    CONFIG_PATH,
    EMPTY_TREE_SHA,
    PART_SUFFIXES,
    PROMPT_SUFFIXES,
    SYMLINK_MODE,
    branch_ref,
    check_message,
    clean_dir,
    is_safe_relpath,
    part_candidates,
    short_ref,
    unsafe_path_reason,
)

SAFE = [
    "a",
    "prompts/x.yaml",
    "parts/a/b.md",
    "a/b/c/d",
    ":x",  # a colon that is not a drive letter's
    ":",
    "ab:c",
    ".hidden",
    "..x",
    "x..",
    "a/.gitignore",
    "a/git",
    "c",
]


@pytest.mark.parametrize("path", SAFE)
def test_safe_paths(path: str) -> None:
    assert unsafe_path_reason(path) is None
    assert is_safe_relpath(path) is True


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("", "empty path"),
        ("/etc/passwd", "absolute, or with a backslash or NUL"),
        ("/", "absolute, or with a backslash or NUL"),
        ("a\\b", "absolute, or with a backslash or NUL"),
        ("\\a", "absolute, or with a backslash or NUL"),
        ("a\x00b", "absolute, or with a backslash or NUL"),
        ("\x00", "absolute, or with a backslash or NUL"),
        ("C:/x", "a drive letter is not allowed"),
        ("c:", "a drive letter is not allowed"),
        ("..", "a '..' component is not allowed"),
        ("a/../b", "a '..' component is not allowed"),
        ("a/..", "a '..' component is not allowed"),
        (".", "a '.' component is not allowed"),
        ("a/./b", "a '.' component is not allowed"),
        ("a//b", "a '/' component is not allowed"),
        ("a/", "a '/' component is not allowed"),
        (".git", "a '.git' component is not allowed"),
        ("a/.git/config", "a '.git' component is not allowed"),
        ("a/.GIT", "a '.GIT' component is not allowed"),
        (".Git/x", "a '.Git' component is not allowed"),
    ],
)
def test_unsafe_paths_say_why(path: str, says: str) -> None:
    reason = unsafe_path_reason(path)
    assert reason is not None
    assert is_safe_relpath(path) is False
    if path:
        assert reason == f"unsafe path {path!r}: {says}"
    else:
        assert reason == says


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("prompts", "prompts"),
        (" prompts/ ", "prompts"),
        ("/prompts/", "prompts"),
        ("a/b", "a/b"),
        ("", "dflt"),
        ("  ", "dflt"),
        ("/", "dflt"),
        ("../x", "dflt"),
        ("a/../b", "dflt"),
        (".git", "dflt"),
        ("a\\b", "dflt"),
    ],
)
def test_clean_dir(value: str, expected: str) -> None:
    assert clean_dir(value, "dflt") == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a/b", ["a/b.md", "a/b.txt", "a/b.j2"]),
        ("a/b.md", ["a/b.md"]),
        ("a/b.txt", ["a/b.txt"]),
        ("a/b.j2", ["a/b.j2"]),
        ("a/b.yaml", ["a/b.yaml.md", "a/b.yaml.txt", "a/b.yaml.j2"]),
        ("b", []),
        ("a/b/c", []),
        ("../b", []),
        ("a/..", []),
        ("/a/b", []),
        (".git/b", []),
        ("", []),
    ],
)
def test_part_candidates(name: str, expected: list[str]) -> None:
    assert part_candidates(name) == expected


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("refs/heads/main", "main"),
        ("refs/heads/feature/x", "feature/x"),
        ("refs/tags/v1", "v1"),
        ("refs/notes/x", "refs/notes/x"),
        ("main", "main"),
        ("xrefs/heads/main", "xrefs/heads/main"),
    ],
)
def test_short_ref(ref: str, expected: str) -> None:
    assert short_ref(ref) == expected


@pytest.mark.parametrize(
    ("branch", "expected"),
    [
        ("main", "refs/heads/main"),
        ("feature/x", "refs/heads/feature/x"),
        ("refs/heads/main", "refs/heads/main"),
        ("refs/heads/a/b", "refs/heads/a/b"),
        ("x-y", "refs/heads/x-y"),
        ("HEADS", "refs/heads/HEADS"),
        ("@x", "refs/heads/@x"),
        ("myrefs/x", "refs/heads/myrefs/x"),
    ],
)
def test_branch_ref(branch: str, expected: str) -> None:
    assert branch_ref(branch) == expected


@pytest.mark.parametrize(
    "branch", ["refs/notes/x", "refs/heads/refs/x", "-x", "HEAD", "@", "refs/heads/-x"]
)
def test_branch_ref_refuses_other_kinds_of_ref(branch: str) -> None:
    with pytest.raises(BadRequest) as info:
        branch_ref(branch)
    assert "not another kind of ref" in info.value.message
    assert info.value.details == {"branch": branch}


@pytest.mark.parametrize(
    "branch", ["", "refs/heads/", "a..b", "a b", "x.lock", "a//b", "a~1", "a:b"]
)
def test_branch_ref_refuses_invalid_names(branch: str) -> None:
    with pytest.raises(BadRequest) as info:
        branch_ref(branch)
    assert info.value.message == f"invalid branch name {branch!r}"
    assert info.value.details == {"branch": branch}


def test_check_message() -> None:
    check_message("fine\nmessage")
    check_message("")
    with pytest.raises(InvalidField) as info:
        check_message("bad\0message")
    assert info.value.message == "message: a commit message cannot hold a NUL byte"
    assert info.value.details == {"field": "message"}


def test_the_layout_constants_are_gits() -> None:
    assert SYMLINK_MODE == stat.S_IFLNK  # git stores a symlink with mode 120000
    empty = subprocess.run(
        ["git", "hash-object", "-t", "tree", "--stdin"],
        input=b"",
        capture_output=True,
        check=True,
    )
    assert empty.stdout.decode().strip() == EMPTY_TREE_SHA
    assert PROMPT_SUFFIXES == (".yaml", ".yml")
    assert PART_SUFFIXES == (".md", ".txt", ".j2")
    assert CONFIG_PATH == "dakora.yaml"
