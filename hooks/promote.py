"""Promotion: one commit on a target branch that takes exactly the named prompts, and
the parts they include, from a source ref (docs/promotion.md).

No web framework here. :func:`plan_promotion` reads the two commits and works out the
file changes: each named prompt's file from the source (its old file on the target is
removed when the path differs), and every part the prompt includes, transitively, on
the source. :func:`promote` builds the commit (parent = the target's tip, tree = the
target's tree with those files replaced) and pushes it through the same
``ReceivePipeline`` as a ``git push`` via :class:`CommitWriter`: the same checks
(version rules against the target and every ref, protected refs, limits), the same
lock and compare-and-swap on the target ref, the same audit row (``source``
"promote"). The commit is a child of the target's tip, so a protected target takes it
as a fast-forward.

A part that changes on the target and is also included by a prompt there that is
NOT promoted would change that prompt's output without a version bump: it is a
``shared-part-changed`` finding, an error unless the caller allows shared parts (then
a warning, reported with the result). A target ref that does not exist is refused:
creating it would take every prompt of the source, which is not a promotion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from dulwich.object_store import BaseObjectStore
from dulwich.repo import Repo

from dakora.hooks.commit_writer import Author, CommitWriter, FileChange, WriteOutcome
from dakora.hooks.receive import PushContext
from dakora.registry.core import (
    ID_PATTERN,
    BadRequest,
    Finding,
    PromptNotFound,
    RefNotFound,
)
from dakora.registry.git import (
    GitSnapshot,
    Snapshot,
    as_ref,
    load_with_findings,
    peel,
    prompt_identity,
    short_ref,
)
from dakora.registry.render import analyze_template

SHARED_PART_RULE = "shared-part-changed"
MAX_PROMPTS = 500


@dataclass(frozen=True)
class PromotedPrompt:
    id: str
    path: str  # on the source (and, after the promotion, on the target)
    version: str | None  # on the source
    previous_version: str | None  # on the target before; None: new there
    previous_path: str | None
    changed: bool


@dataclass(frozen=True)
class PromotedPart:
    name: str  # category/name
    path: str
    status: Literal["added", "changed", "unchanged"]
    included_by: tuple[str, ...]  # the promoted prompts that include it
    shared_with: tuple[str, ...] = ()  # target prompts, not promoted, including it


@dataclass
class PromotionPlan:
    source_ref: str
    source_commit: str
    target_ref: str
    target_commit: str
    prompts: list[PromotedPrompt]
    parts: list[PromotedPart]
    changes: list[FileChange] = field(default_factory=list)

    @property
    def shared(self) -> list[PromotedPart]:
        return [p for p in self.parts if p.shared_with]

    def shared_findings(self, allow: bool) -> list[Finding]:
        """One finding per changed part a prompt not promoted includes: an error,
        or a warning when shared parts are allowed."""
        out = []
        for part in self.shared:
            names = ", ".join(f"'{p}'" for p in part.shared_with)
            message = (
                f"part {part.name} changes on {short_ref(self.target_ref)} and is also "
                f"included by {names} (not promoted): their output changes there "
                "without a version bump"
            )
            if not allow:
                message += (
                    "; promote them too, or allow shared parts "
                    "(dakora promote --allow-shared-parts; API allow_shared_parts)"
                )
            make = Finding.warning if allow else Finding.error
            out.append(make(part.path, None, message, SHARED_PART_RULE))
        return out

    def message(self) -> str:
        """The commit message: what moved, from where."""
        moved = [p for p in self.prompts if p.changed]
        names = ", ".join(f"{p.id} {p.version}" for p in moved) or "nothing"
        source, target = short_ref(self.source_ref), short_ref(self.target_ref)
        lines = [f"Promote {names} from {source} to {target}", ""]
        for p in self.prompts:
            before = p.previous_version or "new"
            state = "" if p.changed else " (unchanged)"
            lines.append(f"prompt {p.id}: {before} -> {p.version}{state}")
        for part in self.parts:
            if part.status != "unchanged":
                lines.append(f"part {part.name}: {part.status} ({part.path})")
        lines += ["", f"Source: {source} {self.source_commit}"]
        return "\n".join(lines)


def resolve_source(repo: Repo, name: str) -> tuple[str, str]:
    """(full ref, commit) of the source: a branch, a tag (peeled) or a full ref."""
    for ref in _candidates(name):
        sha = repo.refs.as_dict().get(as_ref(ref))
        if sha is not None:
            commit = peel(repo.object_store, sha.decode("ascii"))
            if commit is None:
                raise BadRequest(f"{name} does not point to a commit")
            return ref, commit
    raise RefNotFound(f"the source ref {name!r} does not exist", ref=name)


def resolve_target(repo: Repo, name: str) -> tuple[str, str]:
    """(full branch ref, tip) of the target: an existing branch, nothing else."""
    if name.startswith("refs/") and not name.startswith("refs/heads/"):
        raise BadRequest(
            f"the target {name!r} is not a branch: a promotion is a commit, and only "
            "a branch can take one"
        )
    ref = name if name.startswith("refs/") else f"refs/heads/{name}"
    refs = repo.refs.as_dict()
    sha = refs.get(as_ref(ref))
    if sha is not None:
        return ref, sha.decode("ascii")
    if refs.get(as_ref(f"refs/tags/{name}")) is not None:
        raise BadRequest(
            f"{name!r} is a tag: a promotion is a commit, and only a branch can take one"
        )
    raise RefNotFound(
        f"the target branch {short_ref(ref)!r} does not exist: a promotion moves "
        "named prompts onto an existing branch; create it first (e.g. "
        f"git push origin {short_ref(ref)}:{short_ref(ref)} from the commit it "
        "should start at)",
        ref=short_ref(ref),
    )


def _candidates(name: str) -> list[str]:
    if name.startswith("refs/"):
        return [name]
    return [f"refs/heads/{name}", f"refs/tags/{name}"]


def checked_ids(ids: Sequence[str]) -> list[str]:
    """The prompt ids, each valid, no repeats, at least one."""
    out: list[str] = []
    for value in ids:
        if not isinstance(value, str) or not ID_PATTERN.match(value):
            raise BadRequest(
                f"invalid prompt id {value!r}: use lowercase letters, digits, '.', '_' "
                "and '-' (at most 128)",
                id=value,
            )
        if value not in out:
            out.append(value)
    if not out:
        raise BadRequest("name at least one prompt to promote")
    if len(out) > MAX_PROMPTS:
        raise BadRequest(f"at most {MAX_PROMPTS} prompts per promotion")
    return out


def plan_promotion(
    store: BaseObjectStore,
    *,
    source: tuple[str, str],
    target: tuple[str, str],
    prompt_ids: Sequence[str],
    subdir: str = "",
) -> PromotionPlan:
    """The files a promotion of ``prompt_ids`` from ``source`` onto ``target``
    ((full ref, commit) each) changes; ``subdir``: the prompt root in the repository."""
    ids = checked_ids(prompt_ids)
    src = GitSnapshot(store, source[1], subdir)
    dst = GitSnapshot(store, target[1], subdir)
    if (src.prompts_dir, src.parts_dir) != (dst.prompts_dir, dst.parts_dir):
        raise BadRequest(
            f"{short_ref(source[0])} keeps prompts in {src.prompts_dir}/ and parts in "
            f"{src.parts_dir}/, {short_ref(target[0])} in {dst.prompts_dir}/ and "
            f"{dst.parts_dir}/ (dakora.yaml): promote dakora.yaml with git first"
        )
    plan = PromotionPlan(source[0], source[1], target[0], target[1], [], [])
    prefix = f"{subdir}/" if subdir else ""
    included: dict[str, list[str]] = {}
    for prompt_id in ids:
        plan.prompts.append(_plan_prompt(plan, src, dst, prompt_id, prefix))
        for name in _included_parts(src, src.path_of(prompt_id)):
            included.setdefault(name, []).append(prompt_id)
    changed_parts: set[str] = set()
    for name, users in sorted(included.items()):
        part = _plan_part(plan, src, dst, name, tuple(users), prefix)
        if part is not None:
            plan.parts.append(part)
            if part.status == "changed":
                changed_parts.add(name)
    if changed_parts:
        _mark_shared(plan, dst, changed_parts, set(ids))
    return plan


def _plan_prompt(
    plan: PromotionPlan, src: GitSnapshot, dst: GitSnapshot, prompt_id: str, prefix: str
) -> PromotedPrompt:
    path = src.path_of(prompt_id)
    if path is None:
        raise PromptNotFound(
            f"prompt {prompt_id!r} is not on {short_ref(plan.source_ref)}",
            id=prompt_id,
        )
    old_path = dst.path_of(prompt_id)
    if old_path != path and dst.exists(path):
        other = prompt_identity(dst, path)
        raise BadRequest(
            f"{path} holds {('prompt ' + repr(other[0])) if other else 'another file'} "
            f"on {short_ref(plan.target_ref)}: promoting '{prompt_id}' would replace "
            "it; move one of them first",
            id=prompt_id,
            path=path,
        )
    changed = old_path != path or dst.blob_sha(path) != src.blob_sha(path)
    if changed:
        if old_path is not None and old_path != path:
            plan.changes.append(FileChange(prefix + old_path, None))
        plan.changes.append(FileChange(prefix + path, src.read(path)))
    new_ident = prompt_identity(src, path)
    old_ident = prompt_identity(dst, old_path) if old_path is not None else None
    return PromotedPrompt(
        id=prompt_id,
        path=path,
        version=new_ident[1] if new_ident else None,
        previous_version=old_ident[1] if old_ident else None,
        previous_path=old_path,
        changed=changed,
    )


def _plan_part(
    plan: PromotionPlan,
    src: GitSnapshot,
    dst: GitSnapshot,
    name: str,
    users: tuple[str, ...],
    prefix: str,
) -> PromotedPart | None:
    found = src.parts.get_source(name)
    if found is None:
        return None  # missing on the source: the checks name it (missing-include)
    path = found[1]
    old = dst.parts.get_source(name)
    if old is not None and old[1] == path and dst.blob_sha(path) == src.blob_sha(path):
        return PromotedPart(name, path, "unchanged", users)
    if old is not None and old[1] != path:
        plan.changes.append(FileChange(prefix + old[1], None))  # another extension
    plan.changes.append(FileChange(prefix + path, src.read(path)))
    return PromotedPart(name, path, "added" if old is None else "changed", users)


def _included_parts(snapshot: Snapshot, path: str | None) -> list[str]:
    """The parts a prompt file includes, transitively (none when it does not load:
    the checks report that)."""
    if path is None:
        return []
    loaded, _findings = load_with_findings(snapshot, path)
    if loaded is None:
        return []
    names: list[str] = []
    for _label, text in loaded.prompt.sources():
        try:
            names += analyze_template(text, snapshot.parts).includes
        except Exception:  # noqa: BLE001 - a template that does not parse: the checks
            continue
    return list(dict.fromkeys(names))


def _mark_shared(
    plan: PromotionPlan, dst: GitSnapshot, changed: set[str], promoted: set[str]
) -> None:
    """Fill ``shared_with`` of the changed parts: the target's prompts, not being
    promoted, that include them (transitively, as the target has them)."""
    users: dict[str, list[str]] = {}
    for prompt_id, path in sorted(dst.prompt_index().items()):
        if prompt_id in promoted:
            continue
        for name in set(_included_parts(dst, path)) & changed:
            users.setdefault(name, []).append(prompt_id)
    plan.parts = [
        PromotedPart(
            p.name, p.path, p.status, p.included_by, tuple(users.get(p.name, ()))
        )
        if p.name in users
        else p
        for p in plan.parts
    ]


@dataclass
class PromotionOutcome:
    plan: PromotionPlan
    write: WriteOutcome
    findings: list[Finding]  # the shared-part warnings, when allowed


def promote(
    writer: CommitWriter,
    repo: Repo,
    plan: PromotionPlan,
    *,
    author: Author,
    context: PushContext,
    allow_shared_parts: bool = False,
    message: str | None = None,
) -> PromotionOutcome:
    """Commit ``plan`` on its target through ``writer``'s pipeline (source
    "promote"); a shared part that changes is refused (and recorded as a rejected
    move) unless ``allow_shared_parts``."""
    shared = plan.shared_findings(allow_shared_parts)
    context.source = "promote"
    outcome = writer.write(
        repo,
        branch=short_ref(plan.target_ref),
        changes=plan.changes,
        author=author,
        message=_message(plan, message),
        context=context,
        expected_parent=plan.target_commit,
        extra_findings=shared,
    )
    return PromotionOutcome(plan=plan, write=outcome, findings=shared)


def _message(plan: PromotionPlan, given: str | None) -> str:
    generated = plan.message()
    if not given:
        return generated
    return f"{given.rstrip()}\n\n{generated}"


def outcome_dict(outcome: PromotionOutcome) -> dict[str, Any]:
    """The promotion as the API answers it (and ``dakora promote --json`` prints)."""
    plan, write = outcome.plan, outcome.write
    return {
        "from": short_ref(plan.source_ref),
        "to": short_ref(plan.target_ref),
        "source_commit": plan.source_commit,
        "commit": write.commit,
        "parent": write.parent,
        "changed": write.changed,
        "prompts": [
            {
                "id": p.id,
                "version": p.version,
                "previous_version": p.previous_version,
                "path": p.path,
                "changed": p.changed,
            }
            for p in plan.prompts
        ],
        "parts": [
            {
                "name": p.name,
                "path": p.path,
                "status": p.status,
                "included_by": list(p.included_by),
                "shared_with": list(p.shared_with),
            }
            for p in plan.parts
        ],
        # the pipeline's findings: check warnings and the shared-part ones
        "findings": [f.to_dict() for f in write.findings],
        "messages": list(write.messages),
    }
