"""The ``dakora`` console script: ``run()``, and the CLI's one error seam.

``dakora``, ``dakora --help`` and ``dakora -h`` print the root help straight from the
command table (``root_help``), without importing Typer, Click or any command module,
so they answer in about the time of a bare Python start plus Rich. A plain ``dakora
lint …`` or local ``dakora render …`` runs without Typer too (``direct``: the same
command functions, Typer's exit conventions; anything it does not parse exactly as
Click would goes to Typer). Everything else goes to the Typer app (``cli/app.py``, also importable here as ``main.app``), whose root
group imports a command's module only when that command runs (``commands.LazyGroup``).
Errors reach stderr and an exit code (2 for bad input, 1 for other failures) through
``output.report``.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dakora.registry.core import DakoraError

_ROOT_HELP_ARGS: tuple[list[str], ...] = ([], ["--help"], ["-h"])


def __getattr__(name: str) -> Any:
    if name == "app":
        from dakora.cli.app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


def _root_help(no_args: bool) -> None:
    """The root help without Typer; exit codes as Click's (0, or 2 for no arguments;
    1 when stdout is closed early, as in ``dakora --help | head -1``)."""
    from dakora.cli.root_help import print_root_help

    try:
        print_root_help(os.path.basename(sys.argv[0]) or "dakora")
        if not no_args:
            sys.stdout.write("\n")  # Click's echo of the (empty) help text
        sys.stdout.flush()
        gc.freeze()  # as in run(): no cycle collection at exit
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
    sys.exit(2 if no_args else 0)


def run() -> None:
    """Console-script entry point."""
    args = sys.argv[1:]
    if args in _ROOT_HELP_ARGS:
        _root_help(no_args=not args)
    from dakora.cli.direct import direct_call

    call = direct_call(args)
    if call is None:
        from dakora.cli.app import app

        call = app
    run_app(call)


def run_app(call: Callable[[], Any]) -> None:
    """Run the Typer ``app`` (or a ``direct`` command, which exits the same way) with
    the CLI's error seam: a known error is printed and becomes its exit code."""
    from dakora.cli.output import report

    try:
        call()
    except Exception as exc:
        code = report(exc)
        if code is None:
            raise
        sys.exit(code)
    finally:
        # Done: the interpreter's exit would now run the cycle collector over every
        # object the imports made (Pydantic, Typer, Jinja2), a fifth of a `dakora
        # lint`; frozen objects are skipped. atexit handlers and flushing still run.
        gc.freeze()
