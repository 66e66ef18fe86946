"""What the local commands share: the ``--repo`` / ``--ref`` / ``--json`` options,
opening the repository on disk (or a plain folder) with clear messages, HEAD and
parent commits, the cross-ref version lookup, and running ``git``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dakora.registry.core import BadRequest, ConfigError, NotFound, RefNotFound

if TYPE_CHECKING:  # runtime imports stay lazy: other commands start faster
    from dakora.registry.checks import VersionLookup
    from dakora.registry.git import PromptRepository, Snapshot


RepoOpt = Annotated[
    Path,
    typer.Option(
        "--repo",
        help="The prompt repository: a git repo root or a folder inside one.",
        show_default="current directory",
    ),
]
RefOpt = Annotated[
    str | None,
    typer.Option(
        "--ref", help="Branch, tag or commit to read instead of the working tree."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def open_repo(path: Path) -> PromptRepository:
    """``PromptRepository.open`` with a clear message for a missing folder."""
    from dakora.registry.git import PromptRepository

    if not path.exists():
        raise NotFound(f"no such folder: {path}")
    if not path.is_dir():
        raise BadRequest(f"not a folder: {path}")
    return PromptRepository.open(str(path))


def folder_snapshot(path: Path) -> Snapshot:
    from dakora.registry.git import FolderSnapshot

    return FolderSnapshot(str(path))


def head_commit(repo: PromptRepository) -> str | None:
    """The HEAD commit, or None in a repository without commits yet."""
    try:
        return str(repo.resolve("HEAD"))
    except RefNotFound:
        return None


def first_parent(repo: PromptRepository, commit: str) -> str | None:
    """First parent of ``commit`` (None for a root commit)."""
    try:
        return str(repo.resolve(f"{commit}^"))
    except RefNotFound:
        return None


def version_lookup(repo: PromptRepository) -> VersionLookup:
    """(prompt id, version) → blob sha on any branch or tag, for the immutability rule.

    Built on first use with one walk over every commit of every ref (tree diffs, each
    commit once: tips already walked are excluded), then dict lookups.
    """
    index: dict[tuple[str, str], str] | None = None

    def build() -> dict[tuple[str, str], str]:
        from dakora.registry.git import versions_in_range

        out: dict[tuple[str, str], str] = {}
        walked: list[str] = []
        for tip in dict.fromkeys(repo.refs().values()):
            for info in versions_in_range(repo.store, tip, walked, repo.subdir):
                out.setdefault((info.prompt_id, info.version), info.blob_sha)
            walked.append(tip)
        return out

    def lookup(prompt_id: str, version: str) -> str | None:
        nonlocal index
        if index is None:
            index = build()
        return index.get((prompt_id, version))

    return lookup


def run_git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def git_or_fail(args: list[str], cwd: Path, what: str) -> str:
    proc = run_git(args, cwd)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise ConfigError(f"{what} failed: {detail[-1] if detail else 'git error'}")
    return proc.stdout
