"""Git reads with dulwich, bare or non-bare, never checking anything out.

``PromptRepository.open(path)`` accepts a repo root, a folder inside a repo (prompts kept
in a subfolder of an application's repo: ``subdir`` is then the prefix inside the repo),
or a bare repo. dulwich ``KeyError`` / ``NotGitRepository`` become RefNotFound /
NotFound here. History and diff cost O(commits × changed paths): they walk tree diffs,
never re-parse every file of every commit.

Plumbing for the receive pipeline and the DB indexer works on any object store (also a
quarantine store): ``new_commits``, ``changed_paths``, ``versions_in_range``,
``heads_at``.
"""

from __future__ import annotations

import difflib
import heapq
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dulwich.diff_tree import tree_changes
from dulwich.errors import NotGitRepository
from dulwich.object_store import BaseObjectStore
from dulwich.objects import Commit, Tag
from dulwich.repo import Repo
from dulwich.walk import Walker

from dakora.registry.errors import (
    BadRequest,
    PromptNotFound,
    RefNotFound,
    RepositoryNotFound,
)
from dakora.registry.loader import LoadedPrompt
from dakora.registry.model import parse_semver
from dakora.registry.snapshot import (
    PROMPT_SUFFIXES,
    SYMLINK_MODE,
    FolderSnapshot,
    GitSnapshot,
    blob_identity,
)
from dakora.registry.types import ZERO_SHA, CommitSha

_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_SHORT_HEX = re.compile(r"^[0-9a-f]{4,39}$")
_REV_SUFFIX = re.compile(r"([~^])(\d*)")


@dataclass(frozen=True)
class VersionInfo:
    """One version of a prompt (a commit that changed its content)."""

    prompt_id: str
    version: str
    commit: CommitSha
    path: str
    blob_sha: str
    author: str
    committed_at: datetime  # UTC
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt_id": self.prompt_id,
            "version": self.version,
            "commit": self.commit,
            "path": self.path,
            "blob_sha": self.blob_sha,
            "author": self.author,
            "committed_at": self.committed_at.isoformat(),
            "message": self.message,
        }


@dataclass(frozen=True)
class PromptHead:
    """Where a prompt stands at one commit (for the ``prompt_heads`` index)."""

    prompt_id: str
    version: str
    blob_sha: str
    path: str


# ------------------------------------------------------------------------------------
# Plumbing on a bare object store
# ------------------------------------------------------------------------------------


def _get(store: BaseObjectStore, sha: str | bytes) -> Any:
    key = sha.encode("ascii") if isinstance(sha, str) else sha
    try:
        return store[key]
    except (KeyError, ValueError) as exc:
        text = key.decode("ascii", errors="replace")
        raise RefNotFound(f"object {text} not found", sha=text) from exc


def _commit(store: BaseObjectStore, sha: str | bytes) -> Commit:
    obj = _get(store, sha)
    while isinstance(obj, Tag):
        obj = _get(store, obj.object[1])
    if not isinstance(obj, Commit):
        raise RefNotFound(f"{_text(sha)} is not a commit", sha=_text(sha))
    return obj


def _text(sha: str | bytes) -> str:
    return sha.decode("ascii", errors="replace") if isinstance(sha, bytes) else sha


def _join(subdir: str, path: str) -> str:
    subdir = subdir.strip("/")
    return f"{subdir}/{path}" if subdir and path else (subdir or path)


def _commit_meta(commit: Commit) -> tuple[str, datetime, str]:
    author = commit.author.decode("utf-8", errors="replace")
    when = datetime.fromtimestamp(commit.commit_time, tz=UTC)
    message = commit.message.decode("utf-8", errors="replace").strip()
    return author, when, message


def _subtree(store: BaseObjectStore, tree_sha: bytes, folder: str) -> bytes | None:
    """Sha of the tree at folder below tree_sha, or None."""
    if not folder:
        return tree_sha
    try:
        tree = store[tree_sha]
        mode, sha = tree.lookup_path(store.__getitem__, folder.encode("utf-8"))
    except (KeyError, ValueError, NotGitRepository):
        return None
    return sha if stat.S_ISDIR(mode) else None


_TREES: dict[bytes, Any] = {}  # tree sha → parsed Tree (immutable by sha)
_TREES_MAX = 512


