"""A read-only view of a prompt repository's files at one point: a commit or a folder.

Both kinds answer the same questions, so checks and rendering don't care whether they
look at ``HEAD~3`` of a bare repo or the author's unsaved working tree.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from dulwich.object_store import BaseObjectStore
from dulwich.objects import Blob, Commit, ShaFile, Tag, Tree

from dakora.registry.errors import (
    InvalidPrompt,
    LimitExceeded,
    NotFound,
    PromptNotFound,
    RefNotFound,
    StorageError,
)
from dakora.registry.findings import Finding
from dakora.registry.loader import (
    LoadedPrompt,
    RepoConfig,
    load_config,
    load_prompt_findings,
)
from dakora.registry.lru import LruCache
from dakora.registry.parts import PART_EXTENSIONS
from dakora.registry.types import CommitSha


class PartsSource(Protocol):
    """The ``parts/`` folder of one snapshot, for ``{% include "category/name" %}``."""

    @property
    def key(self) -> str:
        """Cache key: the parts tree sha (git) or a content hash (folder)."""
        ...

    def names(self) -> list[str]:
        """Every part as ``category/name`` (without extension), sorted."""
        ...

    def get_source(self, name: str) -> tuple[str, str] | None:
        """(source text, repo path) of ``category/name`` (extension optional), or None."""
        ...


class Snapshot(Protocol):
    @property
    def commit(self) -> CommitSha | None:
        """The commit, or None for a working tree / plain folder."""
        ...

    @property
    def config(self) -> RepoConfig: ...

    @property
    def parts(self) -> PartsSource: ...

    def prompt_paths(self) -> list[str]:
        """Repo-relative paths of every ``prompts/**/*.yaml|yml`` file, sorted."""
        ...

    def read(self, path: str) -> bytes: ...

    def blob_sha(self, path: str) -> str:
        """The git blob sha of the file (computed for folder files)."""
        ...

    def is_symlink(self, path: str) -> bool: ...

    def all_paths(self) -> list[str]:
        """Every file path in the snapshot (for path-safety checks)."""
        ...

    def load(self, path: str) -> LoadedPrompt:
        """Load one prompt file (cached by blob sha). Raises InvalidPrompt."""
        ...

    def find_prompt(self, prompt_id: str) -> LoadedPrompt:
        """The prompt with this id. Raises PromptNotFound."""
        ...

    def prompts(self) -> list[LoadedPrompt]:
        """Every prompt that loads (invalid files are skipped; checks report them)."""
        ...


# --------------------------------------------------------------------------------------
# Implementations. ``GitSnapshot`` reads trees and blobs by sha (no checkout; works on a
# quarantine object store too); ``FolderSnapshot`` reads a working tree or plain folder.
# Prompt files are parsed once per blob sha (module-level LRU shared by every snapshot).
# --------------------------------------------------------------------------------------

PROMPT_SUFFIXES: tuple[str, ...] = (".yaml", ".yml")
PART_SUFFIXES: tuple[str, ...] = PART_EXTENSIONS  # one list: parts.py
CONFIG_PATH = "dakora.yaml"
SYMLINK_MODE = 0o120000
EMPTY_TREE_SHA = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's empty tree
_MAX_TREE_DEPTH = 64
_LOAD_CACHE_SIZE = 4096
_READ_CACHE_MAX_FILE = 512 * 1024
_IDENTITY_CACHE_SIZE = 262_144
MAX_PROMPT_FILE_BYTES = 256 * 1024


def _too_large(path: str, size: int) -> Finding:
    return Finding(
        path=path,
        line=None,
        severity="error",
        message=f"file is {size} bytes; the limit is {MAX_PROMPT_FILE_BYTES} (256 KiB)",
        rule="file-too-large",
    )


@dataclass(frozen=True)
class LoadCacheInfo:
    """Counters of the prompt-parse cache: a miss is one real parse."""

    hits: int
    misses: int
    size: int
    maxsize: int


_Loaded = tuple["LoadedPrompt | None", tuple[Finding, ...]]


class _LoadCache:
    """Thread-safe LRU: blob sha → (LoadedPrompt | None, findings) of one parse."""

    def __init__(self, maxsize: int, identity_size: int) -> None:
        self._lock = threading.Lock()
        self._data: OrderedDict[str, tuple[str, _Loaded]] = OrderedDict()
        self._ids: OrderedDict[str, tuple[str, str] | None] = OrderedDict()
        self._maxsize = maxsize
        self._identity_size = identity_size
        self.hits = 0
        self.misses = 0

    def get(
        self, blob_sha: str, path: str, read: Callable[[], bytes]
    ) -> tuple[LoadedPrompt | None, list[Finding]]:
        with self._lock:
            entry = self._data.get(blob_sha)
            if entry is not None:
                self._data.move_to_end(blob_sha)
                self.hits += 1
        if entry is None:
            data = read()
            if len(data) > MAX_PROMPT_FILE_BYTES:  # never parse an oversized file
                prompt, findings = None, [_too_large(path, len(data))]
            else:
                prompt, findings = load_prompt_findings(data, path, blob_sha)
            loaded: _Loaded = (prompt, tuple(findings))
            with self._lock:
                self.misses += 1
                self._data[blob_sha] = (path, loaded)
                self._data.move_to_end(blob_sha)
                while len(self._data) > self._maxsize:
                    self._data.popitem(last=False)
                self._remember_identity(blob_sha, prompt)
            entry = (path, loaded)
        first_path, (prompt, found) = entry
        if first_path == path:
            return prompt, list(found)
        # Same content at another path: re-label, don't re-parse.
        relabeled = [
            replace(f, path=path) if f.path == first_path else f for f in found
        ]
        if prompt is not None:
            prompt = replace(
                prompt,
                path=path,
                findings=tuple(
                    replace(f, path=path) if f.path == first_path else f
                    for f in prompt.findings
                ),
            )
        return prompt, relabeled

    def _remember_identity(self, blob_sha: str, prompt: LoadedPrompt | None) -> None:
        ident = (prompt.prompt.id, prompt.prompt.version) if prompt else None
        self._ids[blob_sha] = ident
        self._ids.move_to_end(blob_sha)
        while len(self._ids) > self._identity_size:
            self._ids.popitem(last=False)

    def identity(self, blob_sha: str) -> tuple[bool, tuple[str, str] | None]:
        """(known, (id, version) or None) without parsing."""
        with self._lock:
            if blob_sha in self._ids:
                self._ids.move_to_end(blob_sha)
                return True, self._ids[blob_sha]
        return False, None

    def info(self) -> LoadCacheInfo:
        with self._lock:
            return LoadCacheInfo(self.hits, self.misses, len(self._data), self._maxsize)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._ids.clear()
            self.hits = 0
            self.misses = 0


_CACHE = _LoadCache(_LOAD_CACHE_SIZE, _IDENTITY_CACHE_SIZE)


def load_cache_info() -> LoadCacheInfo:
    """Hits and misses of the shared parse cache (a miss = one prompt file parsed)."""
    return _CACHE.info()


def clear_load_cache() -> None:
    """Forget every parsed prompt (tests; never needed for correctness)."""
    _CACHE.clear()
    _TREE_IDS.clear()


def load_with_findings(
    snapshot: Snapshot, path: str
) -> tuple[LoadedPrompt | None, list[Finding]]:
    """Load one prompt file of any snapshot through the shared cache; never raises
    for a bad file (the findings say what is wrong)."""
    return _CACHE.get(snapshot.blob_sha(path), path, lambda: snapshot.read(path))


def prompt_identity(snapshot: Snapshot, path: str) -> tuple[str, str] | None:
    """(id, version) of a prompt file, or None when it does not load. Cached by blob
    sha in a larger cache than the parse cache, so whole-repo id scans stay cheap."""
    known, ident = _CACHE.identity(snapshot.blob_sha(path))
    if known:
        return ident
    prompt, _ = load_with_findings(snapshot, path)
    return (prompt.prompt.id, prompt.prompt.version) if prompt else None


def _read_blob(store: BaseObjectStore, blob_sha: str) -> bytes:
    try:
        obj = store[blob_sha.encode("ascii")]
    except KeyError as exc:
        raise StorageError(f"object {blob_sha} not found", sha=blob_sha) from exc
    if not isinstance(obj, Blob):
        raise StorageError(f"object {blob_sha} is not a blob", sha=blob_sha)
    return obj.as_raw_string()


def load_blob_with_findings(
    store: BaseObjectStore, blob_sha: str, path: str
) -> tuple[LoadedPrompt | None, list[Finding]]:
    """Like ``load_with_findings`` for a blob read straight from an object store."""
    return _CACHE.get(blob_sha, path, lambda: _read_blob(store, blob_sha))


def blob_identity(
    store: BaseObjectStore, blob_sha: str, path: str
) -> tuple[str, str] | None:
    """(id, version) of the prompt in a blob, or None when it does not load."""
    known, ident = _CACHE.identity(blob_sha)
    if known:
        return ident
    prompt, _ = load_blob_with_findings(store, blob_sha, path)
    return (prompt.prompt.id, prompt.prompt.version) if prompt else None


# A few recent (prompts tree sha, prompts dir) → identities maps.
_TREE_IDS: LruCache[tuple[str, str], dict[str, tuple[str, str] | None]] = LruCache(32)


def is_safe_relpath(path: str) -> bool:
    """A relative forward-slash path without ``..``/``.``/empty components."""
    if not path or path.startswith("/") or "\\" in path or "\x00" in path:
        return False
    if len(path) > 1 and path[1] == ":":
        return False
    return all(part not in ("", ".", "..") for part in path.split("/"))


def _clean_dir(value: str, default: str) -> str:
    value = value.strip().strip("/")
    return value if value and is_safe_relpath(value) else default


def _part_candidates(name: str) -> list[str]:
    """``category/name`` (extension optional) → file names to try inside parts/."""
    if not is_safe_relpath(name) or name.count("/") != 1:
        return []
    if name.endswith(PART_SUFFIXES):
        return [name]
    return [name + suffix for suffix in PART_SUFFIXES]


class _SnapshotBase:
    """What both snapshot kinds share, on top of a few primitive reads."""

    _config_cache: tuple[RepoConfig, list[Finding]] | None = None
    _index_cache: dict[str, str] | None = None

    # primitives ----------------------------------------------------------------------
    def read(self, path: str) -> bytes:
        raise NotImplementedError

    def blob_sha(self, path: str) -> str:
        raise NotImplementedError

    def is_symlink(self, path: str) -> bool:
        raise NotImplementedError

    def exists(self, path: str) -> bool:
        raise NotImplementedError

    def list_dir(self, folder: str) -> list[str]:
        """Every file path below ``folder`` (recursive), sorted; [] when absent."""
        raise NotImplementedError

    # shared --------------------------------------------------------------------------
    def _config_and_findings(self) -> tuple[RepoConfig, list[Finding]]:
        if self._config_cache is None:
            data = self.read(CONFIG_PATH) if self.exists(CONFIG_PATH) else None
            self._config_cache = load_config(data, CONFIG_PATH)
        return self._config_cache

    @property
    def config(self) -> RepoConfig:
        return self._config_and_findings()[0]

    def config_findings(self) -> list[Finding]:
        """Findings of ``dakora.yaml`` (empty when absent or clean)."""
        return list(self._config_and_findings()[1])

    @property
    def prompts_dir(self) -> str:
        return _clean_dir(self.config.prompts_dir, "prompts")

    @property
    def parts_dir(self) -> str:
        return _clean_dir(self.config.parts_dir, "parts")

    def prompt_paths(self) -> list[str]:
        return [
            p
            for p in self.list_dir(self.prompts_dir)
            if p.endswith(PROMPT_SUFFIXES) and not self.is_symlink(p)
        ]

    def content_paths(self) -> list[str]:
        """The files the registry reads: dakora.yaml, prompts/**, parts/** (sorted)."""
        paths = set(self.list_dir(self.prompts_dir)) | set(
            self.list_dir(self.parts_dir)
        )
        for single in (CONFIG_PATH, self.prompts_dir, self.parts_dir):
            if self.exists(single):  # also a symlink standing in for a folder
                paths.add(single)
        return sorted(paths)

    def size(self, path: str) -> int:
        return len(self.read(path))

    def load(self, path: str) -> LoadedPrompt:
        if not self.exists(path):
            raise PromptNotFound(f"no prompt file {path}", path=path)
        prompt, findings = load_with_findings(self, path)  # type: ignore[arg-type]
        errors = [f for f in findings if f.severity == "error"]
        if prompt is None or errors:
            raise InvalidPrompt(errors or findings)
        return prompt

    def prompt_identities(
        self, base: Snapshot | None = None
    ) -> dict[str, tuple[str, str] | None]:
        """path → (id, version) of every prompt file (None when it doesn't load),
        sorted by path. Read-only: the result may be shared by a cache."""
        return {
            path: prompt_identity(self, path)  # type: ignore[arg-type]
            for path in self.prompt_paths()
        }

    def prompt_index(self) -> dict[str, str]:
        """id → path of every prompt that loads (the first path wins on duplicates)."""
        if self._index_cache is None:
            index: dict[str, str] = {}
            for path, ident in self.prompt_identities().items():
                if ident is not None and ident[0] not in index:
                    index[ident[0]] = path
            self._index_cache = index
        return dict(self._index_cache)

    def path_of(self, prompt_id: str) -> str | None:
        """Path of the prompt with this id, or None. Tries files named after the id
        first (``prompts/**/<id>.yaml``) so a cold lookup needn't parse every file."""
        if self._index_cache is None:
            for path in self.prompt_paths():
                stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
                if stem == prompt_id:
                    ident = prompt_identity(self, path)  # type: ignore[arg-type]
                    if ident is not None and ident[0] == prompt_id:
                        return path
        return self.prompt_index().get(prompt_id)

    def find_prompt(self, prompt_id: str) -> LoadedPrompt:
        path = self.path_of(prompt_id)
        if path is None:
            raise PromptNotFound(f"prompt '{prompt_id}' not found", prompt_id=prompt_id)
        return self.load(path)

    def prompts(self) -> list[LoadedPrompt]:
        out: list[LoadedPrompt] = []
        for path in self.prompt_paths():
            prompt, findings = load_with_findings(self, path)  # type: ignore[arg-type]
            if prompt is not None and not any(f.severity == "error" for f in findings):
                out.append(prompt)
        return out


