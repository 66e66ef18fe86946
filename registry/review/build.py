"""Pull-request review of prompt changes: what BASE → HEAD changes for the callers.

Pure: takes two snapshots, gives back a ``ReviewReport`` (Pydantic, JSON schema version
``SCHEMA_VERSION``, documented in ``docs/review-schema.md``). Formatting lives in
``review_format`` (markdown, JSON) and the CLI (Rich text).
The report models live in ``review_report``, the diffs and example renders in
``review_renders``, part changes in ``review_parts``, the rules in ``review_rules``; their public names are
re-exported here.

What a review holds, per prompt changed between BASE and HEAD (matched by id):

- status: added / modified / removed / renamed (same id, another path) / affected (file
  unchanged, but a part it includes, transitively, changed) / invalid (the HEAD file
  no longer loads: the lint findings say why);
- the version step old → new, whether it is valid (docs/design.md §5: changed content needs a
  semver-greater version) and sized right (a breaking change needs a major bump; a 0.x
  minor counts as major);
- per-input compatibility (``classify_input``), the YAML and template diffs;
- rendered before/after of each example of HEAD (BASE's for a removed prompt; the
  defaults, with placeholders for required inputs, when there are none);
- issues, each with a level: ``error`` > ``breaking`` > ``risky`` > ``info``.
  ``--fail-on LEVEL`` blocks on every issue at that level or above.
"""

from __future__ import annotations

from dakora.registry.checks import check_snapshot
from dakora.registry.core import Finding, Prompt
from dakora.registry.git import Snapshot
from dakora.registry.load import LoadedPrompt
from dakora.registry.render import Renderer, Renders
from dakora.registry.review.parts import included_parts, parts_changes
from dakora.registry.review.renders import (
    decode_text,
    render_examples,
    template_text,
    unified_diff,
)
from dakora.registry.review.report import (
    PartChange,
    PromptReview,
    ReviewReport,
    Side,
    Status,
    Summary,
)
from dakora.registry.review.rules import (
    _FAIL_ON_RANK,
    FailOn,
    Issue,
    Level,
    blocking_issues,
    compare_inputs,
    version_report,
    worst,
)

_STATUS_ORDER = ("removed", "invalid", "added", "renamed", "modified", "affected")


# --- the review ----------------------------------------------------------------------


def _changed_fields(old: Prompt, new: Prompt) -> list[str]:
    a = old.model_dump(exclude={"version"})
    b = new.model_dump(exclude={"version"})
    return [k for k in a if a[k] != b[k]]


def _prompts_by_id(snapshot: Snapshot) -> dict[str, LoadedPrompt]:
    out: dict[str, LoadedPrompt] = {}
    for loaded in snapshot.prompts():
        out.setdefault(loaded.prompt.id, loaded)
    return out


def _review_prompt(
    pid: str,
    old: LoadedPrompt | None,
    new: LoadedPrompt | None,
    via_parts: list[str],
    head_invalid: bool,
    ctx: _Context,
) -> PromptReview:
    if new is None:
        status: Status = "invalid" if head_invalid else "removed"
    elif old is None:
        status = "added"
    elif old.path != new.path:
        status = "renamed"
    elif old.prompt != new.prompt or old.blob_sha != new.blob_sha:
        status = "modified"
    else:
        status = "affected"
    old_p = old.prompt if old else None
    new_p = new.prompt if new else None
    changed_fields = _changed_fields(old_p, new_p) if old_p and new_p else []
    content_changed = bool(changed_fields)
    inputs = compare_inputs(old_p, new_p) if old_p and new_p else []
    verdicts = [r.verdict for r in inputs]
    kind_changed = bool(old_p and new_p and old_p.kind != new_p.kind)
    if kind_changed or status == "removed":
        verdicts.append("breaking")
    elif status == "added":
        verdicts.append("compatible")
    compat = worst(verdicts)
    version = version_report(old, new, content_changed, compat == "breaking")
    path = new.path if new else None
    old_path = old.path if old else None
    yaml_diff = ""
    if status == "invalid" and old is not None:
        path = old.path  # the file is still there, it just does not load
        yaml_diff = unified_diff(
            decode_text(ctx.base.read(old.path)),
            decode_text(ctx.head.read(old.path)),
            f"a/{old.path}",
            f"b/{old.path}",
        )
    elif status != "affected":
        yaml_diff = unified_diff(
            decode_text(ctx.base.read(old.path)) if old else None,
            decode_text(ctx.head.read(new.path)) if new else None,
            f"a/{old_path}",
            f"b/{path}",
        )
    review = PromptReview(
        id=pid,
        status=status,
        path=path,
        old_path=old_path,
        kind=(new_p.kind if new_p else old_p.kind if old_p else None),
        content_changed=content_changed,
        changed_fields=changed_fields,
        version=version,
        compatibility=compat,
        inputs=inputs,
        via_parts=via_parts,
        yaml_diff=yaml_diff,
        template_diff=""
        if status == "invalid"
        else unified_diff(
            template_text(old_p),
            template_text(new_p),
            f"a/{old_path}",
            f"b/{path}",
        ),
    )
    if status != "invalid":
        review.renders = render_examples(
            ctx.renderer, old, new, ctx.base.parts, ctx.head.parts
        )
    _prompt_issues(review, kind_changed, ctx)
    return review


