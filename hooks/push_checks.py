"""What a push is checked against (docs/design.md §6 step 2).

``DefaultChecker`` runs, for every ref update of a push: the ref-name rules, the
protected-ref rules (the default branch and ``dakora.yaml``'s ``protected_refs`` can be
neither deleted nor force-pushed), the limits (files per commit, file size) on every new
commit, and the registry checks (``dakora.registry.checks.run.check_push``, the code
``dakora lint`` runs) over old..new. It reads objects through any dulwich object store,
so the quarantine (new objects + the repository as alternate) and a plain repository
look the same to it.

A ``Checker`` is any ``(store, updates) -> list[Finding]``; errors reject the push.
"""

from __future__ import annotations

import fnmatch
import logging
import stat
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from dulwich.object_store import BaseObjectStore
from dulwich.objects import Commit, Tag, Tree
from dulwich.refs import check_ref_format

from dakora.registry.core import Finding, dedupe
from dakora.registry.git import read_raw

try:
    from dakora.registry.git import diff_trees
except ImportError:  # older layout
    from dakora.registry.git import diff_trees
from dakora.registry.core import ZERO_SHA

logger = logging.getLogger(__name__)

VersionLookup = Callable[[str, str], "str | None"]


@dataclass(frozen=True)
class RefUpdate:
    """One command of a push: move ``ref`` from ``old`` to ``new`` (hex shas)."""

    old: str
    new: str
    ref: str

    @property
    def is_create(self) -> bool:
        return self.old == ZERO_SHA

    @property
    def is_delete(self) -> bool:
        return self.new == ZERO_SHA

    @property
    def short_name(self) -> str:
        for prefix in ("refs/heads/", "refs/tags/"):
            if self.ref.startswith(prefix):
                return self.ref[len(prefix) :]
        return self.ref

    @classmethod
    def parse(cls, old: bytes | str, new: bytes | str, ref: bytes | str) -> RefUpdate:
        def text(v: bytes | str) -> str:
            return v.decode("utf-8", "replace") if isinstance(v, bytes) else v

        return cls(old=text(old), new=text(new), ref=text(ref))


@dataclass(frozen=True)
class PushLimits:
    """Size and count limits of one push."""

    max_pack_bytes: int = 256 * 1024 * 1024
    max_files_per_commit: int = 20_000
    max_file_bytes: int = 10 * 1024 * 1024
    max_refs: int = 1_000
    # the sum of the inflated sizes of a push's objects (read from their headers)
    max_unpacked_bytes: int = 512 * 1024 * 1024


Checker = Callable[[BaseObjectStore, list[RefUpdate]], list[Finding]]
CheckPush = Callable[..., list[Finding]]


def _error(path: str, message: str, rule: str, line: int | None = None) -> Finding:
    return Finding(path=path, line=line, severity="error", message=message, rule=rule)


def peel(store: BaseObjectStore, sha: str) -> str | None:
    """The commit a sha names (annotated tags peeled); None when it is not a commit."""
    seen = 0
    obj = store[sha.encode("ascii")]
    while isinstance(obj, Tag) and seen < 10:
        obj = store[obj.object[1]]
        seen += 1
    if isinstance(obj, Commit):
        return obj.id.decode("ascii")
    return None


def is_ancestor(store: BaseObjectStore, ancestor: str, descendant: str) -> bool:
    """True when ``ancestor`` is reachable from ``descendant`` (or equal).

    Walks newest commits first, so a fast-forward (the ancestor sits just below the
    new commits) is found after a few steps; a non-fast-forward walks the
    descendant's whole history (exact: commit dates are not trusted for pruning).
    """
    import heapq

    target = ancestor.encode("ascii")
    start = descendant.encode("ascii")
    if start == target:
        return True
    seen: set[bytes] = {start}
    heap: list[tuple[int, bytes]] = []

    def push(sha: bytes) -> None:
        try:
            commit = store[sha]
        except KeyError:
            return
        if isinstance(commit, Commit):
            heapq.heappush(heap, (-commit.commit_time, sha))

    push(start)
    while heap:
        _time, sha = heapq.heappop(heap)
        commit = store[sha]
        assert isinstance(commit, Commit)
        for parent in commit.parents:
            if parent == target:
                return True
            if parent not in seen:
                seen.add(parent)
                push(parent)
    return False


def new_commits(
    store: BaseObjectStore, new: str, exclude: Iterable[str]
) -> list[Commit]:
    """Commits reachable from ``new`` and from none of ``exclude`` (newest first).

    ``exclude`` may hold tags (peeled here) and shas missing from the store (skipped).
    """
    from dulwich.walk import Walker

    heads: list[bytes] = []
    for sha in exclude:
        if not sha or sha == ZERO_SHA:
            continue
        try:
            commit = peel(store, sha)
        except KeyError:
            continue
        if commit is not None:
            heads.append(commit.encode("ascii"))
    walker = Walker(store, [new.encode("ascii")], exclude=heads)  # type: ignore[arg-type]
    return [entry.commit for entry in walker]


FileEntry = tuple[int, bytes]  # (mode, sha)