class _SnapshotParts:
    """``parts/`` of a snapshot; ``key`` is supplied by the subclass."""

    def __init__(self, snapshot: _SnapshotBase, parts_dir: str) -> None:
        self._snapshot = snapshot
        self._dir = parts_dir
        self._names: list[str] | None = None

    @property
    def key(self) -> str:
        raise NotImplementedError

    def files(self) -> list[str]:
        """Repo paths of every part file (``parts/<category>/<name>.<ext>``)."""
        prefix = self._dir + "/"
        out = []
        for path in self._snapshot.list_dir(self._dir):
            rel = path[len(prefix) :]
            if (
                rel.count("/") == 1
                and rel.endswith(PART_SUFFIXES)
                and not self._snapshot.is_symlink(path)
            ):
                out.append(path)
        return out

    def names(self) -> list[str]:
        if self._names is None:
            prefix = len(self._dir) + 1
            self._names = sorted({p[prefix:].rsplit(".", 1)[0] for p in self.files()})
        return list(self._names)

    def get_source(self, name: str) -> tuple[str, str] | None:
        for candidate in _part_candidates(name):
            path = f"{self._dir}/{candidate}"
            if self._snapshot.exists(path) and not self._snapshot.is_symlink(path):
                data = self._snapshot.read(path)
                return data.decode("utf-8", errors="replace"), path
        return None


