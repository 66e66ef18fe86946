"""What changed between two trees: ``diff_trees`` (set algebra per folder, equal
subtrees skipped), the per-commit file changes behind ``changed_paths``, and
``unified_diff`` (git-like text diff of two blobs).
"""

from __future__ import annotations

import difflib
import stat
from dataclasses import dataclass

from dulwich.object_store import BaseObjectStore
from dulwich.objects import Commit

from dakora.registry.core import LruCache
from dakora.registry.git.objects import read_commit, read_tree, subtree_sha


@dataclass(frozen=True)
class FileChange:
    old_path: str | None
    old_sha: str | None
    old_mode: int | None
    new_path: str | None
    new_sha: str | None
    new_mode: int | None


def commit_changes(
    store: BaseObjectStore, commit: Commit, folder: str
) -> list[FileChange]:
    """File changes of ``commit`` vs its first parent below ``folder`` (relative to
    it), with blob shas and modes straight from the tree diff."""
    folder = folder.strip("/")
    old_tree = read_commit(store, commit.parents[0]).tree if commit.parents else None
    if folder:
        old_tree = subtree_sha(store, old_tree, folder) if old_tree else None
        new_tree = subtree_sha(store, commit.tree, folder)
    else:
        new_tree = commit.tree
    out: list[FileChange] = []
    for path, old, new in diff_trees(store, old_tree, new_tree):
        if old is not None and new is not None and _kind(old[0]) != _kind(new[0]):
            # a file <-> symlink change is a delete plus an add (as tree_changes)
            out.append(FileChange(path, _decode(old[1]), old[0], None, None, None))
            out.append(FileChange(None, None, None, path, _decode(new[1]), new[0]))
            continue
        out.append(
            FileChange(
                old_path=path if old is not None else None,
                old_sha=_decode(old[1]) if old is not None else None,
                old_mode=old[0] if old is not None else None,
                new_path=path if new is not None else None,
                new_sha=_decode(new[1]) if new is not None else None,
                new_mode=new[0] if new is not None else None,
            )
        )
    return out


def _kind(mode: int) -> int:
    return 0o160000 if mode == 0o160000 else stat.S_IFMT(mode)


TreeEntryTuple = tuple[int, bytes]  # (mode, sha)
_TREE_ENTRIES: dict[bytes, dict[bytes, TreeEntryTuple]] = {}  # tree sha → entries
_TREE_ENTRIES_MAX = 256
# (old tree, new tree) → their diff: trees are immutable by sha
_DIFFS: LruCache[
    tuple[bytes, bytes],
    tuple[tuple[str, TreeEntryTuple | None, TreeEntryTuple | None], ...],
] = LruCache(64)


def diff_trees(
    store: BaseObjectStore, old_tree: bytes | None, new_tree: bytes | None
) -> list[tuple[str, TreeEntryTuple | None, TreeEntryTuple | None]]:
    """(path, old (mode, sha) or None, new (mode, sha) or None) of every file that
    differs between two trees, in path order per folder.

    Like dulwich's ``tree_changes`` without renames, but equal subtrees are skipped
    unread and each folder is compared as two dicts with set algebra (in C), with
    parsed trees cached by sha: a one-file change in a folder of 10,000 prompts costs
    a dict comparison, not 10,000 Python steps.
    """
    key = (old_tree or b"", new_tree or b"")
    cached = _DIFFS.get(key)
    if cached is not None:  # one push diffs the same trees in several steps
        return list(cached)
    out: list[tuple[str, TreeEntryTuple | None, TreeEntryTuple | None]] = []

    def entries(sha: bytes | None) -> dict[bytes, TreeEntryTuple]:
        if sha is None:
            return {}
        found = _TREE_ENTRIES.get(sha)
        if found is not None:
            return found
        tree = read_tree(store, sha)  # the shared parsed-tree cache
        if tree.type_name != b"tree":
            return {}
        raw = getattr(tree, "_entries", None)  # unsorted dict: no 10,000-item sort
        if isinstance(raw, dict):
            found = raw  # read only: shared with the cached Tree
        else:
            found = {e.path: (e.mode, e.sha) for e in tree.iteritems()}
        if len(_TREE_ENTRIES) >= _TREE_ENTRIES_MAX:
            _TREE_ENTRIES.clear()
        _TREE_ENTRIES[sha] = found
        return found

    def walk(prefix: str, old: bytes | None, new: bytes | None) -> None:
        if old == new:
            return
        a, b = entries(old), entries(new)
        names = {name for name, _entry in a.items() ^ b.items()}
        for name in sorted(names):
            ea, eb = a.get(name), b.get(name)
            path = prefix + name.decode("utf-8", "replace")
            a_dir = ea is not None and stat.S_ISDIR(ea[0])
            b_dir = eb is not None and stat.S_ISDIR(eb[0])
            if a_dir or b_dir:
                walk(
                    path + "/",
                    ea[1] if ea is not None and a_dir else None,
                    eb[1] if eb is not None and b_dir else None,
                )
            file_a = None if ea is None or a_dir else ea
            file_b = None if eb is None or b_dir else eb
            if file_a is not None or file_b is not None:
                out.append((path, file_a, file_b))

    walk("", old_tree, new_tree)
    _DIFFS.put(key, tuple(out))
    return out


def _decode(value: bytes | None) -> str | None:
    return value.decode("utf-8", errors="replace") if value else None


def changed_paths(
    store: BaseObjectStore, commit: str, *, subdir: str = ""
) -> list[tuple[str | None, str | None]]:
    """(old path, new path) of every file changed by ``commit`` vs its first parent
    (a root commit adds everything). Added: (None, new); deleted: (old, None);
    modified: (p, p). A file ↔ symlink change is a delete plus an add. With
    ``subdir`` only files below it, relative to it."""
    return [
        (ch.old_path, ch.new_path)
        for ch in commit_changes(store, read_commit(store, commit), subdir)
    ]


def unified_diff(
    old: bytes | None, new: bytes | None, old_path: str | None, new_path: str | None
) -> str:
    """A git-like unified diff (``--- a/path`` / ``+++ b/path``, ``/dev/null`` for a
    missing side, ``\\ No newline at end of file``); "" when equal."""
    if old == new:
        return ""
    a = (old or b"").decode("utf-8", errors="replace").splitlines(keepends=True)
    b = (new or b"").decode("utf-8", errors="replace").splitlines(keepends=True)
    out: list[str] = []
    for line in difflib.unified_diff(
        a,
        b,
        fromfile=f"a/{old_path}" if old is not None else "/dev/null",
        tofile=f"b/{new_path}" if new is not None else "/dev/null",
    ):
        if line.endswith("\n"):
            out.append(line)
        else:
            out.append(line + "\n\\ No newline at end of file\n")
    return "".join(out)
