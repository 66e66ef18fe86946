"""A read-only view of a prompt repository's files at one point: a commit or a folder.

Both kinds answer the same questions, so checks and rendering don't care whether they
look at ``HEAD~3`` of a bare repo or the author's unsaved working tree.

This module holds the contract (the ``Snapshot`` and ``PartsSource`` Protocols): every
method a caller may use, so nothing probes a snapshot with ``getattr``. The
implementations live in ``commit_snapshot.py`` (a commit, read by sha; works on a
quarantine store too) and ``folder_snapshot.py`` (a working tree), on top of
``snapshot_base.py``; prompt files are parsed once per blob sha in ``prompt_cache.py``
and repository layout rules are in ``layout.py``.
"""

from __future__ import annotations

from typing import Protocol

from dakora.registry.core import BlobSha, CommitSha, Finding
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

    def config_findings(self) -> list[Finding]:
        """What is wrong with ``dakora.yaml`` (empty when it is fine or absent)."""
        ...

    @property
    def prompts_dir(self) -> str:
        """The prompts folder (``dakora.yaml``'s, made safe; default ``prompts``)."""
        ...

    @property
    def parts_dir(self) -> str:
        """The parts folder (``dakora.yaml``'s, made safe; default ``parts``)."""
        ...

    def prompt_paths(self) -> list[str]:
        """Repo-relative paths of every ``prompts/**/*.yaml|yml`` file, sorted."""
        ...

    def content_paths(self) -> list[str]:
        """``dakora.yaml`` and every file below the prompts and parts folders."""
        ...

    def exists(self, path: str) -> bool:
        """True for a file or symlink at ``path`` (False for a folder)."""
        ...

    def read(self, path: str) -> bytes: ...

    def size(self, path: str) -> int:
        """The file's size in bytes (a symlink: its target's length)."""
        ...

    def blob_sha(self, path: str) -> BlobSha:
        """The git blob sha of the file (computed for folder files)."""
        ...

    def is_symlink(self, path: str) -> bool: ...

    def all_paths(self) -> list[str]:
        """Every file path in the snapshot (for path-safety checks)."""
        ...

    def load(self, path: str) -> LoadedPrompt:
        """Load one prompt file (cached by blob sha). Raises InvalidPrompt."""
        ...

    def prompt_identities(
        self, base: Snapshot | None = None
    ) -> dict[str, tuple[str, str] | None]:
        """path → (id, version) of every prompt file (None when it doesn't load);
        ``base``: a parent snapshot the answer may be derived from."""
        ...

    def prompt_index(self) -> dict[str, str]:
        """id → path of every prompt that loads (the first path wins)."""
        ...

    def path_of(self, prompt_id: str) -> str | None:
        """The path of the prompt with this id, or None."""
        ...

    def find_prompt(self, prompt_id: str) -> LoadedPrompt:
        """The prompt with this id. Raises PromptNotFound."""
        ...

    def prompts(self) -> list[LoadedPrompt]:
        """Every prompt that loads (invalid files are skipped; checks report them)."""
        ...