class GitParts(_SnapshotParts):
    def __init__(self, snapshot: GitSnapshot, parts_dir: str) -> None:
        super().__init__(snapshot, parts_dir)
        self._tree = snapshot.tree_sha_of(parts_dir)

    @property
    def key(self) -> str:
        return self._tree or EMPTY_TREE_SHA


class FolderParts(_SnapshotParts):
    def __init__(self, snapshot: FolderSnapshot, parts_dir: str) -> None:
        super().__init__(snapshot, parts_dir)
        self._folder = snapshot
        self._key: str | None = None

    @property
    def key(self) -> str:
        if self._key is None:
            digest = hashlib.sha1()
            for path in self._folder.list_dir(self._dir):
                digest.update(f"{path}\0{self._folder.blob_sha(path)}\n".encode())
            self._key = digest.hexdigest()
        return self._key


class GitSnapshot(_SnapshotBase):
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
        key = sha.encode("ascii") if isinstance(sha, str) else sha
        try:
            return self._store[key]
        except (KeyError, ValueError) as exc:
            text = key.decode("ascii", errors="replace")
            raise missing(f"object {text} not found", sha=text) from exc

    def _tree_object(self, sha: bytes) -> Tree:
        obj = self._object(sha, missing=StorageError)  # type: ignore[arg-type]
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

    def tree_sha_of(self, folder: str) -> str | None:
        """Sha of the tree at ``folder`` ("" = the prompt root), or None."""
        tree = self._tree(folder)
        return tree.id.decode("ascii") if tree is not None else None

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
            obj = self._object(sha, missing=StorageError)  # type: ignore[arg-type]
            if not isinstance(obj, Blob):
                raise NotFound(f"{path} is not a file", path=path)
            data = obj.as_raw_string()
            if len(data) <= _READ_CACHE_MAX_FILE:
                self._data[sha] = data
        return data

    def blob_sha(self, path: str) -> str:
        return self._file(path)[1].decode("ascii")

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
        hit = _TREE_IDS.get(key)
        if hit is not None:
            return hit
        derived = self._derive_identities(base, pdir, tree)
        result = derived if derived is not None else super().prompt_identities()
        _TREE_IDS.put(key, result)
        return result

    def _derive_identities(
        self, base: Snapshot | None, pdir: str, tree: str
    ) -> dict[str, tuple[str, str] | None] | None:
        if not isinstance(base, GitSnapshot) or base.prompts_dir != pdir:
            return None
        base_tree = base.tree_sha_of(pdir)
        known = _TREE_IDS.get((base_tree, pdir)) if base_tree else None
        if known is None or base_tree is None:
            return None
        result = dict(known)
        # diff_trees: dict/set-algebra diff (dulwich's tree_changes walks all 10,000
        # entries of a big prompts folder in Python). Lazy: gitrepo imports us.
        from dakora.registry.gitrepo import diff_trees

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

    def all_paths(self) -> list[str]:
        return self.list_dir("")


