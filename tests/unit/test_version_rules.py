"""The version rules' building blocks (``registry/checks/versions.py``): the bump rule
and how a prompt is found on the parent commit — same path first, else by id
(mutation-tested, docs/mutation.md; the findings themselves: test_checks.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dakora.registry.checks.versions import (
    parent_locator,
    version_findings,
    version_step_valid,
)
from dakora.registry.git.folder_snapshot import FolderSnapshot
from tests.fixtures.gitrepos import make_prompt_yaml


@pytest.mark.parametrize(
    ("old", "new", "changed", "valid"),
    [
        ("1.0.0", "1.0.0", False, True),  # unchanged: any version
        ("1.0.0", "0.1.0", False, True),
        ("1.0.0", "1.0.1", True, True),
        ("1.0.0", "1.1.0", True, True),
        ("1.0.0", "2.0.0", True, True),
        ("1.0.0-rc.1", "1.0.0", True, True),
        ("1.0.0", "1.0.0", True, False),
        ("1.0.0", "0.9.9", True, False),
        ("1.0.0", "1.0.0-rc.1", True, False),
        ("1.0.0", "not-semver", True, False),
    ],
)
def test_version_step(old: str, new: str, changed: bool, valid: bool) -> None:
    assert version_step_valid(old, new, changed=changed) is valid


def test_changed_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        version_step_valid("1.0.0", "1.0.1", True)  # type: ignore[misc]


def _snapshot(root: Path, files: dict[str, str]) -> FolderSnapshot:
    for path, text in files.items():
        full = root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_text(text)
    return FolderSnapshot(root)


def test_no_parent_locates_nothing() -> None:
    assert parent_locator(None)("a", "prompts/a.yaml") is None


def test_the_same_path_first_else_by_id(tmp_path: Path) -> None:
    parent = _snapshot(
        tmp_path,
        {
            "prompts/x.yaml": make_prompt_yaml(id="b"),
            "prompts/y.yaml": make_prompt_yaml(id="a"),
            "prompts/z.yaml": make_prompt_yaml(id="c"),
        },
    )
    locate = parent_locator(parent)
    assert locate("b", "prompts/x.yaml") == "prompts/x.yaml"  # edited in place
    # files swapped ids: each is found where its id lived (both orders of ids)
    assert locate("a", "prompts/x.yaml") == "prompts/y.yaml"
    assert locate("b", "prompts/y.yaml") == "prompts/x.yaml"
    assert locate("c", "prompts/x.yaml") == "prompts/z.yaml"
    assert locate("a", "prompts/new.yaml") == "prompts/y.yaml"  # moved
    assert locate("d", "prompts/x.yaml") is None  # new id


def test_a_duplicate_id_is_found_at_the_same_path(tmp_path: Path) -> None:
    parent = _snapshot(
        tmp_path,
        {
            "prompts/x.yaml": make_prompt_yaml(id="a"),
            "prompts/y.yaml": make_prompt_yaml(id="a", version="2.0.0"),
        },
    )
    locate = parent_locator(parent)
    assert locate("a", "prompts/y.yaml") == "prompts/y.yaml"
    assert locate("a", "prompts/x.yaml") == "prompts/x.yaml"


def test_a_symlink_on_the_parent_is_never_the_prompt(tmp_path: Path) -> None:
    parent = _snapshot(tmp_path, {"prompts/real.yaml": make_prompt_yaml(id="a")})
    os.symlink("real.yaml", tmp_path / "prompts" / "link.yaml")
    locate = parent_locator(parent)
    assert locate("a", "prompts/link.yaml") == "prompts/real.yaml"


def test_a_reused_version_names_the_other_blob(tmp_path: Path) -> None:
    snap = _snapshot(tmp_path, {"prompts/a.yaml": make_prompt_yaml(id="a")})
    loaded = snap.find_prompt("a")
    other = "0123456789abcdef0123456789abcdef01234567"
    found = version_findings(
        snap, loaded, None, parent_locator(None), lambda i, v: other
    )
    assert [(f.rule, f.line) for f in found] == [
        ("version-reused", loaded.line_of("version"))
    ]
    assert found[0].message == (
        "version 1.0.0 of 'a' already names different content (blob 0123456); "
        "bump the version"
    )
    own = snap.blob_sha("prompts/a.yaml")
    assert (
        version_findings(snap, loaded, None, parent_locator(None), lambda i, v: own)
        == []
    )
    assert (
        version_findings(snap, loaded, None, parent_locator(None), lambda i, v: None)
        == []
    )


def test_a_lower_version_is_checked_for_reuse_too(tmp_path: Path) -> None:
    parent = _snapshot(
        tmp_path / "p", {"prompts/a.yaml": make_prompt_yaml(id="a", version="2.0.0")}
    )
    child = _snapshot(
        tmp_path / "c",
        {"prompts/a.yaml": make_prompt_yaml(id="a", version="1.0.0", template="x\n")},
    )
    loaded = child.find_prompt("a")
    other = "f" * 40
    found = version_findings(
        child, loaded, parent, parent_locator(parent), lambda i, v: other
    )
    assert [f.rule for f in found] == ["version-not-bumped", "version-reused"]
    # the same version as the parent's is the bump rule's alone (no lookup)
    same = _snapshot(
        tmp_path / "s",
        {"prompts/a.yaml": make_prompt_yaml(id="a", version="2.0.0", template="y\n")},
    )
    found = version_findings(
        same, same.find_prompt("a"), parent, parent_locator(parent), lambda i, v: other
    )
    assert [f.rule for f in found] == ["version-not-bumped"]
