"""The receive pipeline (docs/design.md §6); its dulwich ``ReceivePackHandler`` is in
``receive_pack``. No web framework here: ``api/git_wsgi.py`` plugs the handler into
dulwich's WSGI app; API writes (``commit_writer``) and the ``pre-receive`` hook call
the same ``ReceivePipeline``. Phases and their failure rules (STYLE principle 10):

1. the pack is read into a ``Quarantine`` (never into ``objects/pack``);
2. outside the lock, the pushed objects pass ``object_checks`` (what git fsck
   refuses), then ``checker(store, updates)``; any error rejects every ref: each
   finding is a side-band ``remote:`` line, every ref gets ``ng <ref> prompt checks
   failed``, the quarantine is deleted;
3. under the project lock: every old sha is re-checked, the pack moves in, each ref is
   compare-and-swapped; a failure rolls back the refs already moved and every ref is
   ``ng`` (never ``ok``); then ``on_accepted`` (the index writer: one transaction)
   runs, and a failure there rolls the refs back too;
4. the ``remote:`` summary; ``after_accepted`` (a background repack)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dulwich.file import FileLocked
from dulwich.object_store import BaseObjectStore
from dulwich.repo import Repo

from dakora.hooks.locks import ProjectLock, default_project_lock
from dakora.hooks.object_checks import quarantine_findings
from dakora.hooks.push_checks import (
    Checker,
    DefaultChecker,
    RefUpdate,
    format_remote,
)
from dakora.hooks.quarantine import Quarantine, remove_stale_lock
from dakora.hooks.summary import prompt_changes, summary_lines
from dakora.registry.checks import PushLimits, VersionLookup
from dakora.registry.core import ZERO_SHA, Finding, StorageError, has_errors
from dakora.registry.git import (
    history_versions,
    refresh_packs,
    repo_version_lookup,
)

logger = logging.getLogger(__name__)

CHECKS_FAILED = "prompt checks failed"
ATOMIC = "another ref of this push was refused; nothing was applied"
STALE = "ref changed during the push; fetch first"
LOCKED = "ref is locked by another update; try again"
INTERNAL = "internal error; nothing was changed"
UNPACK_FAILED = "unpacker error"


@dataclass
class PushContext:
    """Who pushes where. Filled in by the transport (HTTP auth, API write, hook)."""

    workspace: str | None = None
    project: str | None = None
    project_id: Any = None
    user: str | None = None
    user_id: Any = None
    key_id: Any = None
    default_branch: str | None = None
    source: str = "git"  # push_events.source: git, api, promote, studio (promotion.md)


@dataclass
class PushResult:
    """What happened to one push: statuses per ref (``ok`` or a reason)."""

    updates: list[RefUpdate]
    context: PushContext
    accepted: bool = False
    statuses: list[tuple[str, str]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    reason: str | None = None

    def reject_all(self, reason: str) -> None:
        self.accepted = False
        self.reason = reason
        self.statuses = [(u.ref, reason) for u in self.updates]

    def reject_checked(self, findings: list[Finding]) -> None:
        """Reject every ref, each with the most precise reason git can show.

        A ref with its own ref-level error (a protected ref deleted or force-pushed, a
        bad ref name) names that error; otherwise file findings make it "prompt checks
        failed"; a ref refused only because another ref of the push failed says so.
        """
        own: dict[str, str] = {}
        files_failed = False
        refs = {u.ref for u in self.updates}
        for f in findings:
            if f.severity != "error":
                continue
            if f.path in refs:
                own.setdefault(f.path, f.message)
            else:
                files_failed = True
        fallback = CHECKS_FAILED if files_failed else ATOMIC
        self.accepted = False
        self.reason = CHECKS_FAILED
        self.statuses = [(u.ref, own.get(u.ref, fallback)) for u in self.updates]


PushHook = Callable[[Repo, PushResult], None]
CheckerFactory = Callable[[Repo, PushContext, dict[str, str]], Checker]
VersionLookupFactory = Callable[[Repo, PushContext], "VersionLookup | None"]
Progress = Callable[[str], None]


def repo_refs(repo: Repo) -> dict[str, str]:
    """Every ref except HEAD, as text."""
    out: dict[str, str] = {}
    for name, sha in repo.get_refs().items():
        if name == b"HEAD" or sha is None:
            continue
        out[name.decode("utf-8", "replace")] = sha.decode("ascii")
    return out


def repo_default_branch(repo: Repo) -> str:
    """The branch HEAD points to (``main`` when HEAD is detached or unreadable).

    HEAD's own contents are read (``read_ref`` gives ``None`` for a HEAD it cannot
    read, where ``get_symrefs`` fails an assertion).
    """
    contents = repo.refs.read_ref(b"HEAD")
    prefix = b"ref: refs/heads/"
    if contents and contents.startswith(prefix):
        name: str = contents[len(prefix) :].strip().decode("utf-8", "replace")
        if name:
            return name
    return "main"


def objects_dir(repo: Repo) -> str:
    return os.fspath(repo.object_store.path)


class ReceivePipeline:
    """Checks, applies and records pushes. One instance serves many repositories.

    ``checker`` replaces the whole check phase; otherwise ``checker_factory`` (default:
    ``DefaultChecker``) builds one per push. ``on_accepted`` runs under the project
    lock after the refs moved (raising rolls them back); ``on_rejected`` records a
    refused push (its errors are logged, never raised).
    """

    def __init__(
        self,
        *,
        checker: Checker | None = None,
        checker_factory: CheckerFactory | None = None,
        limits: PushLimits | None = None,
        lock: ProjectLock | None = None,
        lock_key: Callable[[Repo, PushContext], str] | None = None,
        on_accepted: PushHook | None = None,
        on_rejected: PushHook | None = None,
        version_lookup_factory: VersionLookupFactory | None = None,
        summary: bool = True,
        before_apply: Callable[[Repo, PushResult], str | None] | None = None,
        after_accepted: PushHook | None = None,
    ) -> None:
        self.checker = checker
        self.checker_factory = checker_factory
        self.limits = limits or PushLimits()
        self.lock = lock or default_project_lock()
        self.lock_key = lock_key or (
            lambda repo, ctx: os.path.abspath(repo.controldir())
        )
        self.on_accepted = on_accepted
        self.on_rejected = on_rejected
        self.version_lookup_factory = version_lookup_factory
        self.summary = summary
        # under the lock, before the CAS: a reason string rejects every ref
        # (replicas: catch up from the mirror, compare with the index's refs table).
        self.before_apply = before_apply
        self.after_accepted = after_accepted  # outside the lock; errors only logged

    # -- phase 2: checks ---------------------------------------------------------------

    def make_checker(
        self, repo: Repo, context: PushContext, refs_before: dict[str, str]
    ) -> Checker:
        if self.checker is not None:
            return self.checker
        if self.checker_factory is not None:
            return self.checker_factory(repo, context, refs_before)
        if self.version_lookup_factory is not None:
            lookup = self.version_lookup_factory(repo, context)
        else:
            lookup = repo_version_lookup(
                repo.object_store,
                refs_before,
                history_versions(os.path.abspath(repo.controldir())),
            )
        return DefaultChecker(
            refs_before=refs_before,
            default_branch=context.default_branch or repo_default_branch(repo),
            limits=self.limits,
            version_lookup=lookup,
        )

    def check(
        self,
        repo: Repo,
        store: BaseObjectStore,
        updates: list[RefUpdate],
        context: PushContext,
    ) -> list[Finding]:
        refs_before = repo_refs(repo)
        try:
            checker = self.make_checker(repo, context, refs_before)
            return checker(store, updates)
        except StorageError as exc:  # the database went away while checking
            logger.warning("checking a push failed: %s", exc)
            message = (
                f"the push could not be checked ({exc}); nothing was applied, try again"
            )
            return [Finding.error("(push)", None, message, "storage")]
        except Exception:  # a bug in a check must refuse the push, never crash it
            logger.exception("checking a push failed")
            message = "internal error while checking the push"
            return [Finding.error("(push)", None, message, "internal")]

    # -- the whole thing ---------------------------------------------------------------

    def process(
        self,
        repo: Repo,
        updates: list[RefUpdate],
        *,
        store: BaseObjectStore | None = None,
        quarantine: Quarantine | None = None,
        context: PushContext | None = None,
        progress: Progress | None = None,
        extra_findings: Sequence[Finding] = (),
    ) -> PushResult:
        """Check and apply ``updates``; objects come from ``quarantine`` (if any).

        ``extra_findings``: the caller's own findings about this update (a
        promotion's shared parts), reported and judged with the checks' own: an
        error among them rejects the push (and is recorded) like a check's."""
        context = context or PushContext()
        say = progress or (lambda line: None)
        result = PushResult(updates=list(updates), context=context)
        if store is None:
            store = quarantine.store if quarantine is not None else repo.object_store
        findings = quarantine_findings(quarantine, store, repo, self.limits)
        if not has_errors(findings):
            findings = self.check(repo, store, result.updates, context)
        findings = [*findings, *extra_findings]
        result.findings = findings
        for finding in findings:
            line = format_remote(finding)
            result.messages.append(line)
            say(line)
        if has_errors(findings):
            result.reject_checked(findings)
            self.rejected(repo, result)
            return result
        with self.lock.hold(self.lock_key(repo, context)):
            self._apply_locked(repo, quarantine, result, say)
        if not result.accepted:
            self.rejected(repo, result)
            return result
        if self.summary:
            for update in result.updates:
                for line in self._summary(repo, update):
                    result.messages.append(line)
                    say(line)
        if self.after_accepted is not None:
            try:
                self.after_accepted(repo, result)
            except Exception:  # noqa: BLE001 - the push is done; never fail it now
                logger.exception("the after-push hook failed")
        return result

    # -- phase 3 -----------------------------------------------------------------------

    def _apply_locked(
        self,
        repo: Repo,
        quarantine: Quarantine | None,
        result: PushResult,
        say: Progress,
    ) -> None:
        if self.before_apply is not None:
            try:
                refused = self.before_apply(repo, result)
            except Exception:
                logger.exception("the pre-apply check of a push failed")
                refused = INTERNAL
            if refused:
                say(f"error: {refused}")
                result.messages.append(f"error: {refused}")
                result.reject_all(refused)
                return
        current = repo_refs(repo)
        for update in result.updates:
            if current.get(update.ref, ZERO_SHA) != update.old:
                say(f"error: {update.ref}: {STALE}")
                result.messages.append(f"error: {update.ref}: {STALE}")
                result.reject_all(STALE)
                return
        if quarantine is not None:
            quarantine.accept()
            refresh_packs(repo.object_store)
        applied: list[RefUpdate] = []
        failure: str | None = None
        for update in result.updates:
            try:
                ok = self._swap_healing(repo, update)
            except FileLocked:
                ok, failure = False, LOCKED
            except (OSError, ValueError, KeyError) as exc:
                logger.warning("updating %s failed: %s", update.ref, exc)
                ok, failure = False, INTERNAL
            if not ok:
                failure = failure or STALE
                break
            applied.append(update)
        if failure is not None:
            self._rollback(repo, applied)
            result.messages.append(f"error: {failure}")
            say(f"error: {failure}")
            result.reject_all(failure)
            return
        result.accepted = True
        result.statuses = [(u.ref, "ok") for u in result.updates]
        if self.on_accepted is not None:
            try:
                self.on_accepted(repo, result)
            except Exception:
                logger.exception("recording an accepted push failed; rolling back")
                self._rollback(repo, applied)
                result.messages.append(f"error: {INTERNAL}")
                say(f"error: {INTERNAL}")
                result.reject_all(INTERNAL)

    def _swap_healing(self, repo: Repo, update: RefUpdate) -> bool:
        """CAS one ref; a ``.lock`` a killed writer left behind (older than
        ``STALE_LOCK_AGE``) is removed and the swap tried once more. We hold the
        project lock, so no push of ours can own it."""
        try:
            return self._swap(repo, update.ref, update.old, update.new)
        except FileLocked:
            control = repo.controldir()
            stale = [os.path.join(control, *update.ref.split("/")) + ".lock"]
            stale.append(os.path.join(control, "packed-refs.lock"))
            if not any(remove_stale_lock(p) for p in stale if os.path.exists(p)):
                raise
            return self._swap(repo, update.ref, update.old, update.new)

    @staticmethod
    def _swap(repo: Repo, ref: str, old: str, new: str) -> bool:
        name = ref.encode("utf-8")
        if new == ZERO_SHA:
            return bool(repo.refs.remove_if_equals(name, old.encode("ascii")))  # type: ignore[arg-type]
        return bool(
            repo.refs.set_if_equals(name, old.encode("ascii"), new.encode("ascii"))  # type: ignore[arg-type]
        )

    def _rollback(self, repo: Repo, applied: Sequence[RefUpdate]) -> None:
        for update in reversed(applied):
            try:
                if not self._swap(repo, update.ref, update.new, update.old):
                    logger.error("rollback of %s found it moved again", update.ref)
            except (FileLocked, OSError, ValueError, KeyError):
                logger.exception("rollback of %s failed", update.ref)

    def rejected(self, repo: Repo, result: PushResult) -> None:
        if self.on_rejected is None:
            return
        try:
            self.on_rejected(repo, result)
        except Exception:
            logger.exception("recording a rejected push failed")

    def _summary(self, repo: Repo, update: RefUpdate) -> list[str]:
        if update.is_delete:
            return [f"dakora: {update.short_name}: deleted"]
        try:
            base: str | None = update.old
            if update.is_create:
                branch = repo_default_branch(repo)
                base = repo_refs(repo).get(f"refs/heads/{branch}")
                if base == update.new:
                    base = None
            return summary_lines(
                update.ref, prompt_changes(repo.object_store, base, update.new)
            )
        except Exception:  # noqa: BLE001 - the summary never fails a push
            logger.exception("push summary failed")
            return []