class FolderSnapshot(_SnapshotBase):
    """A working tree or plain folder (``root`` = the prompt root). ``.git`` is
    skipped; symlinks are never followed (reading one gives its target, as git)."""

    def __init__(self, root: Path | str) -> None:
        self._root = Path(root).absolute()
        if not self._root.is_dir():
            raise NotFound(f"no such folder: {self._root}", path=str(self._root))
        self._data: dict[str, bytes] = {}
        self._shas: dict[str, str] = {}
        self._listing: dict[str, list[str]] = {}
        self._parts: FolderParts | None = None

    @property
    def root(self) -> Path:
        return self._root

    @property
    def commit(self) -> None:
        return None

    @property
    def parts(self) -> FolderParts:
        if self._parts is None:
            self._parts = FolderParts(self, self.parts_dir)
        return self._parts

    def _full(self, path: str) -> Path:
        if not is_safe_relpath(path):
            raise NotFound(f"not a path inside the repository: {path}", path=path)
        return self._root / path

    def exists(self, path: str) -> bool:
        try:
            full = self._full(path)
        except NotFound:
            return False
        return full.is_symlink() or full.is_file()

    def is_symlink(self, path: str) -> bool:
        try:
            return self._full(path).is_symlink()
        except NotFound:
            return False

    def read(self, path: str) -> bytes:
        if path not in self._data:
            full = self._full(path)
            try:
                if full.is_symlink():
                    data = os.fsencode(os.readlink(full))
                else:
                    data = full.read_bytes()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
                raise NotFound(f"no file {path}", path=path) from exc
            self._data[path] = data
        return self._data[path]

    def blob_sha(self, path: str) -> str:
        if path not in self._shas:
            data = self.read(path)
            self._shas[path] = hashlib.sha1(
                b"blob %d\x00" % len(data) + data
            ).hexdigest()
        return self._shas[path]

    def size(self, path: str) -> int:
        full = self._full(path)
        if full.is_symlink():
            return len(os.fsencode(os.readlink(full)))
        return full.stat().st_size

    def list_dir(self, folder: str) -> list[str]:
        folder = folder.strip("/")
        if folder not in self._listing:
            base = self._root / folder if folder else self._root
            out: list[str] = []
            if (
                (folder == "" or is_safe_relpath(folder))
                and base.is_dir()
                and not (base.is_symlink())
            ):
                for dirpath, dirnames, filenames in os.walk(base):
                    rel = Path(dirpath).relative_to(self._root).as_posix()
                    rel = "" if rel == "." else rel
                    keep = []
                    for d in dirnames:
                        if d == ".git":
                            continue
                        if os.path.islink(os.path.join(dirpath, d)):
                            filenames.append(d)  # a symlinked folder is a "file"
                        else:
                            keep.append(d)
                    dirnames[:] = keep
                    for name in filenames:
                        if rel == "" and name == ".git":
                            continue
                        out.append(f"{rel}/{name}" if rel else name)
            self._listing[folder] = sorted(out)
        return list(self._listing[folder])

    def all_paths(self) -> list[str]:
        return self.list_dir("")
