"""API writes as commits (docs/design.md §6 step 5): build a commit server-side, push it
through the receive pipeline.

No web framework here: ``api/routes/writes.py`` turns requests into
:class:`FileChange` lists and calls :meth:`CommitWriter.write`; everything else is the
same code a ``git push`` runs:

1. the new blobs, trees and the commit are written into a
   :class:`~dakora.hooks.quarantine.Quarantine` (invisible to readers);
2. ``ReceivePipeline.process`` checks the (old, new, ref) update exactly as for a push
   (registry checks, protected refs, limits), then under the project lock re-checks
   the old sha, moves the objects in, compare-and-swaps the ref and records the index
   rows, the ``push_events`` audit row and the mirror outbox row in one transaction,
   and invalidates the runtime caches (its ``on_accepted`` hook);
3. the quarantine is always dropped: a rejected write leaves no object behind.

Failures map onto the one exception tree: checks → :class:`InvalidPrompt` (422 with
the findings), a lost compare-and-swap → :class:`RefConflict` (409) or
:class:`PreconditionFailed` (412) when the caller pinned a base, anything else →
:class:`StorageError` (503).
"""

from __future__ import annotations

import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml
from dulwich.object_store import (
    MemoryObjectStore,
    OverlayObjectStore,
    commit_tree_changes,
)
from dulwich.objects import Blob, Commit, ObjectID, Tree
from dulwich.repo import Repo

from dakora.hooks.push_checks import RefUpdate
from dakora.hooks.quarantine import Quarantine
from dakora.hooks.receive import (
    CHECKS_FAILED,
    LOCKED,
    STALE,
    PushContext,
    PushResult,
    ReceivePipeline,
    objects_dir,
    repo_default_branch,
)
from dakora.registry.core import (
    PROMPT_KEY_ORDER,
    ZERO_SHA,
    Finding,
    InvalidPrompt,
    PreconditionFailed,
    RefConflict,
    StorageError,
)
from dakora.registry.git import GitSnapshot, as_oid, as_ref, branch_ref, check_message

FILE_MODE = stat.S_IFREG | 0o644


# -- values ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Author:
    """Who a commit is by (author and committer)."""

    name: str
    email: str

    def identity(self) -> bytes:
        name = " ".join(self.name.replace("<", "").replace(">", "").split()) or "dakora"
        email = self.email.replace("<", "").replace(">", "").strip() or "api@dakora"
        return f"{name} <{email}>".encode()


@dataclass(frozen=True)
class FileChange:
    """Set ``path`` to ``content`` (bytes), or delete it (``content=None``)."""

    path: str
    content: bytes | None

    @property
    def is_delete(self) -> bool:
        return self.content is None


@dataclass
class WriteOutcome:
    """What a write did: the branch head before and after."""

    ref: str
    branch: str
    parent: str | None
    commit: str
    changed: bool
    messages: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


# -- YAML of a prompt ----------------------------------------------------------------


class _PromptDumper(yaml.SafeDumper):
    """Block scalars for multi-line strings; everything else as PyYAML decides."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


class _Quoted(str):
    """A string written double-quoted: the version, as docs/design.md §2 writes it."""


def _quoted_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style='"')


_PromptDumper.add_representer(str, _str_representer)
_PromptDumper.add_representer(_Quoted, _quoted_representer)


def prompt_yaml(fields: Mapping[str, Any]) -> str:
    """A prompt file for ``fields``: keys in docs/design.md §2 order (unknown keys after, so
    the checks name them), ``None`` values left out, block scalars for multi-line
    templates and message contents. Deterministic: same fields, same bytes."""
    ordered: dict[str, Any] = {}
    for key in PROMPT_KEY_ORDER:
        if fields.get(key) is not None:
            ordered[key] = fields[key]
    for key, value in fields.items():
        if key not in ordered and value is not None:
            ordered[key] = value
    if "version" in ordered:
        ordered["version"] = _Quoted(ordered["version"])
    text: str = yaml.dump(
        ordered,
        Dumper=_PromptDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=10_000,
    )
    return text


def yaml_identity(text: str, path: str) -> tuple[str | None, str | None]:
    """(id, version) of a prompt file's text; raises InvalidPrompt when the YAML does
    not parse (with the line), so a new file can be named after its id."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidPrompt(
            [
                Finding(
                    path=path,
                    line=line,
                    severity="error",
                    message=f"invalid YAML: {problem}",
                    rule="yaml-syntax",
                )
            ]
        ) from exc
    if not isinstance(data, dict):
        return None, None
    pid, version = data.get("id"), data.get("version")
    return (
        str(pid) if pid is not None else None,
        str(version) if version is not None else None,
    )


