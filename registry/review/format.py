"""Render a ``ReviewReport`` as a pull-request comment (markdown) or as JSON.

Both are deterministic: no timestamps, no absolute paths, stable ordering, so a CI job
can update one PR comment in place and tests can compare with golden files. The
schema of the JSON is documented in ``docs/review-schema.md``. The Rich text output
lives in the CLI.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from dakora.registry.review.report import (
    PartChange,
    PromptReview,
    RenderReport,
    ReviewReport,
)

MARKER = "<!-- dakora-review -->"

_STATUS_ICON = {
    "added": "🆕",
    "modified": "✏️",
    "removed": "🗑️",
    "renamed": "🔀",
    "affected": "🔗",
    "invalid": "⛔",
}
_COMPAT_ICON = {
    "breaking": "🔴 breaking",
    "risky": "🟠 risky",
    "compatible": "🟢 compatible",
    "unchanged": "⚪ unchanged",
}
_LEVEL_ICON = {"error": "❌", "breaking": "🔴", "risky": "🟠", "info": "ℹ️"}


def to_json(report: ReviewReport) -> str:
    """The report as JSON (schema ``docs/review-schema.md``), keys in schema order."""
    return (
        json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
    )


def short_sha(sha: str | None) -> str:
    return sha[:7] if sha else "working tree"


def side_label(rev: str | None, commit: str | None) -> str:
    if rev and commit:
        return f"`{rev}` ({short_sha(commit)})"
    if rev:
        return f"`{rev}`"
    return f"`{short_sha(commit)}`"


def _fence(text: str, lang: str = "") -> str:
    """A code fence longer than any backtick run inside ``text``."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") else text + "\n"
    return f"{ticks}{lang}\n{body}{ticks}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _text(text: str) -> str:
    """Plain text in markdown: no stray HTML (``<name>``), no table breaks."""
    return _cell(html.escape(text, quote=False))