def changed_files(
    store: BaseObjectStore, commit: Commit
) -> list[tuple[str, bytes | None, int | None]]:
    """(path, new blob sha or None when deleted, mode) of every file a commit changes
    against its first parent (everything for a root commit)."""
    parent_tree: bytes | None = None
    if commit.parents:
        try:
            parent = store[commit.parents[0]]
            if isinstance(parent, Commit):
                parent_tree = parent.tree
        except KeyError:
            parent_tree = None
    out: list[tuple[str, bytes | None, int | None]] = []
    for path, _old, new in diff_trees(store, parent_tree, commit.tree):
        if new is not None:
            out.append((path, new[1], new[0]))
        else:
            out.append((path, None, None))
    return out


def unsafe_path_reason(path: str) -> str | None:
    """Why a repository path is unsafe (``..``/``.``/``.git`` parts, backslashes,
    absolute), or None."""
    if path.startswith("/") or "\\" in path or "\0" in path:
        return f"unsafe path {path!r}"
    for part in path.split("/"):
        if part in ("", ".", "..") or part.lower() == ".git":
            return f"unsafe path {path!r}: a '{part or '/'}' component is not allowed"
    return None


def ref_name_findings(update: RefUpdate) -> list[Finding]:
    ref = update.ref
    if not ref.startswith(("refs/heads/", "refs/tags/")):
        return [_error(ref, "only branches and tags can be pushed", "ref-name")]
    if not check_ref_format(ref.encode("utf-8")):
        return [_error(ref, "invalid ref name", "ref-name")]
    if update.is_delete and update.is_create:
        return [_error(ref, "nothing to do", "ref-name")]
    return []


def is_protected(ref: str, default_branch: str, protected: Iterable[str]) -> bool:
    if ref == f"refs/heads/{default_branch}":
        return True
    for pattern in protected:
        candidates = (
            [pattern]
            if pattern.startswith("refs/")
            else [f"refs/heads/{pattern}", f"refs/tags/{pattern}"]
        )
        if any(fnmatch.fnmatchcase(ref, c) for c in candidates):
            return True
    return False


def read_protected_refs(store: BaseObjectStore, commit: str | None) -> tuple[str, ...]:
    """``protected_refs`` of ``dakora.yaml`` at ``commit`` (empty when absent)."""
    if not commit or commit == ZERO_SHA:
        return ()
    try:
        obj = store[commit.encode("ascii")]
        if not isinstance(obj, Commit):
            return ()
        tree = store[obj.tree]
        assert isinstance(tree, Tree)
        for name in (b"dakora.yaml", b"dakora.yml"):
            if name in tree:
                _mode, sha = tree[name]
                data = store[sha].as_raw_string()
                break
        else:
            return ()
    except (KeyError, AssertionError):
        return ()
    try:
        from dakora.registry.load import load_config

        config, _findings = load_config(data)
        return tuple(config.protected_refs)
    except NotImplementedError:  # pragma: no cover - loader not built yet
        import yaml

        try:
            raw = yaml.safe_load(data) or {}
        except yaml.YAMLError:
            return ()
        refs = raw.get("protected_refs") if isinstance(raw, dict) else None
        return tuple(str(r) for r in refs) if isinstance(refs, list) else ()


