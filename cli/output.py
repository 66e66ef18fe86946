"""Output helpers shared by the CLI commands.

One rule: Rich tables and colours on a terminal, plain text when piped (or when
``NO_COLOR`` is set), so scripts and ``grep`` see stable, undecorated lines. Machine
output (``--json``) and rendered prompts are written byte-exact with ``sys.stdout``;
diagnostics go to stderr. ``report`` is the one error seam of the CLI: it turns a
``DakoraError`` — or an SDK error of a remote command, translated by ``as_dakora_error``
into the registry's error tree — into a message (human or JSON) and an exit code: 2 for
bad input, 1 for anything else. ``cli_errors`` (inside a command) and ``run()`` (the
console script) both go through it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from dakora.registry.core import (
    AccessDenied,
    BadRequest,
    ConfigError,
    DakoraError,
    Finding,
    InputError,
    InputProblem,
    NotFound,
    ProjectNotFound,
    PromptNotFound,
    QuotaExceeded,
    RefNotFound,
    RenderError,
    StorageError,
    Unauthenticated,
)

if TYPE_CHECKING:  # Rich is imported when something is drawn for a terminal
    from rich.console import Console

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def command_exit(code: int) -> BaseException:
    """What a command raises to end with exit ``code``: ``typer.Exit`` when Typer runs
    the command (its runner and ``main.run`` handle it), ``SystemExit`` on the path of
    ``dakora lint`` and ``dakora render`` that imports no Typer (``cli/direct.py``)."""
    typer = sys.modules.get("typer")
    return SystemExit(code) if typer is None else typer.Exit(code)


def _stream(stderr: bool) -> TextIO:
    return sys.stderr if stderr else sys.stdout


def is_rich(stderr: bool = False) -> bool:
    """True when the stream is a terminal and colours are not disabled by NO_COLOR."""
    if os.environ.get("NO_COLOR"):
        return False
    stream = _stream(stderr)
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # closed stream
        return False


def make_console(stderr: bool = False) -> Console:
    """A Console bound to stdout/stderr: colours on a terminal, plain when piped.

    Built per call (cheap), so it always writes to the current ``sys.stdout`` (the
    test runner swaps it).
    """
    from rich.console import Console

    rich = is_rich(stderr)
    return Console(
        file=_stream(stderr),
        highlight=False,
        soft_wrap=True,
        no_color=not rich,
        force_terminal=rich,
        emoji=False,
    )


def write_text(text: str) -> None:
    """Write ``text`` to stdout exactly: no newline added, no markup interpreted."""
    out = sys.stdout
    try:
        out.write(text)
        out.flush()
    except BrokenPipeError:
        _quiet_broken_pipe()


def _quiet_broken_pipe() -> None:
    """The reader went away (``dakora render … | head``): stop quietly, as cat does."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (test runner)
        pass
    raise command_exit(141)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=_json_default)


def print_json(data: Any, *, stderr: bool = False) -> None:
    """Pretty JSON (UTF-8, 2-space indent) and a newline, never coloured."""
    stream = _stream(stderr)
    try:
        stream.write(dumps_json(data) + "\n")
        stream.flush()
    except BrokenPipeError:
        _quiet_broken_pipe()


def note(message: str) -> None:
    """A side remark on stderr (``note: …``), never mixed into stdout."""
    if not is_rich(stderr=True):
        sys.stderr.write(f"note: {message}\n")
        sys.stderr.flush()
        return
    from rich.markup import escape

    make_console(stderr=True).print(f"[dim]note:[/] {escape(message)}")


def print_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    title: str | None = None,
) -> None:
    """A Rich table on a terminal; aligned plain columns (two spaces apart) otherwise."""
    cells = [["" if c is None else str(c) for c in row] for row in rows]
    if is_rich():
        from rich.markup import escape
        from rich.table import Table

        table = Table(title=title, header_style="bold", show_lines=False)
        for name in columns:
            table.add_column(name, overflow="fold")
        for row in cells:
            table.add_row(*(escape(c) for c in row))
        make_console().print(table)
        return
    widths = [len(c) for c in columns]
    for row in cells:
        for i, cell in enumerate(row):
            first_line = cell.splitlines()[0] if cell else ""
            widths[i] = max(widths[i], len(first_line))
    lines = []
    for row in [list(columns), *cells]:
        parts = [
            (row[i].splitlines()[0] if row[i] else "").ljust(widths[i])
            for i in range(len(columns))
        ]
        lines.append("  ".join(parts).rstrip())
    write_text("\n".join(lines) + "\n")


def print_findings(findings: Sequence[Finding]) -> None:
    """One ``path:line: severity: message [rule]`` line per finding, on stdout."""
    if not is_rich():
        write_text("".join(f.format() + "\n" for f in findings))
        return
    from rich.markup import escape

    console = make_console()
    for f in findings:
        style = SEVERITY_STYLE.get(f.severity, "")
        console.print(
            f"[bold]{escape(f.where)}[/]: [{style}]{f.severity}[/]: "
            f"{escape(f.message)} [dim]\\[{escape(f.rule)}][/]"
        )


