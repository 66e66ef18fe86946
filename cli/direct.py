"""``dakora lint`` and ``dakora render`` without Typer: the console script's fast path.

Typer costs a lint or a render more than the command's own work: importing Typer and
building a Pydantic type adapter for every parameter of the command on each run. So
``main.run`` first asks ``direct_call`` whether the arguments are a plain, valid
invocation of ``lint`` or of a local ``render``; if they are, the command runs straight
from ``lint_run.run_lint`` / ``render_run.run_render`` (the same functions the Typer
commands call), and Typer is never imported. Anything else (``--help``, a typo, a
missing value, an option given twice, ``--``, ``render --remote``, shell completion)
goes to the Typer app as before, so every message and exit code of Click's parser
stays Click's own: this module never prints a usage error, it only declines.

What a command accepts here (``LINT``, ``RENDER``) is checked against the Typer
commands' real parameters by ``tests/unit/test_cli_direct.py``, so the two cannot
drift. Exit handling follows Typer's ``_main`` (``typer/core.py``): exit 0 after the
command, ``Ctrl-C`` exits 130, a closed stdout (``EPIPE``) exits 1 quietly.
"""

from __future__ import annotations

import errno
import gc
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn


@dataclass(frozen=True)
class Opt:
    """One option as Typer declares it: the parameter it sets, and how."""

    dest: str
    flag: bool = False  # a switch: no value, ``True`` when given
    multiple: bool = False  # repeatable: a list of values


@dataclass(frozen=True)
class Spec:
    """The arguments and options a command accepts on the direct path."""

    arguments: tuple[str, ...]  # positional parameters, in order
    required: int  # how many of them must be given
    options: dict[str, Opt] = field(default_factory=dict)
    paths: frozenset[str] = frozenset()  # parameters Typer converts to ``Path``
    defaults: dict[str, Any] = field(default_factory=dict)
    # the modules every run of the command imports (see ``_import_quietly``)
    imports: tuple[str, ...] = ()


LINT = Spec(
    arguments=("path",),
    required=0,
    options={
        "--ref": Opt("ref"),
        "--allow-empty": Opt("allow_empty", flag=True),
        "--json": Opt("json_", flag=True),
    },
    paths=frozenset({"path"}),
    defaults={"path": Path("."), "ref": None, "allow_empty": False, "json_": False},
    imports=("dakora.cli.lint_run", "dakora.registry.checks"),
)

# ``--remote``, ``--project`` and ``--api-key`` are left to Typer: a remote render
# imports the SDK (and the ``link`` command module) and waits for the network anyway.
RENDER = Spec(
    arguments=("prompt_id",),
    required=1,
    options={
        "--repo": Opt("repo"),
        "--ref": Opt("ref"),
        "--version": Opt("version"),
        "--commit": Opt("commit"),
        "-i": Opt("inputs", multiple=True),
        "--input": Opt("inputs", multiple=True),
        "--inputs-file": Opt("inputs_file"),
        "--json": Opt("json_", flag=True),
    },
    paths=frozenset({"repo"}),
    defaults={
        "repo": Path("."),
        "ref": None,
        "version": None,
        "commit": None,
        "inputs": [],
        "inputs_file": None,
        "json_": False,
    },
    imports=("dakora.cli.render_run", "dakora.registry.render"),
)

SPECS: dict[str, Spec] = {"lint": LINT, "render": RENDER}


def parse(spec: Spec, tokens: Sequence[str]) -> dict[str, Any] | None:
    """The command's parameters from ``tokens`` as Click would set them, or None for
    anything this parser does not handle exactly like Click (Typer then parses).

    Declined: unknown options (``--help`` included), ``--``, an option without its
    value, a value that is empty or looks like an option (``-`` alone is a value), a
    single-valued option or a switch given twice, ``--switch=value``, empty or ``-``
    positionals, too few or too many positionals.
    """
    values: dict[str, Any] = {}
    positional: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token.startswith("--"):
            name, eq, attached = token.partition("=")
            option = spec.options.get(name)
            if option is None:  # also "--" and "--help"
                return None
            if option.flag:
                if eq:
                    return None
                value: str | bool = True
            elif eq:
                value = attached
            elif i < len(tokens):
                value = tokens[i]
                i += 1
            else:
                return None
        elif token.startswith("-") and token != "-":
            # the only short option is -i (which takes a value): -iVALUE or -i VALUE
            option = spec.options.get(token[:2])
            if option is None or option.flag:
                return None
            if len(token) > 2:
                value = token[2:]
            elif i < len(tokens):
                value = tokens[i]
                i += 1
            else:
                return None
        else:
            if token in ("", "-"):
                return None
            positional.append(token)
            continue
        if isinstance(value, str) and (
            not value or (value.startswith("-") and value != "-")
        ):
            return None
        if option.multiple:
            values.setdefault(option.dest, []).append(value)
        elif option.dest in values:
            return None
        else:
            values[option.dest] = value
    if not spec.required <= len(positional) <= len(spec.arguments):
        return None
    values.update(zip(spec.arguments, positional, strict=False))
    for name in spec.paths:
        if name in values:
            values[name] = Path(values[name])
    return {**spec.defaults, **values}


def _completion_requested() -> bool:
    """Click's shell completion (``_DAKORA_COMPLETE=…``) is Typer's business."""
    return any(k.startswith("_") and k.endswith("_COMPLETE") for k in os.environ)


def direct_call(args: Sequence[str]) -> Callable[[], NoReturn] | None:
    """A callable that runs ``args`` as ``lint``/``render`` and exits like Typer's
    ``app()``, or None when Typer must handle them."""
    if not args or args[0] not in SPECS or _completion_requested():
        return None
    params = parse(SPECS[args[0]], args[1:])
    if params is None:
        return None
    command = args[0]

    def call() -> NoReturn:
        _import_quietly(SPECS[command].imports)
        if command == "lint":
            from dakora.cli.lint_run import run_lint

            _exit_like_typer(lambda: run_lint(**params))
        from dakora.cli.render_run import run_render

        _exit_like_typer(
            lambda: run_render(remote=None, project=None, api_key=None, **params)
        )

    return call


def _import_quietly(modules: Sequence[str]) -> None:
    """Import ``modules`` with the cycle collector off, then freeze what they made.

    Imports allocate hundreds of thousands of long-lived objects (Pydantic's schemas,
    Jinja2's and dulwich's modules) and the collector would scan them again and again
    while they load, for nothing: module objects are not garbage. Frozen, the later
    collections (the command's own work) skip them. ``main.run_app`` freezes the rest
    at exit for the same reason.
    """
    gc.disable()
    try:
        for name in modules:
            importlib.import_module(name)
    finally:
        gc.freeze()
        gc.enable()


def _exit_like_typer(command: Callable[[], int | None]) -> NoReturn:
    """Run ``command`` and exit as Typer's ``_main`` does in standalone mode."""
    try:
        code = command()
    except EOFError:
        from typer import rich_utils  # Typer's "Aborted" (rare: costs Typer then)

        sys.stderr.write("\n")
        sys.stderr.flush()
        rich_utils.rich_abort_error()
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        from typer._click.utils import PacifyFlushWrapper

        sys.stdout = PacifyFlushWrapper(sys.stdout)
        sys.stderr = PacifyFlushWrapper(sys.stderr)
        sys.exit(1)
    sys.exit(code or 0)