class DefaultChecker:
    """The checks of a push. ``refs_before``: the repository's refs when the push
    arrived (full name → sha); ``default_branch``: the project's default branch."""

    def __init__(
        self,
        *,
        refs_before: dict[str, str],
        default_branch: str = "main",
        limits: PushLimits | None = None,
        version_lookup: VersionLookup | None = None,
        check_push: CheckPush | None = None,
        run_registry_checks: bool = True,
    ) -> None:
        self.refs_before = refs_before
        self.default_branch = default_branch
        self.limits = limits or PushLimits()
        self.version_lookup = version_lookup
        self._check_push = check_push
        self.run_registry_checks = run_registry_checks

    def _registry_check_push(self) -> CheckPush | None:
        if not self.run_registry_checks:
            return None
        if self._check_push is not None:
            return self._check_push
        try:
            from dakora.registry.checks import check_push
        except ImportError:  # pragma: no cover - registry checks not built yet
            logger.warning("dakora.registry.checks.run.check_push is missing")
            return None
        return check_push  # type: ignore[no-any-return]

    def __call__(
        self, store: BaseObjectStore, updates: list[RefUpdate]
    ) -> list[Finding]:
        findings: list[Finding] = []
        if len(updates) > self.limits.max_refs:
            return [
                _error(
                    "(push)",
                    f"too many ref updates in one push ({len(updates)} > "
                    f"{self.limits.max_refs})",
                    "limit-refs",
                )
            ]
        default_head = self.refs_before.get(f"refs/heads/{self.default_branch}")
        protected = read_protected_refs(store, default_head)
        exclude = sorted(set(self.refs_before.values()))
        check_push = self._registry_check_push()
        seen_commits: set[bytes] = set()
        for update in updates:
            names = ref_name_findings(update)
            if names:
                findings.extend(names)
                continue
            if is_protected(update.ref, self.default_branch, protected):
                if update.is_delete:
                    findings.append(
                        _error(
                            update.ref,
                            f"cannot delete the protected ref {update.short_name}",
                            "protected-ref",
                        )
                    )
                    continue
                if not update.is_create and not is_ancestor(
                    store, update.old, update.new
                ):
                    findings.append(
                        _error(
                            update.ref,
                            "non-fast-forward update (force push) of the protected "
                            f"ref {update.short_name} is not allowed",
                            "protected-ref",
                        )
                    )
                    continue
            if update.is_delete:
                continue
            try:
                target = peel(store, update.new)
            except KeyError:
                findings.append(
                    _error(update.ref, f"object {update.new} is missing", "ref-target")
                )
                continue
            if target is None:  # a blob or a tree, even behind annotated tags
                kind = "branch" if update.ref.startswith("refs/heads/") else "tag"
                findings.append(
                    _error(update.ref, f"a {kind} must point to a commit", "ref-target")
                )
                continue
            findings.extend(self._limit_findings(store, target, exclude, seen_commits))
            if check_push is not None:
                old = update.old
                if not update.is_create:
                    try:
                        old = peel(store, update.old) or update.old
                    except KeyError:
                        old = ZERO_SHA
                findings.extend(
                    check_push(
                        store,
                        old,
                        target,
                        exclude=exclude,
                        version_lookup=self.version_lookup,
                    )
                )
        return dedupe(findings)

    def _limit_findings(
        self,
        store: BaseObjectStore,
        new: str,
        exclude: list[str],
        seen: set[bytes],
    ) -> list[Finding]:
        findings: list[Finding] = []
        for commit in new_commits(store, new, exclude):
            if commit.id in seen:
                continue
            seen.add(commit.id)
            files = changed_files(store, commit)
            short = commit.id.decode("ascii")[:10]
            if len(files) > self.limits.max_files_per_commit:
                findings.append(
                    _error(
                        "(push)",
                        f"commit {short} changes {len(files)} files (limit "
                        f"{self.limits.max_files_per_commit})",
                        "limit-files-per-commit",
                    )
                )
            for path, sha, mode in files:
                if sha is None or mode is None or stat.S_ISDIR(mode):
                    continue
                unsafe = unsafe_path_reason(path)
                if unsafe is not None:
                    findings.append(_error(path, unsafe, "unsafe-path"))
                    continue
                if mode == 0o160000:  # submodule
                    continue
                try:
                    _type, raw = read_raw(store, sha)
                except KeyError:
                    continue
                if len(raw) > self.limits.max_file_bytes:
                    findings.append(
                        _error(
                            path,
                            f"file is {len(raw)} bytes (limit "
                            f"{self.limits.max_file_bytes})",
                            "limit-file-size",
                        )
                    )
        return findings


def format_remote(finding: Finding) -> str:
    """``error: prompts/x.yaml:4: message`` — one ``remote:`` line."""
    where = f"{finding.path}:{finding.line}" if finding.line else finding.path
    return f"{finding.severity}: {where}: {finding.message}"


class HistoryVersions:
    """(prompt id, version) → blob sha of every version on any ref, read from history.

    Incremental: each call to ``update`` only walks commits not seen before, so a
    long-lived instance (one per repository, see ``history_versions``) costs one full
    walk at first and then only the new commits of each push.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: list[str] = []
        self._done_set: set[str] = set()
        self._table: dict[tuple[str, str], str] = {}

    def update(self, store: BaseObjectStore, refs: dict[str, str]) -> None:
        from dakora.registry.git import versions_in_range

        with self._lock:
            for _name, sha in sorted(refs.items()):
                try:
                    commit = peel(store, sha)
                except KeyError:
                    continue
                if commit is None or commit in self._done_set:
                    continue
                for info in versions_in_range(store, commit, list(self._done)):
                    self._table.setdefault(
                        (info.prompt_id, info.version), info.blob_sha
                    )
                self._done.append(commit)
                self._done_set.add(commit)

    def get(self, prompt_id: str, version: str) -> str | None:
        return self._table.get((prompt_id, version))


_HISTORY: dict[str, HistoryVersions] = {}
_HISTORY_LOCK = threading.Lock()


def history_versions(key: str) -> HistoryVersions:
    """The process-wide ``HistoryVersions`` of one repository (``key``: its path)."""
    with _HISTORY_LOCK:
        found = _HISTORY.get(key)
        if found is None:
            found = _HISTORY[key] = HistoryVersions()
        return found


def repo_version_lookup(
    store: BaseObjectStore,
    refs: dict[str, str],
    history: HistoryVersions | None = None,
) -> VersionLookup:
    """A ``VersionLookup`` read from the repository's history (no database).

    Built lazily on the first question. Servers with an index may look versions up
    there instead.
    """
    history = history or HistoryVersions()
    ready = False

    def lookup(prompt_id: str, version: str) -> str | None:
        nonlocal ready
        if not ready:
            history.update(store, refs)
            ready = True
        return history.get(prompt_id, version)

    return lookup