# -- reading the base ------------------------------------------------------------------


def read_head(repo: Repo, ref: str) -> str | None:
    """The commit a branch points to, or None when it does not exist."""
    try:
        sha = repo.refs[as_ref(ref)]
    except KeyError:
        return None
    return sha.decode("ascii") if sha else None


def base_snapshot(repo: Repo, commit: str | None) -> GitSnapshot | None:
    if commit is None:
        return None
    return GitSnapshot(repo.object_store, commit)


# -- the writer ------------------------------------------------------------------------


class CommitWriter:
    """Builds commits from file changes and pushes them through ``pipeline``."""

    def __init__(self, pipeline: ReceivePipeline) -> None:
        self.pipeline = pipeline

    def start_point(
        self, repo: Repo, branch: str, default_branch: str | None = None
    ) -> tuple[str, str, str | None]:
        """(ref, old sha for the update, parent commit) of a write on ``branch``.

        A branch that does not exist yet starts at the head of ``default_branch``
        (default: the branch HEAD names) with old = the zero sha, so the pipeline
        creates it; an empty repository gets a root commit.
        """
        ref = branch_ref(branch)
        head = read_head(repo, ref)
        if head is not None:
            return ref, head, head
        default = branch_ref(default_branch or repo_default_branch(repo))
        return ref, ZERO_SHA, read_head(repo, default)

    def write(
        self,
        repo: Repo,
        *,
        branch: str,
        changes: Sequence[FileChange],
        author: Author,
        message: str,
        context: PushContext,
        expected_parent: str | None = None,
        pinned: bool = False,
        now: datetime | None = None,
        extra_findings: Sequence[Finding] = (),
    ) -> WriteOutcome:
        """Commit ``changes`` on ``branch`` and push it through the pipeline.

        ``expected_parent``: the head the caller's changes were computed against (the
        compare-and-swap's old sha); ``pinned``: the caller sent ``If-Match``, so a
        lost race is 412, not 409. Returns without a commit when nothing changes.
        ``extra_findings`` go to the pipeline with the commit (``process``).
        """
        check_message(message)
        ref, old, parent = self.start_point(repo, branch, context.default_branch)
        if expected_parent is not None and parent != expected_parent:
            raise (PreconditionFailed if pinned else RefConflict)(
                f"{ref} moved while the write was prepared; fetch and retry",
                ref=ref,
            )
        draft = _build(repo, parent, changes, author, message, now)
        if parent is not None and not draft.changed and old != ZERO_SHA:
            return WriteOutcome(
                ref=ref,
                branch=ref.removeprefix("refs/heads/"),
                parent=parent,
                commit=parent,
                changed=False,
            )
        scratch, new = draft.scratch, draft.commit
        objects = [
            (scratch[sha], None)
            for sha in scratch
            if sha not in repo.object_store  # only what the repository lacks
        ]
        quarantine = Quarantine(objects_dir(repo))
        try:
            pack = quarantine.store.add_objects(objects)
            if pack is not None:
                pack.close()
            update = RefUpdate(old=old, new=new, ref=ref)
            result = self.pipeline.process(
                repo,
                [update],
                quarantine=quarantine,
                context=context,
                extra_findings=extra_findings,
            )
        finally:
            quarantine.drop()
        _raise_for(result, pinned)
        return WriteOutcome(
            ref=ref,
            branch=ref.removeprefix("refs/heads/"),
            parent=parent,
            commit=new,
            changed=True,
            messages=list(result.messages),
            findings=list(result.findings),
        )

    def check(
        self,
        repo: Repo,
        *,
        branch: str,
        changes: Sequence[FileChange],
        author: Author,
        context: PushContext,
    ) -> list[Finding]:
        """The findings :meth:`write` would meet, writing nothing: the commit is built
        in memory and handed to ``ReceivePipeline.check`` (a push's checks). A no-op
        change is checked in place (``check_snapshot``), so warnings still show."""
        ref, old, parent = self.start_point(repo, branch, context.default_branch)
        draft = _build(repo, parent, changes, author, "check (not written)", None)
        if parent is not None and not draft.changed:
            from dakora.registry.checks import check_snapshot

            return check_snapshot(
                GitSnapshot(repo.object_store, parent),
                paths=sorted({c.path for c in changes}),
            )
        update = RefUpdate(old=old, new=draft.commit, ref=ref)
        return self.pipeline.check(repo, draft.overlay, [update], context)


