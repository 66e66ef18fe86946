"""The ``dakora`` Typer app: the root group and ``--version``.

The commands are listed in ``command_table.COMMANDS`` and their modules imported only
when one is run (``commands.LazyGroup``). ``main.run`` (the console script) imports this
module only when it has more to do than print the root help.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from dakora.cli.command_table import MARKUP, ROOT_HELP, VERSION_HELP
from dakora.cli.commands import LazyGroup

app = typer.Typer(
    name="dakora",
    help=ROOT_HELP,
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
            help=VERSION_HELP,
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    pass
