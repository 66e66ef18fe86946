"""A read-only view of a prompt repository's files at one point: a commit or a folder.

Both kinds answer the same questions, so checks and rendering don't care whether they
look at ``HEAD~3`` of a bare repo or the author's unsaved working tree.

This module holds the contract (the ``Snapshot`` and ``PartsSource`` Protocols). The
implementations live in ``git_snapshot.py`` (a commit, read by sha; works on a
quarantine store too) and ``folder_snapshot.py`` (a working tree), on top of
``snapshot_base.py``; prompt files are parsed once per blob sha in ``prompt_cache.py``
and repository layout rules are in ``snapshot_layout.py``. Their public names are
re-exported here.
"""

from __future__ import annotations

from typing import Protocol

from dakora.registry.core import CommitSha
from dakora.registry.load import LoadedPrompt, RepoConfig


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
