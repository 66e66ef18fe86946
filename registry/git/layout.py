"""Where things live in a prompt repository: file suffixes, ``dakora.yaml``, the
symlink mode and git's empty tree, and the path rules every snapshot applies (safe
relative paths, configured folders, part names to file names).
"""

from __future__ import annotations

from dakora.registry.core import BadRequest, InvalidField, RefName
from dakora.registry.load import PART_EXTENSIONS

PROMPT_SUFFIXES: tuple[str, ...] = (".yaml", ".yml")
PART_SUFFIXES: tuple[str, ...] = PART_EXTENSIONS  # one list: parts.py
CONFIG_PATH = "dakora.yaml"
SYMLINK_MODE = 0o120000
EMPTY_TREE_SHA = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's empty tree


def short_ref(ref: str) -> str:
    """``refs/heads/x`` / ``refs/tags/x`` → ``x``; other names unchanged."""
    for prefix in ("refs/heads/", "refs/tags/"):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref


def unsafe_path_reason(path: str) -> str | None:
    """Why a repository path is unsafe, or None: it must be relative, forward-slash,
    without a drive letter, NUL, backslash or an empty / ``.`` / ``..`` / ``.git``
    component. The one path rule of pushes, API writes, lint and snapshots."""
    if not path:
        return "empty path"
    if path.startswith("/") or "\\" in path or "\x00" in path:
        return f"unsafe path {path!r}: absolute, or with a backslash or NUL"
    if len(path) > 1 and path[1] == ":":
        return f"unsafe path {path!r}: a drive letter is not allowed"
    for part in path.split("/"):
        if part in ("", ".", "..") or part.lower() == ".git":
            return f"unsafe path {path!r}: a '{part or '/'}' component is not allowed"
    return None


def is_safe_relpath(path: str) -> bool:
    """``unsafe_path_reason(path) is None``."""
    return unsafe_path_reason(path) is None


def clean_dir(value: str, default: str) -> str:
    value = value.strip().strip("/")
    return value if value and is_safe_relpath(value) else default


def part_candidates(name: str) -> list[str]:
    """``category/name`` (extension optional) → file names to try inside parts/."""
    if not is_safe_relpath(name) or name.count("/") != 1:
        return []
    if name.endswith(PART_SUFFIXES):
        return [name]
    return [name + suffix for suffix in PART_SUFFIXES]


def branch_ref(branch: str) -> RefName:
    """``refs/heads/<branch>`` of a plain branch name (``main``, ``feature/x``, or
    ``refs/heads/<name>``), else ``BadRequest``: ``refs/notes/x`` would otherwise
    become the branch ``refs/heads/refs/notes/x``."""
    name = branch.removeprefix("refs/heads/")
    ref = f"refs/heads/{name}"
    if name.startswith(("refs/", "-")) or name in ("HEAD", "@"):
        raise BadRequest(
            f"invalid branch name {branch!r}: give a plain branch name such as "
            "'main' or 'feature/x', not another kind of ref",
            branch=branch,
        )
    from dulwich.refs import Ref, check_ref_format  # here: FolderSnapshot needs none

    if not name or not check_ref_format(Ref(ref.encode("utf-8"))):
        raise BadRequest(f"invalid branch name {branch!r}", branch=branch)
    return RefName(ref)


def check_message(message: str) -> None:
    """A commit message git can store: no NUL byte (git fsck flags nulInCommit)."""
    if "\0" in message:
        raise InvalidField(
            "message: a commit message cannot hold a NUL byte", field="message"
        )