@dataclass
class _Draft:
    """A commit built in memory: new objects in ``scratch``, read through
    ``overlay`` (scratch over the repository)."""

    scratch: MemoryObjectStore
    overlay: OverlayObjectStore
    commit: str
    changed: bool  # False: the tree is the parent's


def _build(
    repo: Repo,
    parent: str | None,
    changes: Sequence[FileChange],
    author: Author,
    message: str,
    now: datetime | None,
) -> _Draft:
    """The commit of ``changes`` on ``parent``, in memory (the repository untouched).

    New objects are built in memory (reading the repository underneath); a write then
    puts them into the quarantine as ONE pack: a pushed pack is what the rest of the
    server expects (loose objects get repacked by the mirror worker while readers
    look for them).
    """
    when = now or datetime.now(UTC)
    scratch = MemoryObjectStore()
    overlay = OverlayObjectStore([scratch, repo.object_store], add_store=scratch)
    base_tree: ObjectID | Tree = Tree()
    if parent is not None:
        parent_commit = overlay[as_oid(parent)]
        assert isinstance(parent_commit, Commit)
        base_tree = parent_commit.tree
    tree_changes: list[tuple[bytes, int | None, ObjectID | None]] = []
    for change in changes:
        if change.content is None:
            tree_changes.append((change.path.encode("utf-8"), None, None))
            continue
        blob = Blob.from_string(change.content)
        scratch.add_object(blob)
        tree_changes.append((change.path.encode("utf-8"), FILE_MODE, blob.id))
    new_tree = commit_tree_changes(overlay, base_tree, tree_changes)
    commit = Commit()
    commit.tree = new_tree
    commit.parents = [as_oid(parent)] if parent else []
    commit.author = commit.committer = author.identity()
    timestamp = int(when.timestamp())
    commit.author_time = commit.commit_time = timestamp
    commit.author_timezone = commit.commit_timezone = 0
    commit.encoding = b"UTF-8"
    commit.message = message.rstrip("\n").encode("utf-8") + b"\n"
    scratch.add_object(commit)
    return _Draft(
        scratch=scratch,
        overlay=overlay,
        commit=commit.id.decode("ascii"),
        changed=parent is None or new_tree != base_tree,
    )


def _raise_for(result: PushResult, pinned: bool) -> None:
    """Translate a refused push into our errors."""
    if result.accepted:
        return
    if result.reason == CHECKS_FAILED:
        raise InvalidPrompt(result.findings)
    if result.reason in (STALE, LOCKED):
        ref = result.updates[0].ref if result.updates else ""
        raise (PreconditionFailed if pinned else RefConflict)(
            f"{ref} changed during the write (another write won); fetch and retry",
            ref=ref,
        )
    reason = result.reason or "the write was refused"
    detail = [m for m in result.messages if m.startswith("error:")]
    raise StorageError(f"{reason}", messages=detail[:20])
