"""``GitSnapshot``: the files of one commit, read by sha from an object store (never
checked out; works on a quarantine store too), with prompt identities derived from
the parent commit by tree diff.
"""

from __future__ import annotations

import bisect
import stat
from typing import TYPE_CHECKING

from dulwich.object_store import BaseObjectStore
from dulwich.objects import Blob, Commit, ShaFile, Tag, Tree

from dakora.registry.core import (
    BlobSha,
    CommitSha,
    LimitExceeded,
    NotFound,
    RefNotFound,
    StorageError,
    TreeSha,
)
from dakora.registry.git.layout import (
    EMPTY_TREE_SHA,
    PROMPT_SUFFIXES,
    SYMLINK_MODE,
)
from dakora.registry.git.objects import as_oid, read_raw, read_tree
from dakora.registry.git.prompt_cache import TREE_ID_PATHS, TREE_IDS, blob_identity
from dakora.registry.git.snapshot_base import SnapshotBase, SnapshotParts

if TYPE_CHECKING:
    from dakora.registry.git.snapshot import Snapshot


_MAX_TREE_DEPTH = 64
_READ_CACHE_MAX_FILE = 512 * 1024


class GitParts(SnapshotParts):
    def __init__(self, snapshot: GitSnapshot, parts_dir: str) -> None:
        super().__init__(snapshot, parts_dir)
        self._tree = snapshot.tree_sha_of(parts_dir)

    @property
    def key(self) -> TreeSha:
        return TreeSha(self._tree or EMPTY_TREE_SHA)