def _prompt_issues(review: PromptReview, kind_changed: bool, ctx: _Context) -> None:
    pid, where = review.id, review.path or review.old_path

    def add(level: Level, code: str, message: str) -> None:
        ctx.issues.append(
            Issue(level=level, code=code, message=message, prompt=pid, path=where)
        )

    if review.status == "removed":
        if ctx.allow_removals:
            add("risky", "prompt-removed", f"prompt '{pid}' removed (allowed)")
        else:
            add(
                "breaking",
                "prompt-removed",
                f"prompt '{pid}' removed: callers fetching it get 404 "
                "(pass --allow-removals to accept)",
            )
    if review.status == "invalid":
        add(
            "error",
            "invalid-prompt",
            f"prompt '{pid}' no longer loads on HEAD (see the lint findings)",
        )
    v = review.version
    if not v.valid:
        add("error", "version-not-bumped", v.message or "invalid version bump")
    if kind_changed:
        add(
            "breaking" if v.bump != "major" else "risky",
            "kind-changed",
            "prompt kind changed (text ↔ chat): callers get another response shape",
        )
    breaking = [
        r.name for r in review.inputs if any(c.compat == "breaking" for c in r.changes)
    ]
    if breaking and v.old is not None and v.new is not None:
        if v.sized_ok:
            add(
                "risky",
                "breaking-change",
                f"breaking input change(s) with a major bump {v.old} → {v.new}: "
                + ", ".join(breaking),
            )
        else:
            add(
                "breaking",
                "breaking-change-needs-major",
                f"breaking input change(s) need a major bump, got {v.bump} "
                f"({v.old} → {v.new}): " + ", ".join(breaking),
            )
    for r in review.inputs:
        for c in r.changes:
            if c.compat == "risky":
                add("risky", c.kind, f"{r.name}: {c.message}")
    for rep in review.renders:
        if rep.after_error is not None:
            add(
                "error",
                "render-failed",
                f"{rep.label} does not render on HEAD: {rep.after_error}",
            )
        elif rep.before_error is not None and review.status != "added":
            add(
                "info",
                "render-failed-base",
                f"{rep.label} did not render on BASE: {rep.before_error}",
            )


class _Context:
    def __init__(
        self, base: Snapshot, head: Snapshot, renderer: Renders, allow_removals: bool
    ) -> None:
        self.base = base
        self.head = head
        self.renderer = renderer
        self.allow_removals = allow_removals
        self.issues: list[Issue] = []


