"""``dakora --help``: the command panels, drawn with a few Rich classes.

Typer draws help with ``typer.rich_utils``, whose import (Markdown, tracebacks, syntax
highlighting) costs more than the rest of ``dakora --help`` together. The root help
only shows a usage line, one paragraph, two options and the command table, so it is
drawn here in the same layout and styles (rounded panels titled on the left, options
in bold cyan, switches in bold green, usage in yellow); every other help screen is
Typer's own.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from rich.console import Console
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from typer import _click
from typer.core import TyperOption

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


def print_root_help(
    group: _click.Command,
    ctx: _click.Context,
    commands: Iterable[tuple[str, str, str]],
) -> None:
    """Usage, help, options and ``(name, panel, help)`` commands grouped by panel."""
    console = _console()
    usage = Text("Usage: ", style=STYLE_USAGE)
    usage.append(" ".join([ctx.command_path, *group.collect_usage_pieces(ctx)]))
    console.print(Padding(usage, 1), style="bold")
    if group.help:
        console.print(Padding(_inline(group.help.split("\n\n")[0]), (0, 1, 1, 1)))

    options = _grid()
    options.add_column(no_wrap=True)
    options.add_column(ratio=10)
    for param in group.get_params(ctx):
        if not isinstance(param, TyperOption) or param.hidden:
            continue
        long = ",".join(o for o in param.opts if o.startswith("--"))
        short = ",".join(
            o for o in [*param.opts, *param.secondary_opts] if o[:2] != "--"
        )
        options.add_row(
            Text(long, style=STYLE_OPTION),
            Text(short, style=STYLE_SWITCH),
            _inline(param.help or ""),
        )
    console.print(_panel("Options", options))

    rows = list(commands)
    width = max(len(name) for name, _, _ in rows)
    panels: dict[str, Table] = {}
    for name, panel, help_text in rows:
        if panel not in panels:
            panels[panel] = _grid(width)
            panels[panel].add_column(ratio=10)
        panels[panel].add_row(Text(name, style=STYLE_OPTION), _inline(help_text))
    for title, table in panels.items():
        console.print(_panel(title, table))
