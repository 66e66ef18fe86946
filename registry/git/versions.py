"""Prompt versions read from history on any object store: ``VersionInfo`` /
``PromptHead``, ``versions_in_range`` (every version a range of commits introduces,
for the receive pipeline and the DB indexer) and ``heads_at`` (where every prompt
stands at one commit).
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dulwich.object_store import BaseObjectStore
from dulwich.objects import Commit

from dakora.registry.core import CommitSha
from dakora.registry.git.commit_snapshot import GitSnapshot
from dakora.registry.git.layout import PROMPT_SUFFIXES
from dakora.registry.git.objects import (
    blob_at,
    commit_meta,
    join_path,
    read_commit,
)
from dakora.registry.git.prompt_cache import blob_identity
from dakora.registry.git.tree_diff import commit_changes
from dakora.registry.git.walk import new_commits


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


def version_info(
    commit: Commit, prompt_id: str, version: str, path: str, blob_sha: str
) -> VersionInfo:
    author, when, message = commit_meta(commit)
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
        commit = read_commit(store, sha)
        prompts_dir = GitSnapshot(store, sha, subdir).prompts_dir
        changes = commit_changes(store, commit, join_path(subdir, prompts_dir))
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
            out.append(version_info(commit, ident[0], ident[1], path, ch.new_sha))
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
    blob = blob_at(store, read_commit(store, parent).tree, join_path(subdir, path))
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
