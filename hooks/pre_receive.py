"""``dakora hook pre-receive``: the same checks as a git hook of a plain bare repo.

git runs the hook inside the repository with the pushed objects in a quarantine
directory (``GIT_QUARANTINE_PATH`` / ``GIT_OBJECT_DIRECTORY``) and the repository's own
objects as alternates (``GIT_ALTERNATE_OBJECT_DIRECTORIES``); stdin holds one
``<old> <new> <ref>`` line per ref (the last one may lack its newline). Anything printed
on stderr reaches the pusher as ``remote:`` lines; a non-zero exit rejects every ref.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from dulwich.object_store import DiskObjectStore
from dulwich.repo import Repo

from dakora.hooks.object_checks import check_pushed_objects
from dakora.hooks.pack_guard import object_limits
from dakora.hooks.push_checks import (
    Checker,
    DefaultChecker,
    RefUpdate,
    format_remote,
)
from dakora.hooks.receive import repo_default_branch, repo_refs
from dakora.registry.checks import PushLimits
from dakora.registry.core import BadRequest, Finding, has_errors
from dakora.registry.git import repo_version_lookup


def parse_updates(text: str) -> list[RefUpdate]:
    """git's pre-receive stdin: ``old new ref`` per line, trailing newline optional."""
    updates: list[RefUpdate] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 3 or not all(_is_sha(p) for p in parts[:2]):
            raise BadRequest(f"pre-receive input line {number} is not 'old new ref'")
        updates.append(RefUpdate(old=parts[0], new=parts[1], ref=parts[2]))
    return updates


def _is_sha(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


def open_hook_store(repo: Repo, environ: dict[str, str]) -> DiskObjectStore:
    """The object store a hook must read: quarantine + the repository's objects."""
    objects = environ.get("GIT_OBJECT_DIRECTORY") or environ.get("GIT_QUARANTINE_PATH")
    repo_objects = os.fspath(repo.object_store.path)
    alternates = [
        p
        for p in environ.get("GIT_ALTERNATE_OBJECT_DIRECTORIES", "").split(os.pathsep)
        if p
    ]
    if not objects:
        return repo.object_store
    objects = os.path.abspath(objects)
    if os.path.abspath(repo_objects) not in {os.path.abspath(a) for a in alternates}:
        alternates.append(repo_objects)
    return DiskObjectStore(objects, alternates=alternates)


@dataclass
class HookOutcome:
    findings: list[Finding] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> bool:
        return has_errors(self.findings)


def _object_findings(
    repo: Repo,
    store: DiskObjectStore,
    environ: dict[str, str],
    limits: PushLimits | None,
) -> list[Finding]:
    """The object checks over what git stored in its quarantine (sizes read from the
    headers first: git inflated nothing for us)."""
    pushed = environ.get("GIT_QUARANTINE_PATH") or environ.get("GIT_OBJECT_DIRECTORY")
    if not pushed or not os.path.isdir(pushed):
        return []
    return check_pushed_objects(
        os.path.abspath(pushed),
        store,
        object_limits(limits or PushLimits()),
        scan=True,
        existing=repo.object_store,
    )


def run_pre_receive(
    repo_path: str,
    stdin_text: str,
    environ: dict[str, str],
    *,
    limits: PushLimits | None = None,
    default_branch: str | None = None,
    checker: Checker | None = None,
    echo: Callable[[str], None] | None = None,
) -> HookOutcome:
    """Check a push from inside git's pre-receive hook."""
    updates = parse_updates(stdin_text)
    outcome = HookOutcome()
    if not updates:
        return outcome
    repo = Repo(repo_path)
    try:
        store = open_hook_store(repo, environ)
        outcome.findings = _object_findings(repo, store, environ, limits)
        if not has_errors(outcome.findings):
            refs_before = repo_refs(repo)
            if checker is None:
                checker = DefaultChecker(
                    refs_before=refs_before,
                    default_branch=default_branch or repo_default_branch(repo),
                    limits=limits,
                    version_lookup=repo_version_lookup(store, refs_before),
                )
            outcome.findings = checker(store, updates)
    finally:
        repo.close()
    for finding in outcome.findings:
        line = format_remote(finding)
        outcome.lines.append(line)
        if echo is not None:
            echo(line)
    if outcome.rejected:
        tail = "dakora: push rejected: prompt checks failed"
        outcome.lines.append(tail)
        if echo is not None:
            echo(tail)
    return outcome
