"""``dakora lint``: the checks on a working tree or a ref, as text or JSON, with a
summary line; exits 1 when there is an error.

The command's options and help for Typer; what it does is ``lint_run.run_lint``, which
``cli/direct.py`` also calls without Typer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dakora.cli.commands import command_app
from dakora.cli.lint_run import (  # noqa: F401  (re-exported)
    _lint,
    _no_prompts,
    _print_lint_summary,
    _sort_key,
    run_lint,
)
from dakora.cli.local_repo import JsonOpt, RefOpt

app = command_app()


@app.command()
def lint(
    path: Annotated[
        Path,
        typer.Argument(
            help="The prompt repository (or a folder inside one).", show_default="."
        ),
    ] = Path("."),
    ref: RefOpt = None,
    allow_empty: Annotated[
        bool,
        typer.Option(
            "--allow-empty",
            help="Pass when there are no prompt files (by default that is an error: "
            "a lint pointed at the wrong folder must not pass).",
        ),
    ] = False,
    json_: JsonOpt = False,
) -> None:
    """Check prompts: the working tree (and version rules against HEAD) or a ref.

    Prints `path:line: error|warning: message [rule]`; exits 1 when there are errors,
    and when no prompt file was found (unless `--allow-empty`).
    """
    code = run_lint(path, ref, allow_empty, json_)
    if code:
        raise typer.Exit(code)
