"""The group that loads the modules of ``dakora`` commands on use.

``dakora --help`` lists every command from ``COMMANDS`` (name, help panel, one-line
help; in ``command_table``, imported by ``main.run`` without Typer) without importing
a command module; running a command imports only the module
that defines it. So ``dakora lint`` never imports the server's FastAPI, SQLAlchemy or
uvicorn, and ``dakora --help`` imports none of them either.

A command module defines ``app = command_app()`` and registers its commands (and
sub-groups) on it with the usual Typer decorators. ``tests/unit/test_cli_commands.py``
checks that every row of the table matches the command its module defines (same
one-line help), so the table cannot drift from the docstrings.

The two classes here also carry the help conventions every command shares: flags show
no ``<bool>`` type, options that take a value show their name as the metavar
(``--ref REF``, ``--data-dir DIR``) instead of ``<str>``, and help texts are Markdown (paragraphs wrap to
the terminal; `code` is styled, never printed with backticks).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import typer
from typer import _click
from typer.core import TyperCommand, TyperGroup, TyperOption

from dakora.cli.command_table import (  # noqa: F401  (re-exported)
    ABOUT,
    COMMANDS,
    CONTAINERS,
    LOCAL,
    MARKUP,
    REMOTE,
    SERVER,
    Spec,
)


def _tidy(params: list[_click.Parameter]) -> list[_click.Parameter]:
    """The shared metavar convention, applied to a command's parameters in place."""
    for param in params:
        if not isinstance(param, TyperOption) or param.metavar is not None:
            continue
        if param.is_flag or param.count:
            param.metavar = ""  # a switch takes no value: no "<bool>"
        elif not param.type_descriptor.is_choice:  # choices list themselves
            # the last word of the option: --database-url URL, --data-dir DIR
            param.metavar = (param.name or "value").rsplit("_", 1)[-1].upper()
    return params


class DakoraCommand(TyperCommand):
    """A Typer command with the shared help conventions."""

    def get_params(self, ctx: _click.Context) -> list[_click.Parameter]:
        return _tidy(super().get_params(ctx))


class DakoraGroup(TyperGroup):
    """A Typer group with the shared help conventions (its own options tidied)."""

    def get_params(self, ctx: _click.Context) -> list[_click.Parameter]:
        return _tidy(super().get_params(ctx))


class CommandApp(typer.Typer):
    """``typer.Typer`` whose commands and groups use the classes above."""

    def command(  # type: ignore[override]
        self,
        name: str | None = None,
        *,
        cls: type[TyperCommand] | None = None,
        **kw: Any,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return super().command(name, cls=cls or DakoraCommand, **kw)


def command_app(**kw: Any) -> typer.Typer:
    """The ``app`` (or a sub-group) of a command module."""
    kw.setdefault("cls", DakoraGroup)
    kw.setdefault("rich_markup_mode", MARKUP)
    kw.setdefault("add_completion", False)
    kw.setdefault("pretty_exceptions_enable", False)
    return CommandApp(**kw)


def _stub(name: str, spec: Spec) -> _click.Command:
    """What ``dakora --help`` lists for a command whose module is not loaded."""
    return TyperCommand(
        name,
        help=spec.help,
        rich_markup_mode=MARKUP,
        rich_help_panel=spec.panel,
    )


def load(name: str) -> _click.Command:
    """Import the module of a top-level command and build its click command."""
    spec = COMMANDS[name]
    module = importlib.import_module(spec.module)
    group = typer.main.get_group(module.app)
    command = group.commands.get(name)
    if command is None:
        raise LookupError(f"{spec.module}.app defines no command {name!r}")
    command.rich_help_panel = spec.panel  # type: ignore[attr-defined]
    return command


class LazyGroup(DakoraGroup):
    """The root group: lists ``COMMANDS`` from the table, imports a module on use.

    Until a command is looked up to run (or for its own help), ``self.commands``
    holds a stub for it, so "No such command … Did you mean …" knows every name.
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        for name, spec in COMMANDS.items():
            self.commands.setdefault(name, _stub(name, spec))
        self._loaded: set[str] = set()

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return list(COMMANDS) + [n for n in self.commands if n not in COMMANDS]

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self._loaded:
            self.commands[cmd_name] = load(cmd_name)
            self._loaded.add(cmd_name)
        return self.commands.get(cmd_name)

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        # drawn from the table: no command module imported, no typer.rich_utils (the
        # same screen main.run prints for `dakora --help` before importing Typer)
        from dakora.cli.root_help import print_root_help

        print_root_help(ctx.command_path)
