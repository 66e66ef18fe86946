"""The ``dakora`` Typer app: wires the command modules together.

Every command module registers on ``app`` (or adds a sub-Typer to it); ``run()`` is the
console-script entry point; errors reach stderr and an exit code (2 for bad input, 1 for
other failures) through ``output.report``, the CLI's one error seam.
"""

from __future__ import annotations

import sys

import typer

from dakora.registry.core import DakoraError

app = typer.Typer(
    name="dakora",
    help="Dakora: a git-backed prompt registry. Prompts are YAML in git; "
    "every write is checked.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def report_error(exc: DakoraError) -> int:
    """Print a DakoraError for a person (stderr) and return its exit code."""
    from rich.console import Console
    from rich.markup import escape

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    details: list[str] = [f.format() for f in getattr(exc, "findings", [])]
    if details and exc.message in details:
        # the message is a finding, already "path:line: error: … [rule]": print the
        # findings as `dakora lint` does, not "error: path:line: error: …"
        for line in details:
            console.print(escape(line))
        return exc.exit_code
    console.print(f"[bold red]error:[/] {escape(exc.message)}")
    details += [p.message for p in getattr(exc, "problems", [])]
    if len(details) > 1:
        for line in details:
            console.print(f"  {escape(line)}")
    return exc.exit_code


def run() -> None:
    """Console-script entry point."""
    from dakora.cli import commands  # noqa: F401  (registers the commands)
    from dakora.cli.output import report

    try:
        app()
    except Exception as exc:
        code = report(exc)
        if code is None:
            raise
        sys.exit(code)