def _tree_getter(store: BaseObjectStore) -> Callable[[bytes], Any]:
    """``store[sha]`` that keeps parsed trees: a 10,000-entry tree costs ~1 ms to
    parse, and versions_in_range looks up every changed path from the root."""

    def get(sha: bytes) -> Any:
        tree = _TREES.get(sha)
        if tree is None:
            tree = store[sha]
            if tree.type_name == b"tree":
                if len(_TREES) >= _TREES_MAX:
                    _TREES.clear()
                _TREES[sha] = tree
        return tree

    return get


def _blob_at(store: BaseObjectStore, tree_sha: bytes, path: str) -> str | None:
    """Sha of the regular file at path below tree_sha, or None (missing/dir/link)."""
    try:
        get = _tree_getter(store)
        tree = get(tree_sha)
        mode, sha = tree.lookup_path(get, path.encode("utf-8"))
    except (KeyError, ValueError, NotGitRepository):
        return None
    if stat.S_ISDIR(mode) or stat.S_IFMT(mode) == SYMLINK_MODE or mode == 0o160000:
        return None
    return sha.decode("ascii")


def _existing(store: BaseObjectStore, shas: Iterable[str]) -> list[bytes]:
    out = []
    for sha in shas:
        if not sha or sha == ZERO_SHA:
            continue
        key = sha.encode("ascii")
        if key in store:
            out.append(key)
    return out


def _topo_parents_first(commits: dict[bytes, Commit]) -> list[bytes]:
    """Order commits so every parent (inside the set) comes before its children;
    ties broken by commit time then sha, so the order is deterministic."""
    children_left: dict[bytes, int] = dict.fromkeys(commits, 0)
    for c in commits.values():
        for p in c.parents:
            if p in commits:
                children_left[c.id] += 1  # number of unprocessed parents
    ready = [(commits[s].commit_time, s) for s, n in children_left.items() if n == 0]
    heapq.heapify(ready)
    kids: dict[bytes, list[bytes]] = {}
    for c in commits.values():
        for p in c.parents:
            if p in commits:
                kids.setdefault(p, []).append(c.id)
    order: list[bytes] = []
    while ready:
        _, sha = heapq.heappop(ready)
        order.append(sha)
        for child in kids.get(sha, ()):
            children_left[child] -= 1
            if children_left[child] == 0:
                heapq.heappush(ready, (commits[child].commit_time, child))
    return order


def new_commits(store: BaseObjectStore, new: str, exclude: list[str]) -> list[str]:
    """Commits reachable from ``new`` but from none of ``exclude``, parents first.

    Shas in ``exclude`` that the store doesn't have (or the zero sha) are ignored.
    """
    if not new or new == ZERO_SHA:
        return []
    tip = _commit(store, new)
    walker = Walker(store, include=[tip.id], exclude=_existing(store, exclude))
    commits = {entry.commit.id: entry.commit for entry in walker}
    return [sha.decode("ascii") for sha in _topo_parents_first(commits)]


@dataclass(frozen=True)
class _Change:
    old_path: str | None
    old_sha: str | None
    old_mode: int | None
    new_path: str | None
    new_sha: str | None
    new_mode: int | None