def print_diff(text: str) -> None:
    """A unified diff: coloured +/- lines on a terminal, byte-exact when piped."""
    if not is_rich():
        write_text(text)
        return
    from rich.markup import escape

    console = make_console()
    for line in text.splitlines():
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("@@"):
            style = "cyan"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        else:
            style = ""
        console.print(f"[{style}]{escape(line)}[/]" if style else escape(line))


def report_json_error(exc: DakoraError) -> int:
    """``{"error": {...}}`` on stderr (the API's error body) and the exit code."""
    print_json({"error": exc.to_dict()}, stderr=True)
    return exc.exit_code


# Top-level modules of the ``server`` extra (pyproject.toml): the server commands
# (serve, db, admin, mirror, restore, reindex, hook) import them; the local ones never.
SERVER_MODULES = frozenset(
    {
        "fastapi",
        "fastapi_offline",
        "starlette",
        "uvicorn",
        "sqlalchemy",
        "alembic",
        "psycopg2",
        "a2wsgi",
        "jwt",
        "prometheus_client",
        "azure",
        "mcp",
        "mcp_types",
    }
)


def missing_server_extra(exc: BaseException) -> ConfigError | None:
    """``pip install 'dakora[server]'`` for an import of a server dependency that is
    not installed (``pip install dakora`` is the SDK and the local commands only)."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    top = exc.name.split(".", 1)[0]
    if top not in SERVER_MODULES:
        return None
    return ConfigError(
        f"this command needs the server's dependencies ({top} is not installed): "
        "pip install 'dakora[server]'"
    )


def as_dakora_error(exc: BaseException) -> DakoraError | None:
    """The registry error for an exception the CLI reports: itself, or an SDK error
    (``dakora.client``'s, built from the server's error body) translated, message
    kept, or a missing server dependency; None for anything else."""
    if isinstance(exc, DakoraError):
        return exc
    missing = missing_server_extra(exc)
    if missing is not None:
        return missing
    sdk = sys.modules.get("dakora.client._errors")  # loaded if a remote call ran
    if sdk is None or not isinstance(exc, sdk.DakoraClientError):
        return None
    return _translate(exc)


def _translate(exc: Exception) -> DakoraError:
    e = sys.modules["dakora.client._errors"]
    if isinstance(exc, e.DakoraConnectionError):
        return StorageError(exc.message)
    if not isinstance(exc, e.DakoraAPIError):
        return BadRequest(str(exc))
    message = exc.message
    if isinstance(exc, e.InputError):
        problems = [
            InputProblem(
                name=str(p.get("input") or p.get("field") or "?"),
                message=str(p.get("message") or message),
                expected=p.get("expected"),
                value=p.get("value"),
            )
            for p in exc.problems
            if isinstance(p, Mapping)
        ]
        if exc.code == "invalid_inputs" and problems:
            return InputError(problems)
        return BadRequest(message)
    if isinstance(exc, e.NotFound):
        cls: type[NotFound] = {
            "project_not_found": ProjectNotFound,
            "prompt_not_found": PromptNotFound,
            "ref_not_found": RefNotFound,
        }.get(exc.code, NotFound)
        return cls(message)
    if isinstance(exc, e.AuthError):
        return AccessDenied(message) if exc.status == 403 else Unauthenticated(message)
    if isinstance(exc, e.RenderError):
        return RenderError(message)
    if isinstance(exc, e.RateLimited):
        return QuotaExceeded(message)
    if isinstance(exc, e.ServerError):
        return StorageError(f"the server failed ({exc.status}): {message}")
    return BadRequest(f"{message} ({exc.status} {exc.code})")


def report(exc: BaseException, json_mode: bool = False) -> int | None:
    """Print an error the CLI knows (human or JSON) and return its exit code; None
    for any other exception (the caller re-raises it)."""
    error = as_dakora_error(exc)
    if error is None:
        return None
    if json_mode:
        return report_json_error(error)
    from dakora.cli.main import report_error

    return report_error(error)


@contextmanager
def cli_errors(json_mode: bool = False) -> Iterator[None]:
    """Turn a ``DakoraError`` (or an SDK error) into stderr output and
    ``command_exit(exit_code)`` (``typer.Exit`` under Typer), through ``report``.

    The console script's ``run()`` does the same for anything that slips through; doing
    it here too keeps exit codes right under Typer's test runner and lets ``--json``
    commands report errors as JSON.
    """
    try:
        yield
    except Exception as exc:
        code = report(exc, json_mode)
        if code is None:
            raise
        raise command_exit(code) from None
