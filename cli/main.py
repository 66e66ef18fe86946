"""The ``dakora`` Typer app: wires the command modules together.

Every command module registers on ``app``; ``run()`` is the console-script entry point
and the one place that turns a ``DakoraError`` into a message and an exit code.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="dakora",
    help="Dakora: a git-backed prompt registry. Prompts are YAML in git; "
    "every write is checked.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def run() -> None:
    """Console-script entry point."""
    from dakora.cli import commands  # noqa: F401  (registers the commands)

    app()
