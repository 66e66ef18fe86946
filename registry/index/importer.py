"""Importing a local repository (or a plain folder) into a project's bare repository.

``import_into_project`` copies the branches and tags of a local git repository — or,
for a plain folder (or a folder inside another repository, like ``sample-repo/``), its
files as one commit on the default branch — into the project's (empty) repository, runs
the push checks over every ref exactly as a ``git push`` would, and only then moves the
refs and indexes them. A failed check raises ``InvalidPrompt`` with every finding and
moves no ref.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dulwich.errors import NotGitRepository
from dulwich.index import commit_tree
from dulwich.object_store import BaseObjectStore
from dulwich.objects import Blob, Commit, ObjectID
from dulwich.repo import Repo

from dakora.registry.core import (
    ZERO_SHA,
    BadRequest,
    Finding,
    InvalidPrompt,
    StorageError,
    has_errors,
)
from dakora.registry.git import as_oid, as_ref
from dakora.registry.index.sources import (
    INDEXED_PREFIXES,
    compute_versions,
    peel_to_commit,
)
from dakora.registry.index.writer import IndexSummary, record_ref_updates
from dakora.registry.tenancy import Project

# (store, [(ref, old, new)]) → findings; the push pipeline's checker has this shape.
Checker = Callable[[BaseObjectStore, list[tuple[str, str, str]]], list[Finding]]

IMPORT_AUTHOR = b"Dakora import <import@dakora.invalid>"
SKIP_DIRS = {".git"}
MAX_FOLDER_FILES = 10_000


@dataclass(frozen=True)
class ImportSummary:
    kind: str  # "git" | "folder"
    source: str
    refs: dict[str, str]
    default_branch: str
    index: IndexSummary
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "refs": self.refs,
            "default_branch": self.default_branch,
            "versions": self.index.versions,
            "heads": self.index.heads,
            "warnings": self.warnings,
        }


def _open_git(path: Path) -> Repo | None:
    """The repository whose root (or bare dir) is ``path``, else None."""
    try:
        repo = Repo(str(path))
    except NotGitRepository:
        return None
    root = Path(repo.path).resolve()
    if root != path.resolve():  # pragma: no cover - Repo() does not search upwards
        repo.close()
        return None
    return repo


def source_default_branch(path: str | Path) -> str | None:
    """The branch a local repository's HEAD points to, or None (plain folder)."""
    repo = _open_git(Path(path))
    if repo is None:
        return None
    try:
        chain, _ = repo.refs.follow(as_ref("HEAD"))
    except (KeyError, ValueError):
        return None
    finally:
        repo.close()
    last = chain[-1].decode("utf-8", errors="replace") if chain else ""
    return last.removeprefix("refs/heads/") if last.startswith("refs/heads/") else None


def import_version_lookup(
    store: BaseObjectStore, updates: Sequence[tuple[str, str, str]]
) -> Callable[[str, str], str | None]:
    """(prompt id, version) → blob sha across every ref of an import, so reusing a
    version for different content on two imported branches is caught."""
    tips = [c for _r, _o, new in updates if (c := peel_to_commit(store, new))]
    table: dict[tuple[str, str], str] = {}
    for info in compute_versions(store, tips, []):
        table.setdefault((info.prompt_id, info.version), info.blob_sha)

    def lookup(prompt_id: str, version: str) -> str | None:
        return table.get((prompt_id, version))

    return lookup


def registry_checker(
    store: BaseObjectStore, updates: list[tuple[str, str, str]]
) -> list[Finding]:
    """The registry's checks (``checks.check_push``) over every updated ref, as for a
    push into an empty repository."""
    from dakora.registry.checks import check_push

    lookup = import_version_lookup(store, updates)
    findings: list[Finding] = []
    for _ref, _old, new in updates:
        commit = peel_to_commit(store, new)
        if commit is None:
            continue
        findings.extend(
            check_push(store, ZERO_SHA, commit, exclude=[], version_lookup=lookup)
        )
    return findings