class GitSnapshot(SnapshotBase):
    """The files of one commit, read by sha from an object store (never checked out).

    ``subdir`` is the prompt root inside the repository ("" = the repo root); every
    path this snapshot takes or returns is relative to it.
    """

    def __init__(self, store: BaseObjectStore, commit: str, subdir: str = "") -> None:
        self._store = store
        obj = self._object(commit, missing=RefNotFound)
        while isinstance(obj, Tag):
            obj = self._object(obj.object[1].decode("ascii"), missing=RefNotFound)
        if not isinstance(obj, Commit):
            raise RefNotFound(f"{commit} is not a commit", rev=commit)
        self._commit = CommitSha(obj.id.decode("ascii"))
        self._commit_obj = obj
        self._subdir = subdir.strip("/")
        self._trees: dict[str, Tree | None] = {}
        self._data: dict[bytes, bytes] = {}  # blob sha → bytes read (small files)
        self._listing: dict[str, list[str]] = {}
        self._known: dict[str, tuple[int, bytes]] = {}  # path → entry, from listings
        root: Tree | None = self._tree_object(obj.tree)
        if self._subdir:
            root = self._descend(root, self._subdir)
        self._trees[""] = root
        self._parts: GitParts | None = None

    # plumbing ------------------------------------------------------------------------
    def _object(self, sha: str | bytes, missing: type[NotFound] = NotFound) -> ShaFile:
        key = as_oid(sha)
        try:
            return self._store[key]
        except (KeyError, ValueError) as exc:
            text = key.decode("ascii", errors="replace")
            raise missing(f"object {text} not found", sha=text) from exc

    def _tree_object(self, sha: bytes) -> Tree:
        try:  # parsed once per process (a 10,000-entry tree costs ~10 ms to parse)
            obj = read_tree(self._store, sha)
        except (KeyError, ValueError) as exc:
            text = sha.decode("ascii", errors="replace")
            raise StorageError(f"object {text} not found", sha=text) from exc
        if not isinstance(obj, Tree):
            raise StorageError(f"object {sha.decode('ascii')} is not a tree")
        return obj

    def _descend(self, tree: Tree | None, folder: str) -> Tree | None:
        for name in folder.split("/"):
            if tree is None:
                return None
            try:
                mode, sha = tree[name.encode("utf-8")]
            except KeyError:
                return None
            if not stat.S_ISDIR(mode):
                return None
            tree = self._tree_object(sha)
        return tree

    def _tree(self, folder: str) -> Tree | None:
        folder = folder.strip("/")
        if folder not in self._trees:
            parent, _, name = folder.rpartition("/")
            self._trees[folder] = self._descend(self._tree(parent), name)
        return self._trees[folder]

    def _entry(self, path: str) -> tuple[int, bytes] | None:
        known = self._known.get(path)
        if known is not None:
            return known
        folder, _, name = path.strip("/").rpartition("/")
        tree = self._tree(folder)
        if tree is None or not name:
            return None
        try:
            mode, sha = tree[name.encode("utf-8")]
        except KeyError:
            return None
        return mode, sha

    def tree_sha_of(self, folder: str) -> TreeSha | None:
        """Sha of the tree at ``folder`` ("" = the prompt root), or None."""
        tree = self._tree(folder)
        return TreeSha(tree.id.decode("ascii")) if tree is not None else None

    # Snapshot ------------------------------------------------------------------------
    @property
    def commit(self) -> CommitSha:
        return self._commit

    @property
    def commit_object(self) -> Commit:
        return self._commit_obj

    @property
    def subdir(self) -> str:
        return self._subdir

    @property
    def store(self) -> BaseObjectStore:
        return self._store

    @property
    def parts(self) -> GitParts:
        if self._parts is None:
            self._parts = GitParts(self, self.parts_dir)
        return self._parts

    def exists(self, path: str) -> bool:
        entry = self._entry(path)
        return entry is not None and not stat.S_ISDIR(entry[0])

    def _file(self, path: str) -> tuple[int, bytes]:
        entry = self._entry(path)
        if entry is None or stat.S_ISDIR(entry[0]):
            raise NotFound(f"no file {path} at {self._commit[:12]}", path=path)
        return entry

    def read(self, path: str) -> bytes:
        _, sha = self._file(path)
        data = self._data.get(sha)
        if data is None:
            try:  # shared with the push limits, which read the same new blobs
                type_num, data = read_raw(self._store, sha)
            except (KeyError, ValueError) as exc:
                text = sha.decode("ascii", errors="replace")
                raise StorageError(f"object {text} not found", sha=text) from exc
            if type_num != Blob.type_num:
                raise NotFound(f"{path} is not a file", path=path)
            if len(data) <= _READ_CACHE_MAX_FILE:
                self._data[sha] = data
        return data

    def blob_sha(self, path: str) -> BlobSha:
        return BlobSha(self._file(path)[1].decode("ascii"))

    def mode(self, path: str) -> int:
        return self._file(path)[0]

    def is_symlink(self, path: str) -> bool:
        entry = self._entry(path)
        return entry is not None and stat.S_IFMT(entry[0]) == SYMLINK_MODE

    def list_dir(self, folder: str) -> list[str]:
        folder = folder.strip("/")
        if folder not in self._listing:
            tree = self._tree(folder)
            out: list[str] = []
            if tree is not None:
                self._walk(tree, folder, out, 0)
            self._listing[folder] = sorted(out)
        return list(self._listing[folder])

    def _walk(self, tree: Tree, prefix: str, out: list[str], depth: int) -> None:
        if depth > _MAX_TREE_DEPTH:
            raise LimitExceeded(f"tree nested deeper than {_MAX_TREE_DEPTH} levels")
        for entry in tree.iteritems():
            name = entry.path.decode("utf-8", errors="replace")
            path = f"{prefix}/{name}" if prefix else name
            if stat.S_ISDIR(entry.mode):
                self._walk(self._tree_object(entry.sha), path, out, depth + 1)
            else:
                out.append(path)
                self._known[path] = (entry.mode, entry.sha)

    def prompt_identities(
        self, base: Snapshot | None = None
    ) -> dict[str, tuple[str, str] | None]:
        """As the base class, cached by prompts-tree sha. With ``base`` (e.g. the
        parent commit) whose identities are cached, only the tree diff between the
        two is looked at: a one-file change in a 10,000-prompt repo stays cheap."""
        pdir = self.prompts_dir
        tree = self.tree_sha_of(pdir)
        if tree is None:
            return {}
        key = (tree, pdir)
        hit = TREE_IDS.get(key)
        if hit is not None:
            return hit
        derived = self._derive_identities(base, pdir, tree)
        result = derived if derived is not None else super().prompt_identities()
        TREE_IDS.put(key, result)
        return result

    def _derive_identities(
        self, base: Snapshot | None, pdir: str, tree: str
    ) -> dict[str, tuple[str, str] | None] | None:
        if not isinstance(base, GitSnapshot) or base.prompts_dir != pdir:
            return None
        base_tree = base.tree_sha_of(pdir)
        known = TREE_IDS.get((base_tree, pdir)) if base_tree else None
        if known is None or base_tree is None:
            return None
        result = dict(known)
        # diff_trees: dict/set-algebra diff (dulwich's tree_changes walks all 10,000
        # entries of a big prompts folder in Python). Lazy: gitrepo imports us.
        from dakora.registry.git.tree_diff import diff_trees

        for rel, old, new in diff_trees(self._store, base_tree.encode(), tree.encode()):
            if old is not None:
                result.pop(f"{pdir}/{rel}", None)
            if new is not None and stat.S_ISREG(new[0]):
                path = f"{pdir}/{rel}"
                if path.endswith(PROMPT_SUFFIXES):
                    result[path] = blob_identity(
                        self._store, new[1].decode("ascii"), path
                    )
        return dict(sorted(result.items()))

    def id_paths(self, base: Snapshot | None = None) -> dict[str, tuple[str, ...]]:
        """prompt id → sorted paths of the prompt files (that load) with that id.

        Cached by prompts-tree sha. With ``base`` (e.g. the parent commit) whose map
        is cached, derived from it and the tree diff: only changed files are read, so
        whole-repo id rules cost O(changed files) per commit. Read-only (shared).
        """
        pdir = self.prompts_dir
        tree = self.tree_sha_of(pdir)
        if tree is None:
            return {}
        key = (tree, pdir)
        hit = TREE_ID_PATHS.get(key)
        if hit is not None:
            return hit
        result = self._derive_id_paths(base, pdir, tree)
        if result is None:
            grouped: dict[str, list[str]] = {}
            for path, ident in self.prompt_identities(base).items():
                if ident is not None:
                    grouped.setdefault(ident[0], []).append(path)
            result = {pid: tuple(sorted(paths)) for pid, paths in grouped.items()}
        TREE_ID_PATHS.put(key, result)
        return result

    def _derive_id_paths(
        self, base: Snapshot | None, pdir: str, tree: str
    ) -> dict[str, tuple[str, ...]] | None:
        if not isinstance(base, GitSnapshot) or base.prompts_dir != pdir:
            return None
        base_tree = base.tree_sha_of(pdir)
        known = TREE_ID_PATHS.get((base_tree, pdir)) if base_tree else None
        if known is None or base_tree is None:
            return None
        from dakora.registry.git.tree_diff import diff_trees

        result = dict(known)
        for rel, old, new in diff_trees(self._store, base_tree.encode(), tree.encode()):
            path = f"{pdir}/{rel}"
            if not path.endswith(PROMPT_SUFFIXES):
                continue
            for entry, add in ((old, False), (new, True)):
                if entry is None or not stat.S_ISREG(entry[0]):
                    continue
                ident = blob_identity(self._store, entry[1].decode("ascii"), path)
                if ident is None:
                    continue
                paths = list(result.get(ident[0], ()))
                if add:
                    if path not in paths:
                        bisect.insort(paths, path)
                elif path in paths:
                    paths.remove(path)
                if paths:
                    result[ident[0]] = tuple(paths)
                else:
                    result.pop(ident[0], None)
        return result

    def all_paths(self) -> list[str]:
        return self.list_dir("")