def _code(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return "`" + _cell(text).replace("`", "'") + "`"


def version_text(p: PromptReview) -> str:
    v = p.version
    if v.old and v.new:
        text = f"{v.old} → {v.new}" if v.old != v.new else v.new
        if v.bump and v.bump not in ("none", "invalid"):
            text += f" ({v.bump})"
    else:
        text = v.new or v.old or "?"
    if not v.valid:
        text += " ❌ not bumped" if v.old == v.new else " ❌ invalid"
    elif not v.sized_ok:
        text += " ⚠️ needs major"
    return text


def render_summary(p: PromptReview) -> str:
    if not p.renders:
        return "—"
    failed = sum(1 for r in p.renders if r.after_error is not None)
    changed = sum(1 for r in p.renders if r.changed)
    text = f"{changed} of {len(p.renders)} changed"
    if failed:
        text += f", ❌ {failed} failed"
    return text


MAX_COMMENT_CHARS = 60_000
"""GitHub refuses comments over 65,536 characters; the markdown stays below this."""


class _Budget:
    """Appends blocks while they fit; counts what had to be left out, per kind."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.size = 0
        self.blocks: list[str] = []
        self.omitted: dict[str, int] = {}

    def add(self, block: str, kind: str | None = None, reserve: int = 0) -> bool:
        cost = len(block) + 1
        if (
            kind is not None
            and self.limit is not None
            and self.size + cost + reserve > self.limit
        ):
            self.omitted[kind] = self.omitted.get(kind, 0) + 1
            return False
        self.blocks.append(block)
        self.size += cost
        return True

    def section(self, header: str, blocks: list[str], kind: str) -> None:
        """A header and its blocks; no header when not even the first block fits."""
        first = len(header) + len(blocks[0]) + 2 if blocks else 0
        if self.limit is not None and self.size + first + _RESERVE > self.limit:
            self.omitted[kind] = self.omitted.get(kind, 0) + len(blocks)
            return
        self.add(header)
        for block in blocks:
            self.add(block, kind, _RESERVE)


_RESERVE = 800  # room for the truncation note and section headers


def to_markdown(
    report: ReviewReport, *, max_chars: int | None = MAX_COMMENT_CHARS
) -> str:
    """A PR comment: verdict, summary table, one collapsible section per prompt.

    Longer than ``max_chars`` (None: no limit), the details that do not fit are left
    out, in this order of priority: blocking reasons, table rows, prompt sections,
    parts, lint lines; a closing note says how many.
    """
    out = _Budget(max_chars)
    out.add(MARKER)
    out.add(
        f"## Dakora review: {side_label(report.base.rev, report.base.commit)} → "
        f"{side_label(report.head.rev, report.head.commit)}\n"
    )
    s = report.summary
    if report.blocking:
        out.add(
            f"**❌ Blocking** (`--fail-on {report.fail_on}`): "
            f"{len(report.blocking_reasons)} finding(s) must be fixed.\n"
        )
    else:
        out.add(f"**✅ No blocking findings** (`--fail-on {report.fail_on}`).\n")
    counts = [
        f"{getattr(s, k)} {k}"
        for k in ("added", "modified", "renamed", "removed", "affected", "invalid")
        if getattr(s, k)
    ]
    out.add(
        f"{s.prompts} prompt(s) changed"
        + (f" ({', '.join(counts)})" if counts else "")
        + f" · {s.breaking} breaking · {s.risky} risky · {s.parts_changed} part(s) "
        f"changed · lint: {s.lint_errors} error(s), {s.lint_warnings} warning(s)\n"
    )
    if report.blocking_reasons:
        for reason in report.blocking_reasons:
            out.add(f"- {_text(reason)}", "blocking reason(s)", _RESERVE)
        out.add("")
    if report.prompts:
        out.add("| Prompt | Status | Version | Compatibility | Rendered examples |")
        out.add("|---|---|---|---|---|")
        for p in report.prompts:
            out.add(
                f"| `{p.id}` | {_STATUS_ICON[p.status]} {p.status} | "
                f"{_cell(version_text(p))} | {_COMPAT_ICON[p.compatibility]} | "
                f"{render_summary(p)} |",
                "table row(s)",
                _RESERVE,
            )
        out.add("")
    else:
        out.add("No prompt changes.\n")
    for p in report.prompts:
        out.add("\n".join(_prompt_section(report, p)), "prompt section(s)", _RESERVE)
    if report.parts:
        parts = ["\n".join(_part_section(part)) for part in report.parts]
        out.section("### Parts changed\n", parts, "part(s)")
    if report.lint:
        lines = []
        for f in report.lint:
            where = f"{f['path']}:{f['line']}" if f["line"] else f["path"]
            icon = "❌" if f["severity"] == "error" else "⚠️"
            lines.append(
                f"- {icon} `{where}` {f['severity']}: {_text(f['message'])} "
                f"[{f['rule']}]"
            )
        lines[-1] += "\n"
        out.section("### Lint on HEAD\n", lines, "lint finding(s)")
    if out.omitted:
        left_out = ", ".join(f"{n} {kind}" for kind, n in out.omitted.items())
        out.add(
            f"_Shortened to fit a PR comment: {left_out} left out. Run "
            "`dakora review` locally (or with `--format json`) for the full review._\n"
        )
    return "\n".join(out.blocks).rstrip("\n") + "\n"


def _part_section(part: PartChange) -> list[str]:
    affects = ", ".join(f"<code>{a}</code>" for a in part.affects) or "no prompt"
    out = [
        f"<details><summary><code>{part.name}</code> — {part.status} "
        f"(affects {affects})</summary>",
        "",
    ]
    if part.diff:
        out.append(_fence(part.diff, "diff"))
        out.append("")
    out.append("</details>")
    out.append("")
    return out


def _prompt_section(report: ReviewReport, p: PromptReview) -> list[str]:
    out: list[str] = []
    out.append(
        f"<details><summary><b>{p.id}</b> — {p.status}, {version_text(p)}, "
        f"{p.compatibility}</summary>"
    )
    out.append("")
    if p.status == "renamed":
        out.append(f"- Path: `{p.old_path}` → `{p.path}`")
    else:
        out.append(f"- Path: `{p.path or p.old_path}`")
    if p.changed_fields:
        out.append("- Changed: " + ", ".join(f"`{f}`" for f in p.changed_fields))
    if p.via_parts:
        out.append(
            "- Affected through parts: " + ", ".join(f"`{n}`" for n in p.via_parts)
        )
    out.append("")
    if p.version.message:
        out.append(f"**Version:** {p.version.message}")
        out.append("")
    issues = report.issues_for(p.id)
    if issues:
        for i in issues:
            out.append(f"- {_LEVEL_ICON[i.level]} **{i.level}** {_text(i.message)}")
        out.append("")
    if p.inputs:
        out.append("**Inputs**")
        out.append("")
        out.append("| Input | Verdict | Before | After | Change |")
        out.append("|---|---|---|---|---|")
        for r in p.inputs:
            before = _code(r.before) if r.before is not None else "—"
            after = _code(r.after) if r.after is not None else "—"
            changes = "; ".join(c.message for c in r.changes)
            out.append(
                f"| `{r.name}` | {_COMPAT_ICON[r.verdict]} | {before} | {after} | "
                f"{_text(changes)} |"
            )
        out.append("")
    if p.template_diff:
        label = "Messages" if p.kind == "chat" else "Template"
        out.append(f"**{label} diff**")
        out.append("")
        out.append(_fence(p.template_diff, "diff"))
        out.append("")
    for rendered in p.renders:
        out.extend(_render_section(rendered))
    if p.yaml_diff:
        out.append("<details><summary>YAML diff</summary>")
        out.append("")
        out.append(_fence(p.yaml_diff, "diff"))
        out.append("")
        out.append("</details>")
        out.append("")
    out.append("</details>")
    out.append("")
    return out


def _render_section(r: RenderReport) -> list[str]:
    state = "changed" if r.changed else "unchanged"
    if r.after_error is not None:
        state = "❌ fails on HEAD"
    elif r.before_error is not None and r.after is not None:
        state = "fails on BASE"
    out = [f"<details><summary>Rendered: {r.label} — {state}</summary>", ""]
    out.append(f"Inputs: {_code(r.inputs)}")
    notes: list[str] = []
    if r.placeholders:
        notes.append(
            "placeholders for required inputs: "
            + ", ".join(f"`{n}`" for n in r.placeholders)
        )
    if r.dropped_base:
        notes.append(
            "not declared on BASE (dropped there): "
            + ", ".join(f"`{n}`" for n in r.dropped_base)
        )
    if r.dropped_head:
        notes.append(
            "not declared on HEAD (dropped there): "
            + ", ".join(f"`{n}`" for n in r.dropped_head)
        )
    for note in notes:
        out.append(f"<br>Note: {note}")
    out.append("")
    if r.before_error is not None:
        out.append(f"BASE error: {_code(r.before_error)}")
        out.append("")
    if r.after_error is not None:
        out.append(f"HEAD error: {_code(r.after_error)}")
        out.append("")
    if r.diff:
        out.append(_fence(r.diff, "diff"))
        out.append("")
    elif r.after is not None:
        out.append(_fence(r.after))
        out.append("")
    out.append("</details>")
    out.append("")
    return out