def _folder_commit(store: BaseObjectStore, folder: Path, message: str) -> str:
    entries: list[tuple[bytes, ObjectID, int]] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            full = Path(dirpath) / name
            rel = full.relative_to(folder).as_posix()
            info = full.lstat()
            if stat.S_ISLNK(info.st_mode):
                blob = Blob.from_string(os.readlink(full).encode())
                mode = 0o120000
            elif stat.S_ISREG(info.st_mode):
                blob = Blob.from_string(full.read_bytes())
                mode = 0o100755 if info.st_mode & 0o111 else 0o100644
            else:
                continue
            store.add_object(blob)
            entries.append((rel.encode("utf-8"), blob.id, mode))
            if len(entries) > MAX_FOLDER_FILES:
                raise BadRequest(f"{folder} has more than {MAX_FOLDER_FILES} files")
    if not entries:
        raise BadRequest(f"{folder} is empty: nothing to import")
    tree = commit_tree(store, entries)
    commit = Commit()
    commit.tree = tree
    commit.author = commit.committer = IMPORT_AUTHOR
    now = int(time.time())
    commit.author_time = commit.commit_time = now
    commit.author_timezone = commit.commit_timezone = 0
    commit.message = message.encode("utf-8") + b"\n"
    store.add_object(commit)
    return commit.id.decode("ascii")


def _fetch_git_refs(
    source_repo: Repo, target: Repo, project: Project, src: Path, warnings: list[str]
) -> dict[str, str]:
    """Fetch the branches and tags of ``source_repo`` into ``target``: ref → sha of
    those that point to a commit (the others are named in ``warnings``)."""
    try:
        wanted = {
            name.decode("utf-8"): sha.decode("ascii")
            for name, sha in source_repo.get_refs().items()
            if name.startswith(tuple(p.encode() for p in INDEXED_PREFIXES))
        }
        if not wanted:
            raise BadRequest(f"{src} has no branches or tags to import")
        if f"refs/heads/{project.default_branch}" not in wanted:
            raise BadRequest(
                f"{src} has no branch {project.default_branch!r} (the "
                "project's default branch); pass --default-branch"
            )
        shas = sorted({as_oid(s) for s in wanted.values()})

        def wants(_refs: object, _depth: int | None = None) -> list[ObjectID]:
            return shas

        source_repo.fetch(target, determine_wants=wants)
    finally:
        source_repo.close()
    skipped = [
        n for n in wanted if peel_to_commit(target.object_store, wanted[n]) is None
    ]
    for name in skipped:
        warnings.append(f"skipped {name}: it does not point to a commit")
        del wanted[name]
    return wanted


def import_into_project(
    engine: Any,
    project: Project,
    source: str | Path,
    *,
    checker: Checker | None = None,
    mirror: bool = True,
    user_id: str | None = None,
) -> ImportSummary:
    """Copy ``source`` into the project's empty repository, check it, index it."""
    src = Path(source).expanduser()
    if not src.is_dir():
        raise BadRequest(f"{src} is not a folder")
    check = checker or registry_checker
    target = Repo(str(project.repo_path))
    try:
        if any(
            n.startswith((b"refs/heads/", b"refs/tags/")) for n in target.refs.allkeys()
        ):
            raise BadRequest(
                f"project {project.full_name} already has content; import only into "
                "a new project"
            )
        warnings: list[str] = []
        source_repo = _open_git(src)
        if source_repo is not None:
            kind = "git"
            wanted = _fetch_git_refs(source_repo, target, project, src, warnings)
        else:
            kind = "folder"
            sha = _folder_commit(
                target.object_store, src, f"Import {src.name or src} into Dakora"
            )
            wanted = {f"refs/heads/{project.default_branch}": sha}
        updates = [(ref, ZERO_SHA, sha) for ref, sha in sorted(wanted.items())]
        findings = check(target.object_store, updates)
        if has_errors(findings):
            raise InvalidPrompt(
                findings,
                message=_reject_message(findings),
            )
        for ref, _old, sha in updates:
            if not target.refs.add_if_new(as_ref(ref), as_oid(sha)):
                raise StorageError(f"ref {ref} appeared during the import; try again")
        index = record_ref_updates(
            engine,
            project.id,
            target,
            updates,
            user_id=user_id,
            messages=[f"imported from {src}"],
            mirror=mirror,
            result="ok",
        )
    finally:
        target.close()
    return ImportSummary(
        kind=kind,
        source=str(src),
        refs=dict(wanted),
        default_branch=project.default_branch,
        index=index,
        warnings=warnings,
    )


def _reject_message(findings: Sequence[Finding]) -> str:
    errors = [f for f in findings if f.severity == "error"]
    head = "; ".join(f.format() for f in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return f"import refused, {len(errors)} problem(s): {head}{more}"
