"""Prompt files parsed once per blob sha: a thread-safe LRU shared by every snapshot
(``load_with_findings``, ``load_blob_with_findings``), a larger (id, version) cache
for cheap whole-repo id scans (``prompt_identity``, ``blob_identity``) and the
per-prompts-tree identity maps. Oversized files are never parsed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from dakora.registry.core import Finding, LruCache, StorageError
from dakora.registry.load import LoadedPrompt, load_prompt_findings

if TYPE_CHECKING:
    from dulwich.object_store import BaseObjectStore

    from dakora.registry.git.snapshot import Snapshot


_LOAD_CACHE_SIZE = 4096
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
        kept: dict[str, tuple[str, _Loaded]] | None = getattr(_SCOPE, "kept", None)
        entry = kept.get(blob_sha) if kept is not None else None
        if entry is None:
            with self._lock:
                entry = self._data.get(blob_sha)
                if entry is not None:
                    self._data.move_to_end(blob_sha)
                    self.hits += 1
        else:
            with self._lock:
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
        if kept is not None:
            kept.setdefault(blob_sha, entry)
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
_SCOPE = threading.local()


@contextmanager
def parse_scope() -> Iterator[None]:
    """Within it (per thread), every prompt file parsed stays parsed until it ends,
    whatever the LRU keeps: a push reads each new prompt in its checks, its index
    rows and its events, so a first push of 10,000 prompts parses each once, not
    once per step (docs/performance.md). Nested scopes share the outer one."""
    if getattr(_SCOPE, "kept", None) is not None:
        yield
        return
    _SCOPE.kept = {}
    try:
        yield
    finally:
        _SCOPE.kept = None


def load_cache_info() -> LoadCacheInfo:
    """Hits and misses of the shared parse cache (a miss = one prompt file parsed)."""
    return _CACHE.info()


def clear_load_cache() -> None:
    """Forget every parsed prompt (tests; never needed for correctness)."""
    _CACHE.clear()
    TREE_IDS.clear()
    TREE_ID_PATHS.clear()


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
    # here, not at the top: a working-tree read (FolderSnapshot) needs no dulwich
    from dulwich.objects import Blob

    from dakora.registry.git.objects import as_oid

    try:
        obj = store[as_oid(blob_sha)]
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
TREE_IDS: LruCache[tuple[str, str], dict[str, tuple[str, str] | None]] = LruCache(32)

# A few recent (prompts tree sha, prompts dir) → {prompt id: sorted paths} maps, for
# whole-repo id rules (duplicate ids, prompt heads) answered per changed id.
TREE_ID_PATHS: LruCache[tuple[str, str], dict[str, tuple[str, ...]]] = LruCache(32)
