"""What a push is checked against (docs/design.md §6 step 2).

``DefaultChecker`` runs, for every ref update of a push, the rules of
``dakora.registry.checks``: the ref-name rules, the protected-ref rules (the default
branch and ``dakora.yaml``'s ``protected_refs`` can be neither deleted nor
force-pushed), the limits (files per commit, file size, safe paths) on every new
commit, and the registry checks (``check_push``, the code ``dakora lint`` runs) over
old..new. It reads objects through any dulwich object store, so the quarantine (new
objects + the repository as alternate) and a plain repository look the same to it.

A ``Checker`` is any ``(store, updates) -> list[Finding]``; errors reject the push.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dulwich.object_store import BaseObjectStore

from dakora.registry.checks import (
    PushLimits,
    VersionLookup,
    is_protected,
    limit_findings,
    protected_findings,
    protected_refs_at,
    ref_name_findings,
    refs_limit_findings,
)
from dakora.registry.checks import check_push as registry_check_push
from dakora.registry.core import ZERO_SHA, Finding, dedupe
from dakora.registry.git import is_ancestor, peel, short_ref


@dataclass(frozen=True)
class RefUpdate:
    """One command of a push: move ``ref`` from ``old`` to ``new`` (hex shas)."""

    old: str
    new: str
    ref: str

    @property
    def is_create(self) -> bool:
        return self.old == ZERO_SHA

    @property
    def is_delete(self) -> bool:
        return self.new == ZERO_SHA

    @property
    def short_name(self) -> str:
        return short_ref(self.ref)

    @classmethod
    def parse(cls, old: bytes | str, new: bytes | str, ref: bytes | str) -> RefUpdate:
        def text(v: bytes | str) -> str:
            return v.decode("utf-8", "replace") if isinstance(v, bytes) else v

        return cls(old=text(old), new=text(new), ref=text(ref))


Checker = Callable[[BaseObjectStore, list[RefUpdate]], list[Finding]]
CheckPush = Callable[..., list[Finding]]


class DefaultChecker:
    """The checks of a push. ``refs_before``: the repository's refs when the push
    arrived (full name → sha); ``default_branch``: the project's default branch;
    ``check_push``: the registry checks (default: ``dakora.registry.checks``'s),
    skipped when ``run_registry_checks`` is False."""

    def __init__(
        self,
        *,
        refs_before: dict[str, str],
        default_branch: str = "main",
        limits: PushLimits | None = None,
        version_lookup: VersionLookup | None = None,
        check_push: CheckPush | None = None,
        run_registry_checks: bool = True,
    ) -> None:
        self.refs_before = refs_before
        self.default_branch = default_branch
        self.limits = limits or PushLimits()
        self.version_lookup = version_lookup
        self._check_push: CheckPush | None = None
        if run_registry_checks:
            self._check_push = check_push or registry_check_push

    def __call__(
        self, store: BaseObjectStore, updates: list[RefUpdate]
    ) -> list[Finding]:
        too_many = refs_limit_findings(len(updates), self.limits)
        if too_many:
            return too_many
        default_head = self.refs_before.get(f"refs/heads/{self.default_branch}")
        protected = protected_refs_at(store, default_head)
        exclude = sorted(set(self.refs_before.values()))
        seen_commits: set[str] = set()
        findings: list[Finding] = []
        for update in updates:
            refused = self._ref_findings(store, update, protected)
            if refused is not None:
                findings.extend(refused)
                continue
            try:
                target = peel(store, update.new)
            except KeyError:
                findings.append(_error(update.ref, f"object {update.new} is missing"))
                continue
            if target is None:  # a blob or a tree, even behind annotated tags
                kind = "branch" if update.ref.startswith("refs/heads/") else "tag"
                findings.append(_error(update.ref, f"a {kind} must point to a commit"))
                continue
            findings.extend(
                limit_findings(store, target, exclude, self.limits, seen_commits)
            )
            if self._check_push is not None:
                findings.extend(
                    self._check_push(
                        store,
                        _old_commit(store, update),
                        target,
                        exclude=exclude,
                        version_lookup=self.version_lookup,
                    )
                )
        return dedupe(findings)

    def _ref_findings(
        self, store: BaseObjectStore, update: RefUpdate, protected: tuple[str, ...]
    ) -> list[Finding] | None:
        """Findings that end the checks of this update (a deletion ends them with
        none); None when its commits are to be checked."""
        names = ref_name_findings(
            update.ref, create=update.is_create, delete=update.is_delete
        )
        if names:
            return names
        if is_protected(update.ref, self.default_branch, protected):
            fast_forward = (
                update.is_delete
                or update.is_create
                or is_ancestor(store, update.old, update.new)
            )
            refused = protected_findings(
                update.ref, delete=update.is_delete, fast_forward=fast_forward
            )
            if refused:
                return refused
        return [] if update.is_delete else None


def _error(ref: str, message: str) -> Finding:
    return Finding.error(ref, None, message, "ref-target")


def _old_commit(store: BaseObjectStore, update: RefUpdate) -> str:
    """The commit the ref moves from (tags peeled; zero for a create or a missing
    object)."""
    if update.is_create:
        return update.old
    try:
        return peel(store, update.old) or update.old
    except KeyError:
        return ZERO_SHA


def format_remote(finding: Finding) -> str:
    """``error: prompts/x.yaml:4: message [rule]`` — one ``remote:`` line."""
    return finding.format_remote()
