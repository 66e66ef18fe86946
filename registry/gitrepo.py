"""Git reads with dulwich, bare or non-bare, never checking anything out.

``PromptRepository.open(path)`` accepts a repo root, a folder inside a repo (prompts kept
in a subfolder of an application's repo: ``subdir`` is then the prefix inside the repo),
or a bare repo. dulwich ``KeyError`` / ``NotGitRepository`` become RefNotFound /
NotFound here. History and diff cost O(commits × changed paths): they walk tree diffs,
never re-parse every file of every commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dakora.registry.snapshot import Snapshot
from dakora.registry.types import CommitSha


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


class PromptRepository:
    @classmethod
    def open(cls, path: str) -> PromptRepository:
        raise NotImplementedError

    def resolve(self, rev: str) -> CommitSha:
        """Branch, tag, full or short sha, ``HEAD``, ``refs/...``. Raises RefNotFound."""
        raise NotImplementedError

    def refs(self) -> dict[str, CommitSha]:
        """Every branch and tag (full ref names; tags peeled to their commit)."""
        raise NotImplementedError

    def snapshot(self, commit: str) -> Snapshot:
        raise NotImplementedError

    def working_tree(self) -> Snapshot:
        raise NotImplementedError

    def history(self, prompt_id: str, rev: str = "HEAD") -> list[VersionInfo]:
        """Every version of the prompt reachable from rev, newest first."""
        raise NotImplementedError

    def find_version(self, prompt_id: str, version: str) -> VersionInfo:
        """The commit that introduced ``version`` on any ref. Raises RefNotFound."""
        raise NotImplementedError

    def diff(self, prompt_id: str, from_: str, to: str) -> str:
        """Unified diff of the prompt file between two versions or revisions."""
        raise NotImplementedError