def _changes(store: BaseObjectStore, commit: Commit, folder: str) -> list[_Change]:
    """File changes of ``commit`` vs its first parent below ``folder`` (relative to
    it), with blob shas and modes straight from the tree diff."""
    folder = folder.strip("/")
    old_tree = _commit(store, commit.parents[0]).tree if commit.parents else None
    if folder:
        old_tree = _subtree(store, old_tree, folder) if old_tree else None
        new_tree = _subtree(store, commit.tree, folder)
    else:
        new_tree = commit.tree
    out: list[_Change] = []
    for path, old, new in diff_trees(store, old_tree, new_tree):
        if old is not None and new is not None and _kind(old[0]) != _kind(new[0]):
            # a file <-> symlink change is a delete plus an add (as tree_changes)
            out.append(_Change(path, _decode(old[1]), old[0], None, None, None))
            out.append(_Change(None, None, None, path, _decode(new[1]), new[0]))
            continue
        out.append(
            _Change(
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
    out: list[tuple[str, TreeEntryTuple | None, TreeEntryTuple | None]] = []

    def entries(sha: bytes | None) -> dict[bytes, TreeEntryTuple]:
        if sha is None:
            return {}
        found = _TREE_ENTRIES.get(sha)
        if found is not None:
            return found
        tree = store[sha]
        if tree.type_name != b"tree":
            return {}
        raw = getattr(tree, "_entries", None)  # unsorted dict: no 10,000-item sort
        if isinstance(raw, dict):
            found = dict(raw)
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
        for ch in _changes(store, _commit(store, commit), subdir)
    ]


def _version_info(
    commit: Commit, prompt_id: str, version: str, path: str, blob_sha: str
) -> VersionInfo:
    author, when, message = _commit_meta(commit)
    return VersionInfo(
        prompt_id=prompt_id,
        version=version,
        commit=CommitSha(commit.id.decode("ascii")),
        path=path,
        blob_sha=blob_sha,
        author=author,
        committed_at=when,
        message=message,
    )


def versions_in_range(
    store: BaseObjectStore, new: str, exclude: list[str], subdir: str = ""
) -> list[VersionInfo]:
    """Every prompt version introduced by ``new_commits(store, new, exclude)``, parents
    first: a prompt file added or changed whose (id, version) none of the commit's
    parents has at that path (and not just moved). Each (id, version) once.
    ``reindex`` passes ``exclude=[]`` to get every version from the root commit."""
    out: list[VersionInfo] = []
    seen: set[tuple[str, str]] = set()
    for sha in new_commits(store, new, exclude):
        commit = _commit(store, sha)
        prompts_dir = GitSnapshot(store, sha, subdir).prompts_dir
        changes = _changes(store, commit, _join(subdir, prompts_dir))
        before: set[tuple[str, str]] = set()
        for ch in changes:
            if ch.old_sha and _is_prompt_change(ch.old_path, ch.old_mode):
                old_path = f"{prompts_dir}/{ch.old_path}"
                ident = blob_identity(store, ch.old_sha, old_path)
                if ident:
                    before.add(ident)
        for ch in changes:
            if not ch.new_sha or not _is_prompt_change(ch.new_path, ch.new_mode):
                continue
            path = f"{prompts_dir}/{ch.new_path}"
            ident = blob_identity(store, ch.new_sha, path)
            if ident is None or ident in before or ident in seen:
                continue
            if any(
                _same_identity_at(store, p, subdir, path, ident)
                for p in commit.parents[1:]
            ):
                continue  # a merge bringing in a version its other parent had
            seen.add(ident)
            out.append(_version_info(commit, ident[0], ident[1], path, ch.new_sha))
    return out


def _is_prompt_change(path: str | None, mode: int | None) -> bool:
    return (
        path is not None
        and mode is not None
        and stat.S_ISREG(mode)
        and path.endswith(PROMPT_SUFFIXES)
    )


def _same_identity_at(
    store: BaseObjectStore,
    parent: bytes,
    subdir: str,
    path: str,
    ident: tuple[str, str],
) -> bool:
    blob = _blob_at(store, _commit(store, parent).tree, _join(subdir, path))
    return blob is not None and blob_identity(store, blob, path) == ident


def heads_at(
    store: BaseObjectStore, commit: str, subdir: str = ""
) -> dict[str, PromptHead]:
    """id → PromptHead(version, blob sha, path) of every prompt that loads at commit
    (the first path in sorted order wins when ids collide)."""
    snap = GitSnapshot(store, commit, subdir)
    heads: dict[str, PromptHead] = {}
    for path in snap.prompt_paths():
        blob = snap.blob_sha(path)
        ident = blob_identity(store, blob, path)
        if ident is not None and ident[0] not in heads:
            heads[ident[0]] = PromptHead(ident[0], ident[1], blob, path)
    return heads


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


# ------------------------------------------------------------------------------------
# The repository
# ------------------------------------------------------------------------------------


class PromptRepository:
    """A prompt repository on disk (bare or with a work tree, possibly a subfolder)."""

    def __init__(self, repo: Repo, subdir: str = "", root: Path | None = None) -> None:
        self._repo = repo
        self.subdir = subdir.strip("/")
        self.root = root  # the prompt root on disk (None for a bare repo)
        self._version_cache: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> PromptRepository:
        start = Path(path).absolute()
        if not start.is_dir():
            raise RepositoryNotFound(f"no such folder: {start}", path=str(start))
        try:
            repo = Repo.discover(str(start))
        except (NotGitRepository, OSError) as exc:
            raise RepositoryNotFound(
                f"not a git repository (or any parent up to /): {start}",
                path=str(start),
            ) from exc
        real = Path(os.path.realpath(start))
        base = Path(os.path.realpath(repo.path))
        if repo.bare:
            if real != base:
                repo.close()
                raise RepositoryNotFound(
                    f"{start} is inside a bare repository's internals", path=str(start)
                )
            return cls(repo, "", None)
        try:
            rel = real.relative_to(base).as_posix()
        except ValueError:  # pragma: no cover - discover returned an unrelated repo
            repo.close()
            raise RepositoryNotFound(f"not a git repository: {start}") from None
        subdir = "" if rel == "." else rel
        if subdir == ".git" or subdir.startswith(".git/"):
            repo.close()
            raise RepositoryNotFound(f"{start} is inside .git", path=str(start))
        return cls(repo, subdir, real)

    # lifecycle -----------------------------------------------------------------------
    def close(self) -> None:
        self._repo.close()

    def __enter__(self) -> PromptRepository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def store(self) -> BaseObjectStore:
        return self._repo.object_store

    @property
    def bare(self) -> bool:
        return bool(self._repo.bare)

    @property
    def repo(self) -> Repo:
        return self._repo

    # refs ----------------------------------------------------------------------------
    def resolve(self, rev: str) -> CommitSha:
        """Branch, tag, full or short sha, ``HEAD``, ``refs/...``, with optional
        ``~N`` / ``^N`` suffixes. Raises RefNotFound."""
        rev = rev.strip()
        match = re.match(r"^(.*?)((?:[~^]\d*)*)$", rev)
        base, suffix = (match.group(1), match.group(2)) if match else (rev, "")
        if not base:
            raise RefNotFound(f"unknown revision '{rev}'", rev=rev)
        commit = self._resolve_base(base, rev)
        for op, num in _REV_SUFFIX.findall(suffix):
            n = int(num) if num else 1
            if op == "~":
                for _ in range(n):
                    if not commit.parents:
                        raise RefNotFound(f"unknown revision '{rev}'", rev=rev)
                    commit = _commit(self.store, commit.parents[0])
            elif n:
                if n > len(commit.parents):
                    raise RefNotFound(f"unknown revision '{rev}'", rev=rev)
                commit = _commit(self.store, commit.parents[n - 1])
        return CommitSha(commit.id.decode("ascii"))

    def _resolve_base(self, name: str, rev: str) -> Commit:
        refs = self._repo.refs
        if name in ("HEAD", "@"):
            candidates = ["HEAD"]
        elif name.startswith("refs/"):
            candidates = [name]
        else:
            candidates = [
                f"refs/{name}",
                f"refs/tags/{name}",
                f"refs/heads/{name}",
                f"refs/remotes/{name}",
            ]
        for candidate in candidates:
            try:
                sha = refs[candidate.encode("utf-8")]
            except (KeyError, ValueError):
                continue
            try:
                return _commit(self.store, sha)
            except RefNotFound:
                continue
        lowered = name.lower()
        if _HEX40.match(lowered) and lowered.encode("ascii") in self.store:
            return _commit(self.store, lowered)
        if _SHORT_HEX.match(lowered):
            found: set[bytes] = set()
            for sha in self.store.iter_prefix(lowered.encode("ascii")):
                try:
                    found.add(_commit(self.store, sha).id)
                except RefNotFound:
                    continue
            if len(found) == 1:
                return _commit(self.store, found.pop())
            if len(found) > 1:
                raise RefNotFound(f"short sha '{name}' is ambiguous", rev=rev)
        if name in ("HEAD", "@"):
            raise RefNotFound("HEAD has no commits yet", rev=rev)
        raise RefNotFound(f"unknown revision '{rev}'", rev=rev)

    def refs(self) -> dict[str, CommitSha]:
        """Every branch and tag (full ref names; tags peeled to their commit)."""
        out: dict[str, CommitSha] = {}
        for name, sha in sorted(self._repo.refs.as_dict().items()):
            text = name.decode("utf-8", errors="replace")
            if not text.startswith(("refs/heads/", "refs/tags/")):
                continue
            try:
                out[text] = CommitSha(_commit(self.store, sha).id.decode("ascii"))
            except RefNotFound:
                continue  # a tag of a tree/blob, or a dangling ref
        return out

    def default_branch(self) -> str | None:
        """The branch HEAD points to (short name), or None when detached/unborn."""
        try:
            chain, _ = self._repo.refs.follow(b"HEAD")
        except (KeyError, ValueError):
            return None
        last = chain[-1].decode("utf-8", errors="replace") if chain else ""
        return (
            last.removeprefix("refs/heads/") if last.startswith("refs/heads/") else None
        )

    # snapshots -----------------------------------------------------------------------
    def snapshot(self, commit: str) -> GitSnapshot:
        return GitSnapshot(self.store, self.resolve(commit), self.subdir)

    def working_tree(self) -> FolderSnapshot:
        if self.root is None:
            raise BadRequest("a bare repository has no working tree; pass --ref")
        return FolderSnapshot(self.root)

    def head_snapshot(self) -> GitSnapshot | None:
        """The HEAD commit's snapshot, or None in a repo without commits."""
        try:
            return self.snapshot("HEAD")
        except RefNotFound:
            return None

    def get_prompt(
        self,
        prompt_id: str,
        *,
        ref: str | None = None,
        version: str | None = None,
        commit: str | None = None,
    ) -> tuple[LoadedPrompt, GitSnapshot]:
        """The prompt (and the snapshot it was read from, for its parts) at a ref
        (default ``HEAD``), a version (on any ref) or a commit. At most one selector.
        Raises PromptNotFound / RefNotFound / InvalidPrompt / BadRequest."""
        given = [s for s in (ref, version, commit) if s is not None]
        if len(given) > 1:
            raise BadRequest("give at most one of ref, version, commit")
        if version is not None:
            info = self.find_version(prompt_id, version)
            snap = self.snapshot(info.commit)
            return snap.load(info.path), snap
        snap = self.snapshot(commit if commit is not None else (ref or "HEAD"))
        return snap.find_prompt(prompt_id), snap

    # history -------------------------------------------------------------------------
    def history(self, prompt_id: str, rev: str = "HEAD") -> list[VersionInfo]:
        """Every version of the prompt reachable from rev, newest first."""
        tip = self.resolve(rev)
        path = self.snapshot(tip).path_of(prompt_id)
        if path is None:
            raise PromptNotFound(
                f"prompt '{prompt_id}' not found at {rev}", prompt_id=prompt_id
            )
        return self._walk_versions(prompt_id, {tip.encode("ascii"): path})

    def all_versions(self, prompt_id: str) -> list[VersionInfo]:
        """Every version of the prompt on any branch or tag, newest first."""
        starts: dict[bytes, str] = {}
        for sha in self.refs().values():
            key = sha.encode("ascii")
            if key in starts:
                continue
            path = self.snapshot(sha).path_of(prompt_id)
            if path is not None:
                starts[key] = path
        if not starts:
            raise PromptNotFound(
                f"prompt '{prompt_id}' not found on any branch or tag",
                prompt_id=prompt_id,
            )
        return self._walk_versions(prompt_id, starts)

    def find_version(self, prompt_id: str, version: str) -> VersionInfo:
        """The commit that introduced ``version`` on any ref. Raises RefNotFound."""
        for info in self.all_versions(prompt_id):
            if info.version == version:
                return info
        raise RefNotFound(
            f"prompt '{prompt_id}' has no version {version}",
            prompt_id=prompt_id,
            version=version,
        )

    def version_lookup(self) -> Callable[[str, str], str | None]:
        """A ``VersionLookup`` for the checks: (id, version) → blob sha of every
        version on any branch or tag, read once from history (tree diffs)."""
        table: dict[tuple[str, str], str] = {}
        done: list[str] = []
        for sha in sorted(set(self.refs().values())):
            for info in versions_in_range(self.store, sha, done, self.subdir):
                table.setdefault((info.prompt_id, info.version), info.blob_sha)
            done.append(sha)

        def lookup(prompt_id: str, version: str) -> str | None:
            return table.get((prompt_id, version))

        return lookup

    def _walk_versions(
        self, prompt_id: str, starts: dict[bytes, str]
    ) -> list[VersionInfo]:
        """Walk every commit reachable from ``starts`` (commit → path of the prompt
        there), children first, following the prompt's path to each parent. A blob
        is parsed only where it differs from a parent's (tree lookups elsewhere)."""
        store = self.store
        commits = self._ancestry(list(starts))
        order = list(reversed(_topo_parents_first(commits)))
        prompts_dir = GitSnapshot(store, next(iter(starts)).decode(), self.subdir)
        pdir = prompts_dir.prompts_dir
        path_at: dict[bytes, str] = dict(starts)
        found: list[VersionInfo] = []
        for sha in order:
            path = path_at.get(sha)
            if path is None:
                continue
            commit = commits[sha]
            blob = _blob_at(store, commit.tree, _join(self.subdir, path))
            if blob is None:
                continue
            parent_blobs: list[tuple[str, str]] = []
            for parent_sha in commit.parents:
                parent = commits.get(parent_sha)
                if parent is None:
                    continue
                ppath: str | None = path
                pblob = _blob_at(store, parent.tree, _join(self.subdir, path))
                if pblob is None or (
                    pblob != blob
                    and (blob_identity(store, pblob, path) or ("",))[0] != prompt_id
                ):
                    ppath, pblob = self._moved_from(parent, commit, prompt_id, pdir)
                if ppath is not None and pblob is not None:
                    path_at.setdefault(parent_sha, ppath)
                    parent_blobs.append((ppath, pblob))
            if any(pb == blob for _, pb in parent_blobs):
                continue  # unchanged compared with a parent
            ident = blob_identity(store, blob, path)
            if ident is None or ident[0] != prompt_id:
                continue  # broken file at this commit: not a version
            before = {
                (blob_identity(store, pb, pp) or ("", ""))[1] for pp, pb in parent_blobs
            }
            if ident[1] in before:
                continue  # content changed without a new version string
            found.append(_version_info(commit, prompt_id, ident[1], path, blob))
        # A version string is introduced once: keep its oldest commit.
        oldest: dict[str, VersionInfo] = {}
        for info in reversed(found):
            oldest.setdefault(info.version, info)
        keep = {id(v) for v in oldest.values()}
        return [v for v in found if id(v) in keep]

    def _moved_from(
        self, parent: Commit, commit: Commit, prompt_id: str, prompts_dir: str
    ) -> tuple[str | None, str | None]:
        """Where the prompt lived in ``parent`` when ``commit`` moved it (or turned the
        file at its path into another prompt): the old side of this commit's changes
        under prompts/ holding the same id."""
        folder = _join(self.subdir, prompts_dir)
        old_tree = _subtree(self.store, parent.tree, folder)
        new_tree = _subtree(self.store, commit.tree, folder)
        if old_tree is None:
            return None, None
        for ch in tree_changes(self.store, old_tree, new_tree):
            if ch.old is None or ch.old.path is None or ch.old.sha is None:
                continue
            if ch.old.mode is None or not stat.S_ISREG(ch.old.mode):
                continue
            rel = f"{prompts_dir}/{ch.old.path.decode('utf-8', errors='replace')}"
            if not rel.endswith(PROMPT_SUFFIXES):
                continue
            sha = ch.old.sha.decode("ascii")
            ident = blob_identity(self.store, sha, rel)
            if ident is not None and ident[0] == prompt_id:
                return rel, sha
        return None, None

    def _ancestry(self, heads: list[bytes]) -> dict[bytes, Commit]:
        commits: dict[bytes, Commit] = {}
        stack = list(heads)
        while stack:
            sha = stack.pop()
            if sha in commits:
                continue
            try:
                commit = _commit(self.store, sha)
            except RefNotFound:
                continue  # shallow clone: history stops here
            commits[sha] = commit
            stack.extend(p for p in commit.parents if p not in commits)
        return commits

    # diff ----------------------------------------------------------------------------
    def diff(self, prompt_id: str, from_: str, to: str) -> str:
        """Unified diff of the prompt file between two versions or revisions."""
        versions: list[VersionInfo] | None = None

        def side(selector: str) -> tuple[str | None, bytes | None]:
            nonlocal versions
            if parse_semver(selector) is not None:
                if versions is None:
                    try:
                        versions = self.all_versions(prompt_id)
                    except PromptNotFound:
                        versions = []
                for info in versions:
                    if info.version == selector:
                        return info.path, self.snapshot(info.commit).read(info.path)
            try:
                sha = self.resolve(selector)
            except RefNotFound as exc:
                raise RefNotFound(
                    f"'{selector}' is neither a version of '{prompt_id}' nor a "
                    "branch, tag or commit",
                    rev=selector,
                ) from exc
            snap = self.snapshot(sha)
            path = snap.path_of(prompt_id)
            if path is None:
                return None, None
            return path, snap.read(path)

        old_path, old = side(from_)
        new_path, new = side(to)
        if old is None and new is None:
            raise PromptNotFound(
                f"prompt '{prompt_id}' not found at {from_} or {to}",
                prompt_id=prompt_id,
            )
        return unified_diff(old, new, old_path, new_path)
