"""The ``dakora`` Typer app: the root group, ``--version`` and ``-h``.

The commands are listed in ``commands.COMMANDS`` and their modules imported only when
one is run (``commands.LazyGroup``), so ``dakora --help`` starts without importing the
server, the database or the prompt model. ``run()`` is the console-script entry point;
errors reach stderr and an exit code (2 for bad input, 1 for other failures) through
``output.report``, the CLI's one error seam.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from dakora.cli.commands import MARKUP, LazyGroup
from dakora.registry.core import DakoraError

app = typer.Typer(
    name="dakora",
    help="Dakora: a git-backed prompt registry. Prompts are YAML in git; "
    "every write is checked.",
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=MARKUP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        sys.stdout.write(f"dakora {version('dakora')}\n")
        raise typer.Exit()


@app.callback()
def _root(
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    pass


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
    from dakora.cli.output import report

    try:
        app()
    except Exception as exc:
        code = report(exc)
        if code is None:
            raise
        sys.exit(code)
