"""Git reads with dulwich, bare or non-bare, never checking anything out.

``PromptRepository.open(path)`` accepts a repo root, a folder inside a repo (prompts kept
in a subfolder of an application's repo: ``subdir`` is then the prefix inside the repo),
or a bare repo. dulwich ``KeyError`` / ``NotGitRepository`` become RefNotFound /
NotFound here. History and diff cost O(commits × changed paths): they walk tree diffs,
never re-parse every file of every commit.

Plumbing for the receive pipeline and the DB indexer works on any object store (also a
quarantine store) and lives beside this module: ``objects`` (object reads), ``walk``
(commit walks), ``tree_diff`` (tree and text diffs), ``versions`` (versions from
history), ``history`` (one prompt's history walk).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dulwich.errors import NotGitRepository
from dulwich.object_store import BaseObjectStore
from dulwich.objects import Commit
from dulwich.repo import Repo

from dakora.registry.core import (
    BadRequest,
    CommitSha,
    PromptNotFound,
    RefNotFound,
    RepositoryNotFound,
    parse_semver,
)
from dakora.registry.git.commit_snapshot import GitSnapshot
from dakora.registry.git.folder_snapshot import FolderSnapshot
from dakora.registry.git.history import walk_versions
from dakora.registry.git.known_versions import HistoryVersions
from dakora.registry.git.objects import as_oid, as_ref, read_commit
from dakora.registry.git.tree_diff import unified_diff
from dakora.registry.git.versions import VersionInfo
from dakora.registry.load import LoadedPrompt

_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_SHORT_HEX = re.compile(r"^[0-9a-f]{4,39}$")
_REV_SUFFIX = re.compile(r"([~^])(\d*)")


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
                    commit = read_commit(self.store, commit.parents[0])
            elif n:
                if n > len(commit.parents):
                    raise RefNotFound(f"unknown revision '{rev}'", rev=rev)
                commit = read_commit(self.store, commit.parents[n - 1])
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
                sha = refs[as_ref(candidate)]
            except (KeyError, ValueError):
                continue
            try:
                return read_commit(self.store, sha)
            except RefNotFound:
                continue
        lowered = name.lower()
        if _HEX40.match(lowered) and as_oid(lowered) in self.store:
            return read_commit(self.store, lowered)
        if _SHORT_HEX.match(lowered):
            found: set[bytes] = set()
            for sha in self.store.iter_prefix(lowered.encode("ascii")):
                try:
                    found.add(read_commit(self.store, sha).id)
                except RefNotFound:
                    continue
            if len(found) == 1:
                return read_commit(self.store, found.pop())
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
                out[text] = CommitSha(read_commit(self.store, sha).id.decode("ascii"))
            except RefNotFound:
                continue  # a tag of a tree/blob, or a dangling ref
        return out

    def default_branch(self) -> str | None:
        """The branch HEAD points to (short name), or None when detached/unborn."""
        try:
            chain, _ = self._repo.refs.follow(as_ref("HEAD"))
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
        return walk_versions(
            self.store, self.subdir, prompt_id, {tip.encode("ascii"): path}
        )

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
        return walk_versions(self.store, self.subdir, prompt_id, starts)

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
        table = HistoryVersions(self.subdir)
        table.update(self.store, self.refs())
        return table.get

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
