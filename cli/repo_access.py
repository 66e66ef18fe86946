"""Opening the prompt repository on disk for the local commands, without Typer:
the repository (or a plain folder) with clear messages, HEAD and parent commits, the
cross-ref version lookup, and running ``git``.

``dakora lint`` and ``dakora render`` run without Typer (``cli/direct.py``), so what
they share lives here rather than in ``local_repo`` (the Typer options), which
re-exports it. dulwich is imported only when a repository is opened.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from dakora.registry.core import BadRequest, ConfigError, NotFound, RefNotFound

if TYPE_CHECKING:  # runtime imports stay lazy: other commands start faster
    import subprocess

    from dakora.registry.checks import VersionLookup
    from dakora.registry.git import PromptRepository, Snapshot


def open_repo(path: Path) -> PromptRepository:
    """``PromptRepository.open`` with a clear message for a missing folder."""
    from dakora.registry.git import PromptRepository

    if not path.exists():
        raise NotFound(f"no such folder: {path}")
    if not path.is_dir():
        raise BadRequest(f"not a folder: {path}")
    return PromptRepository.open(str(path))


# A line of .git/config that dulwich reads without a doubt: a section header, a
# comment, or a plain ``key = value`` (no quotes, no backslashes, no continuation).
_CONFIG_SECTION = re.compile(r'^\[([A-Za-z0-9.-]+)(?:\s+"[^"\\]*")?\]\s*$')
_CONFIG_ENTRY = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)\s*(?:=\s*([^\"\\]*))?$")
# What Repo() acts on when it opens a repository: another work tree, the repository
# format and its extensions, included files, and numbers it parses (a bad one fails).
_CONFIG_UNSURE_SECTIONS = frozenset({"extensions", "include", "includeif", "pack"})
_CONFIG_UNSURE_CORE = frozenset(
    {
        "worktree",
        "compression",
        "loosecompression",
        "packcompression",
        "sharedrepository",
    }
)


def _plain_config(path: str) -> bool:
    """True when the repository's config (absent, or what ``git init`` / ``git clone``
    write) opens in dulwich with no effect on where the work tree is and no error."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
    except FileNotFoundError:
        return True
    except (OSError, UnicodeDecodeError):
        return False
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        header = _CONFIG_SECTION.match(line)
        if header:
            section = header.group(1).lower()
            if section in _CONFIG_UNSURE_SECTIONS:
                return False
            continue
        entry = _CONFIG_ENTRY.match(line)
        if entry is None or not section:
            return False
        key, value = entry.group(1).lower(), (entry.group(2) or "").strip()
        if section == "core" and key in _CONFIG_UNSURE_CORE:
            return False
        if (
            section == "core"
            and key == "repositoryformatversion"
            and value
            not in (
                "0",
                "1",
            )
        ):
            return False
    return True


Located = Literal["work tree", "no repository", "unsure"]


def locate(path: Path) -> tuple[Located, Path | None]:
    """Where ``path`` is, found without dulwich, by the same walk up as dulwich's
    ``Repo.discover``: ``("work tree", prompt root)`` in a plain git work tree (``.git``
    a folder, a config dulwich opens as is), ``("no repository", None)`` when no parent
    up to ``/`` is a repository, else ``("unsure", None)`` (a bare repository, a linked
    work tree, an unusual config, not a folder): then ``open_repo`` decides.

    For the commands that read the working tree's files, never git objects (``dakora
    render`` without a ref, ``dakora lint`` of a plain folder): in a work tree,
    ``PromptRepository.open(path).working_tree()`` is ``FolderSnapshot`` of the same
    root (``os.path.realpath(path)``); outside one, ``open_repo`` raises
    ``RepositoryNotFound``.
    """
    if not path.is_dir():
        return "unsure", None
    start = os.path.realpath(path.absolute())
    here = start
    while True:
        hidden = os.path.join(here, ".git")
        if os.path.isfile(hidden):
            return "unsure", None  # a linked work tree or submodule (a gitdir: file)
        if os.path.isdir(os.path.join(hidden, "objects")):
            if os.path.exists(os.path.join(hidden, "commondir")) or not _plain_config(
                os.path.join(hidden, "config")
            ):
                return "unsure", None
            return "work tree", Path(start)
        if os.path.isdir(os.path.join(here, "objects")) and os.path.isdir(
            os.path.join(here, "refs")
        ):
            return "unsure", None  # a bare repository (or the inside of .git)
        parent = os.path.dirname(here)
        if parent == here:
            return "no repository", None
        here = parent


def work_tree_snapshot(path: Path) -> Snapshot | None:
    """The working tree ``path`` is in (or the plain folder) as a snapshot, without
    dulwich; None when ``locate`` is unsure."""
    where, root = locate(path)
    if where == "work tree" and root is not None:
        from dakora.registry.git import FolderSnapshot

        return FolderSnapshot(root)
    if where == "no repository":
        return folder_snapshot(path)
    return None


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
    import subprocess

    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def git_or_fail(args: list[str], cwd: Path, what: str) -> str:
    proc = run_git(args, cwd)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise ConfigError(f"{what} failed: {detail[-1] if detail else 'git error'}")
    return proc.stdout
