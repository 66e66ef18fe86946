"""Plumbing on a bare dulwich object store (also a quarantine store): object and
commit reads with dulwich ``KeyError`` translated to ``RefNotFound``, subtree and
blob lookups through a small parsed-tree cache, small blobs kept by sha. Walks over
the commit graph are in ``walk``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from dulwich.errors import NotGitRepository
from dulwich.object_store import BaseObjectStore
from dulwich.objects import Commit, ObjectID, RawObjectID, Tag
from dulwich.refs import Ref

from dakora.registry.core import LruCache, RefNotFound
from dakora.registry.git.layout import SYMLINK_MODE


def as_oid(sha: str | bytes) -> ObjectID:
    """A hex sha as dulwich's ``ObjectID``: where our str/bytes shas enter dulwich."""
    return ObjectID(sha.encode("ascii") if isinstance(sha, str) else sha)


def as_raw_oid(sha: bytes) -> RawObjectID:
    """A 20-byte binary sha (as in tree entries and pack indexes) as ``RawObjectID``."""
    return RawObjectID(sha)


def as_ref(name: str | bytes) -> Ref:
    """A ref name (``refs/heads/main``, ``HEAD``) as dulwich's ``Ref``."""
    return Ref(name.encode("utf-8") if isinstance(name, str) else name)


def _get(store: BaseObjectStore, sha: str | bytes) -> Any:
    key = as_oid(sha)
    try:
        return store[key]
    except (KeyError, ValueError) as exc:
        text = key.decode("ascii", errors="replace")
        raise RefNotFound(f"object {text} not found", sha=text) from exc


def read_commit(store: BaseObjectStore, sha: str | bytes) -> Commit:
    obj = _get(store, sha)
    while isinstance(obj, Tag):
        obj = _get(store, obj.object[1])
    if not isinstance(obj, Commit):
        raise RefNotFound(f"{_text(sha)} is not a commit", sha=_text(sha))
    return obj


def _text(sha: str | bytes) -> str:
    return sha.decode("ascii", errors="replace") if isinstance(sha, bytes) else sha


def join_path(subdir: str, path: str) -> str:
    subdir = subdir.strip("/")
    return f"{subdir}/{path}" if subdir and path else (subdir or path)


def commit_meta(commit: Commit) -> tuple[str, datetime, str]:
    author = commit.author.decode("utf-8", errors="replace")
    when = datetime.fromtimestamp(commit.commit_time, tz=UTC)
    message = commit.message.decode("utf-8", errors="replace").strip()
    return author, when, message


def subtree_sha(store: BaseObjectStore, tree_sha: bytes, folder: str) -> bytes | None:
    """Sha of the tree at folder below tree_sha, or None."""
    if not folder:
        return tree_sha
    try:
        tree: Any = store[as_oid(tree_sha)]
        mode, sha = tree.lookup_path(store.__getitem__, folder.encode("utf-8"))
    except (KeyError, ValueError, NotGitRepository):
        return None
    return sha if stat.S_ISDIR(mode) else None


def has_object(store: BaseObjectStore, sha: bytes, depth: int = 0) -> bool:
    """``sha in store`` without reading the object: dulwich's test for a loose
    object reads and parses it (a 10,000-entry tree: ~10 ms)."""
    path_of = getattr(store, "_get_shafile_path", None)
    if not callable(path_of) or depth > 4:
        return as_oid(sha) in store
    if store.contains_packed(as_oid(sha)):
        return True
    try:
        if os.path.exists(path_of(sha)):
            return True
    except ValueError:
        return False
    return any(
        has_object(alt, sha, depth + 1) for alt in getattr(store, "alternates", ())
    )


_TREES: dict[bytes, Any] = {}  # tree sha → parsed Tree (immutable by sha)
_TREES_MAX = 512


def _tree_getter(store: BaseObjectStore) -> Callable[[bytes], Any]:
    """``store[sha]`` that keeps parsed trees: a 10,000-entry tree costs ~1 ms to
    parse, and versions_in_range looks up every changed path from the root."""

    def get(sha: bytes) -> Any:
        tree = _TREES.get(sha)
        if tree is not None and not has_object(
            store, sha
        ):  # cached from a dropped push
            tree = None
        if tree is None:
            tree = store[as_oid(sha)]
            if tree.type_name == b"tree":
                if len(_TREES) >= _TREES_MAX:
                    _TREES.clear()
                _TREES[sha] = tree
        return tree

    return get


def read_tree(store: BaseObjectStore, sha: bytes) -> Any:
    """``store[sha]`` through the shared parsed-tree cache (trees are immutable by
    sha, so any store, a quarantine included, may fill it). Raises ``KeyError``."""
    return _tree_getter(store)(sha)


_SMALL_BLOB = 16 * 1024
_BLOBS: LruCache[bytes, tuple[int, bytes]] = LruCache(4096)  # ≤ 64 MiB


def read_raw(store: BaseObjectStore, sha: bytes) -> tuple[int, bytes]:
    """``store.get_raw(sha)`` (type number, bytes), small objects kept by sha: the
    push limits and the registry checks read the same new blobs. Raises
    ``KeyError``."""
    hit = _BLOBS.get(sha)
    if hit is not None and has_object(store, sha):  # never an object this store lacks
        return hit
    found = store.get_raw(as_oid(sha))
    if len(found[1]) <= _SMALL_BLOB:
        _BLOBS.put(sha, found)
    return found


def blob_at(store: BaseObjectStore, tree_sha: bytes, path: str) -> str | None:
    """Sha of the regular file at path below tree_sha, or None (missing/dir/link)."""
    try:
        get = _tree_getter(store)
        tree = get(tree_sha)
        mode, sha = tree.lookup_path(get, path.encode("utf-8"))
    except (KeyError, ValueError, NotGitRepository):
        return None
    if stat.S_ISDIR(mode) or stat.S_IFMT(mode) == SYMLINK_MODE or mode == 0o160000:
        return None
    return str(sha.decode("ascii"))


def refresh_packs(store: BaseObjectStore) -> None:
    """Make a long-lived object store see packs added on disk by someone else (a
    replica catching up from the mirror, a push moving its quarantine in). The one
    call of dulwich's private ``_update_pack_cache``."""
    store._update_pack_cache()  # type: ignore[attr-defined]
