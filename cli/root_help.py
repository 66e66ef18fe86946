"""``dakora --help``: the command panels, drawn with a few Rich classes.

Typer draws help with ``typer.rich_utils``, whose import (Markdown, tracebacks, syntax
highlighting) costs more than the rest of ``dakora --help`` together, and importing
Typer itself costs as much again. The root help only shows a usage line, one paragraph,
two options and the command table, all of it in ``command_table``, so it is drawn here
from that table alone — no Typer, no Click — in the same layout and styles (rounded
panels titled on the left, options in bold cyan, switches in bold green, usage in
yellow); every other help screen is Typer's own. ``main.run`` calls it for
``dakora``, ``dakora --help`` and ``dakora -h`` before importing Typer; the root group
(``commands.LazyGroup``) calls it for any other way of asking for the root help.
"""

from __future__ import annotations

import os
import re

from rich.console import Console
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dakora.cli.command_table import COMMANDS, ROOT_HELP, ROOT_OPTIONS, ROOT_USAGE

STYLE_OPTION = "bold cyan"
STYLE_SWITCH = "bold green"
STYLE_USAGE = "yellow"
STYLE_BORDER = "dim"


def _console() -> Console:
    # Typer's console settings: TERMINAL_WIDTH caps the width; FORCE_COLOR and
    # friends force colours, NO_COLOR (read by Rich) turns them off.
    width = os.environ.get("TERMINAL_WIDTH")
    force = bool(
        os.environ.get("GITHUB_ACTIONS")
        or os.environ.get("FORCE_COLOR")
        or os.environ.get("PY_COLORS")
    )
    return Console(
        width=int(width) if width else None,
        force_terminal=True if force else None,
        highlight=False,
    )


def _inline(text: str) -> Text:
    """Text with `code` spans styled (and their backticks dropped), as Markdown does."""
    out = Text()
    for i, part in enumerate(re.split(r"`([^`]+)`", " ".join(text.split()))):
        out.append(part, style="bold" if i % 2 else "")
    return out


def _panel(title: str, table: Table) -> Panel:
    return Panel(table, border_style=STYLE_BORDER, title=title, title_align="left")


def _grid(first_width: int | None = None) -> Table:
    table = Table(
        highlight=False,
        show_header=False,
        expand=True,
        box=None,
        pad_edge=False,
        padding=(0, 1),
    )
    table.add_column(no_wrap=True, width=first_width)
    return table


def print_root_help(prog: str = "dakora") -> None:
    """Usage, help, options and the commands of ``COMMANDS`` grouped by panel."""
    console = _console()
    usage = Text("Usage: ", style=STYLE_USAGE)
    usage.append(f"{prog} {ROOT_USAGE}")
    console.print(Padding(usage, 1), style="bold")
    console.print(Padding(_inline(ROOT_HELP), (0, 1, 1, 1)))

    options = _grid()
    options.add_column(no_wrap=True)
    options.add_column(ratio=10)
    for long, short, help_text in ROOT_OPTIONS:
        options.add_row(
            Text(long, style=STYLE_OPTION),
            Text(short, style=STYLE_SWITCH),
            _inline(help_text),
        )
    console.print(_panel("Options", options))

    width = max(len(name) for name in COMMANDS)
    panels: dict[str, Table] = {}
    for name, spec in COMMANDS.items():
        if spec.panel not in panels:
            panels[spec.panel] = _grid(width)
            panels[spec.panel].add_column(ratio=10)
        panels[spec.panel].add_row(Text(name, style=STYLE_OPTION), _inline(spec.help))
    for title, table in panels.items():
        console.print(_panel(title, table))
