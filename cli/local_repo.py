"""What the local commands share: the ``--repo`` / ``--ref`` / ``--json`` options (Typer),
and, re-exported from ``repo_access`` (no Typer), opening the repository on disk (or a
plain folder) with clear messages, HEAD and parent commits, the cross-ref version
lookup, and running ``git``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dakora.cli.repo_access import (
    first_parent,
    folder_snapshot,
    git_or_fail,
    head_commit,
    open_repo,
    run_git,
    version_lookup,
)

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

# This module's names and the ones it re-exports (mypy --strict checks imports
# against this list).
__all__ = [
    "JsonOpt",
    "RefOpt",
    "RepoOpt",
    "first_parent",
    "folder_snapshot",
    "git_or_fail",
    "head_commit",
    "open_repo",
    "run_git",
    "version_lookup",
]
