"""``dakora review`` for a person: Rich on a terminal, plain when piped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from dakora.cli.output import make_console, note, print_diff, print_table

if TYPE_CHECKING:
    from dakora.registry.review import ReviewReport

_LEVEL_STYLE = {
    "error": "bold red",
    "breaking": "red",
    "risky": "yellow",
    "info": "cyan",
}
_COMPAT_STYLE = {
    "breaking": "red",
    "risky": "yellow",
    "compatible": "green",
    "unchanged": "dim",
}


def print_text(report: ReviewReport) -> None:
    """The review for a person: header and summary, a table of the prompts, each
    prompt's issues, inputs and diffs, the parts, lint, and the verdict."""
    from dakora.registry.review import render_summary, version_text

    console = make_console()
    _print_header(console, report)
    if report.prompts:
        print_table(
            ["prompt", "status", "version", "compatibility", "rendered"],
            [
                [p.id, p.status, version_text(p), p.compatibility, render_summary(p)]
                for p in report.prompts
            ],
        )
        console.print()
    for p in report.prompts:
        _print_prompt(console, report, p)
        console.print()
    _print_parts_and_lint(console, report)
    _print_verdict(console, report)
    if not report.prompts and not report.parts:
        note("no prompt or part changes between BASE and HEAD")


def _print_header(console: Console, report: ReviewReport) -> None:
    from dakora.registry.review import side_label

    console.print(
        f"[bold]Dakora review[/] {escape(side_label(report.base.rev, report.base.commit))}"
        f" → {escape(side_label(report.head.rev, report.head.commit))}".replace("`", "")
    )
    s = report.summary
    console.print(
        f"{s.prompts} prompt(s) changed: {s.added} added, {s.modified} modified, "
        f"{s.renamed} renamed, {s.removed} removed, {s.affected} affected, "
        f"{s.invalid} invalid; {s.breaking} breaking, {s.risky} risky; "
        f"{s.parts_changed} part(s) changed; lint {s.lint_errors} error(s), "
        f"{s.lint_warnings} warning(s)"
    )
    console.print()


def _print_prompt(console: Console, report: ReviewReport, p: Any) -> None:
    from dakora.registry.review import render_summary, version_text

    style = _COMPAT_STYLE[p.compatibility]
    where = (
        f"{p.old_path} → {p.path}" if p.status == "renamed" else p.path or p.old_path
    )
    console.print(
        f"[bold]{escape(p.id)}[/]  {p.status}  {escape(version_text(p))}  "
        f"[{style}]{p.compatibility}[/]  [dim]{escape(str(where))}[/]"
    )
    if p.via_parts:
        console.print(f"  via parts: {escape(', '.join(p.via_parts))}")
    for issue in report.issues_for(p.id):
        console.print(
            f"  [{_LEVEL_STYLE[issue.level]}]{issue.level}[/]: {escape(issue.message)}"
        )
    for r in p.inputs:
        for c in r.changes:
            console.print(
                f"  input [bold]{escape(r.name)}[/]: "
                f"[{_COMPAT_STYLE[c.compat]}]{c.compat}[/] — {escape(c.message)}"
            )
    if p.template_diff:
        console.print("  template diff:")
        print_diff(p.template_diff)
    if p.renders:
        console.print(f"  rendered: {render_summary(p)}")
    _print_renders(console, p)


def _print_renders(console: Console, p: Any) -> None:
    for rep in p.renders:
        if rep.dropped_base:
            console.print(
                f"  {rep.label}: not declared on BASE, dropped there: "
                f"{escape(', '.join(rep.dropped_base))}"
            )
        if rep.dropped_head:
            console.print(
                f"  {rep.label}: not declared on HEAD, dropped there: "
                f"{escape(', '.join(rep.dropped_head))}"
            )
        if rep.changed and rep.diff:
            console.print(f"  rendered {rep.label}:")
            print_diff(rep.diff)


def _print_parts_and_lint(console: Console, report: ReviewReport) -> None:
    if report.parts:
        console.print("[bold]Parts changed[/]")
        for part in report.parts:
            affects = ", ".join(part.affects) or "no prompt"
            console.print(f"  {part.name}  {part.status}  (affects {escape(affects)})")
        console.print()
    if report.lint:
        console.print("[bold]Lint on HEAD[/]")
        for f in report.lint:
            where = f"{f['path']}:{f['line']}" if f["line"] else f["path"]
            console.print(
                f"  {escape(where)}: {f['severity']}: {escape(f['message'])} "
                + escape(f"[{f['rule']}]")
            )
        console.print()


def _print_verdict(console: Console, report: ReviewReport) -> None:
    from dakora.registry.review import blocking_issues

    blockers = blocking_issues(report.issues, report.fail_on)
    if blockers:
        console.print(
            f"[bold red]BLOCKING[/] (--fail-on {report.fail_on}): "
            f"{len(blockers)} finding(s)"
        )
        for issue in blockers:
            console.print(f"  {issue.level}: {escape(issue.message)}")
    else:
        console.print(
            f"[bold green]OK[/]: nothing blocking (--fail-on {report.fail_on})"
        )
