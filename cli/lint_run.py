"""What ``dakora lint`` does, without Typer: the checks on a working tree or a ref, as
text or JSON, with a summary line; exit code 1 when there is an error.

``local_lint`` declares the command for Typer (its options and ``--help``) and calls
``run_lint``; ``cli/direct.py`` calls it straight from the console script, so a lint
imports neither Typer nor its Pydantic type adapters (docs/development.md, "CLI start-up").
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dakora.cli.output import (
    cli_errors,
    is_rich,
    make_console,
    note,
    print_findings,
    print_json,
    write_text,
)
from dakora.cli.repo_access import (
    first_parent,
    folder_snapshot,
    head_commit,
    locate,
    open_repo,
    version_lookup,
)
from dakora.registry.core import Finding, RepositoryNotFound

if TYPE_CHECKING:  # a working-tree lint loads no dulwich (see the module docstring)
    from dakora.registry.git import Snapshot


def run_lint(path: Path, ref: str | None, allow_empty: bool, json_: bool) -> int:
    """Lint ``path`` (or ``ref``) and print the result; the exit code (0 or 1).

    Errors of the registry are reported by ``cli_errors`` (and end the command)."""
    with cli_errors(json_):
        findings, count, target = _lint(path, ref)
        if count == 0 and not allow_empty:
            findings.append(_no_prompts(path))
        errors = sum(1 for f in findings if f.severity == "error")
        warnings = sum(1 for f in findings if f.severity == "warning")
        if json_:
            print_json(
                {
                    "ok": errors == 0,
                    "target": target,
                    "prompts": count,
                    "errors": errors,
                    "warnings": warnings,
                    "findings": [f.to_dict() for f in findings],
                }
            )
        else:
            # Info findings (e.g. "no git history") are remarks, not problems: stderr.
            for f in findings:
                if f.severity == "info":
                    note(f"{f.message} [{f.rule}]")
            print_findings([f for f in findings if f.severity != "info"])
            if count == 0 and allow_empty:
                note(f"no prompt files found in {path} (--allow-empty)")
            _print_lint_summary(count, errors, warnings)
    return 1 if errors else 0


def _sort_key(f: Finding) -> tuple[str, int, str, str]:
    return (f.path, f.line or 0, f.rule, f.message)


def _no_prompts(path: Path) -> Finding:
    """The error for a lint that found nothing to check (a mis-pointed CI job)."""
    return Finding.error(
        str(path),
        None,
        "no prompt files found: run lint on the repository root, the folder that "
        "holds prompts/ (and dakora.yaml), or pass --allow-empty if no prompts is "
        "expected",
        "no-prompts",
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _print_lint_summary(count: int, errors: int, warnings: int) -> None:
    checked = _plural(count, "prompt")
    if not errors and not warnings:
        summary = f"ok: {checked} checked, no problems"
        style = "green"
    else:
        summary = (
            f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')} "
            f"({checked} checked)"
        )
        style = "bold red" if errors else "yellow"
    if is_rich():
        make_console().print(f"[{style}]{summary}[/]")
    else:
        write_text(summary + "\n")


def _lint(path: Path, ref: str | None) -> tuple[list[Finding], int, str]:
    """(findings sorted, number of prompt files, what was checked)."""
    from dakora.registry.checks import check_snapshot

    if ref is None and locate(path)[0] == "no repository":
        return _lint_folder(path)  # known without dulwich
    try:
        repo = open_repo(path)
    except RepositoryNotFound:
        if ref is not None:
            raise
        return _lint_folder(path)

    if ref is None and repo.bare:
        note("a bare repository has no working tree: checking HEAD")
        ref = "HEAD"
    snapshot: Snapshot
    if ref is not None:
        commit = str(repo.resolve(ref))
        snapshot = repo.snapshot(commit)
        parent_commit = first_parent(repo, commit)
        target = f"{ref} ({commit[:12]})"
    else:
        snapshot = repo.working_tree()
        parent_commit = head_commit(repo)
        target = "working tree"
    parent = repo.snapshot(parent_commit) if parent_commit else None
    findings = check_snapshot(
        snapshot, parent=parent, version_lookup=version_lookup(repo)
    )
    return sorted(findings, key=_sort_key), len(snapshot.prompt_paths()), target


def _lint_folder(path: Path) -> tuple[list[Finding], int, str]:
    """A plain folder: no history, so the checks skip the version rules (and say so
    with an info finding)."""
    from dakora.registry.checks import check_snapshot

    snapshot = folder_snapshot(path)
    findings = check_snapshot(snapshot)
    return sorted(findings, key=_sort_key), len(snapshot.prompt_paths()), "folder"