def review(
    base: Snapshot,
    head: Snapshot,
    *,
    allow_removals: bool = False,
    fail_on: FailOn | str = "breaking",
    base_rev: str | None = None,
    head_rev: str | None = None,
    renderer: Renders | None = None,
    lint: list[Finding] | None = None,
) -> ReviewReport:
    """Review every prompt change between ``base`` and ``head``.

    ``lint``: the check findings on HEAD when the caller already has them; otherwise
    ``check_snapshot(head)`` runs here.
    """
    if fail_on not in _FAIL_ON_RANK:
        raise ValueError(f"unknown --fail-on level {fail_on!r}")
    ctx = _Context(base, head, renderer or Renderer(), allow_removals)
    old_by_id = _prompts_by_id(base)
    new_by_id = _prompts_by_id(head)
    head_paths = set(head.prompt_paths())
    loaded_head_paths = {lp.path for lp in new_by_id.values()}

    parts = parts_changes(base.parts, head.parts)
    includes = _changed_part_includes(base, head, old_by_id, new_by_id, parts)

    reviews: list[PromptReview] = []
    for pid in sorted(set(old_by_id) | set(new_by_id)):
        old, new = old_by_id.get(pid), new_by_id.get(pid)
        via = sorted(includes.get(pid, set()))
        if (
            old is not None
            and new is not None
            and old.path == new.path
            and old.blob_sha == new.blob_sha
            and old.prompt == new.prompt
            and not via
        ):
            continue
        head_invalid = (
            new is None
            and old is not None
            and old.path in head_paths
            and old.path not in loaded_head_paths
        )
        reviews.append(_review_prompt(pid, old, new, via, head_invalid, ctx))
    reviews.sort(key=lambda r: (_STATUS_ORDER.index(r.status), r.id))

    findings = sorted(
        lint if lint is not None else check_snapshot(head),
        key=lambda f: (f.path, f.line or 0, f.severity, f.rule, f.message),
    )
    ctx.issues.extend(_lint_issues(findings))

    summary = Summary(
        prompts=len(reviews),
        parts_changed=len(parts),
        lint_errors=sum(1 for f in findings if f.severity == "error"),
        lint_warnings=sum(1 for f in findings if f.severity == "warning"),
    )
    for r in reviews:
        setattr(summary, r.status, getattr(summary, r.status) + 1)
        if r.compatibility != "unchanged":
            setattr(summary, r.compatibility, getattr(summary, r.compatibility) + 1)
    summary.errors = sum(1 for i in ctx.issues if i.level == "error")
    blockers = blocking_issues(ctx.issues, fail_on)
    return ReviewReport(
        base=Side(rev=base_rev, commit=base.commit),
        head=Side(rev=head_rev, commit=head.commit),
        fail_on=fail_on,  # type: ignore[arg-type]
        allow_removals=allow_removals,
        blocking=bool(blockers),
        blocking_reasons=[_reason(i) for i in blockers],
        summary=summary,
        prompts=reviews,
        parts=parts,
        lint=[f.to_dict() for f in findings],
        issues=ctx.issues,
    )


def _changed_part_includes(
    base: Snapshot,
    head: Snapshot,
    old_by_id: dict[str, LoadedPrompt],
    new_by_id: dict[str, LoadedPrompt],
    parts: list[PartChange],
) -> dict[str, set[str]]:
    """prompt id → the changed parts it includes (on either side); each changed
    part's ``affects`` is filled in."""
    changed_parts = {p.name for p in parts}
    includes: dict[str, set[str]] = {}
    if not changed_parts:
        return includes
    for pid in sorted(set(old_by_id) | set(new_by_id)):
        names: set[str] = set()
        if pid in old_by_id:
            names |= included_parts(old_by_id[pid].prompt, base.parts)
        if pid in new_by_id:
            names |= included_parts(new_by_id[pid].prompt, head.parts)
        includes[pid] = names & changed_parts
    for part in parts:
        part.affects = sorted(p for p, n in includes.items() if part.name in n)
    return includes


def _lint_issues(findings: list[Finding]) -> list[Issue]:
    """An ``error`` issue per lint error on HEAD."""
    return [
        Issue(
            level="error",
            code=f"lint:{f.rule}",
            message=(f"{f.path}:{f.line}: " if f.line else f"{f.path}: ")
            + f"{f.message} [{f.rule}]",
            path=f.path,
        )
        for f in findings
        if f.severity == "error"
    ]


def _reason(issue: Issue) -> str:
    return f"{issue.level}: {issue.message}"
