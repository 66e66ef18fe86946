"""``dakora version``: the installed package's version; with ``--json`` also the
versions of Python, git (the CLI on ``PATH``) and dulwich, for bug reports."""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from typing import Annotated

import typer

from dakora.cli.commands import command_app
from dakora.cli.output import make_console, print_json

app = command_app()

GIT_VERSION = re.compile(r"git version (\S+)")


def package_version(name: str) -> str | None:
    """An installed distribution's version, or None when it is not installed."""
    try:
        return dist_version(name)
    except PackageNotFoundError:
        return None


def git_version() -> str | None:
    """The version of the ``git`` on PATH (``2.39.5``), or None without one."""
    exe = shutil.which("git")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = GIT_VERSION.search(out)
    return match[1] if match else None


def versions() -> dict[str, str | None]:
    return {
        "dakora": package_version("dakora"),
        "python": platform.python_version(),
        "git": git_version(),
        "dulwich": package_version("dulwich"),
    }


@app.command("version")
def version_cmd(
    json_out: Annotated[
        bool,
        typer.Option(
            "--json", help="Also the versions of Python, git and dulwich, as JSON"
        ),
    ] = False,
) -> None:
    """Print Dakora's version (with --json also Python, git and dulwich)."""
    if json_out:
        print_json(versions())
        return
    make_console().print(f"dakora {package_version('dakora') or 'unknown'}")
