"""``dakora hook pre-receive`` (checks in an external git server) and ``dakora reindex``.

``hook pre-receive`` is meant to be run *by git*: install it as the ``pre-receive``
hook of a bare repository (plain git, Gitea, GitLab server hooks). It prints problems
as ``error: path:line: message`` on stderr (git shows them as ``remote:`` lines) and
exits 1 to reject the push.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from dakora.cli.commands import command_app
from dakora.cli.output import cli_errors

app = command_app()

hook_app = command_app(
    help="Entry points for git hooks of external git servers (plain git, Gitea, "
    "GitLab).",
    no_args_is_help=True,
)
app.add_typer(hook_app, name="hook")


@hook_app.command("pre-receive")
def pre_receive(
    repo: Annotated[
        Path | None,
        typer.Option(
            "--repo",
            help="The bare repository (default: $GIT_DIR, else the current directory, "
            "which is where git runs hooks).",
        ),
    ] = None,
    default_branch: Annotated[
        str | None,
        typer.Option(
            "--default-branch",
            help="The protected default branch (default: the branch HEAD names).",
        ),
    ] = None,
    max_file_bytes: Annotated[
        int | None,
        typer.Option("--max-file-bytes", help="Largest file a commit may add."),
    ] = None,
    max_files_per_commit: Annotated[
        int | None,
        typer.Option(
            "--max-files-per-commit",
            metavar="N",
            help="Most files one commit may change.",
        ),
    ] = None,
) -> None:
    """Check a push from git's pre-receive hook (reads `old new ref` lines on stdin)."""
    from dakora.hooks.pre_receive import run_pre_receive
    from dakora.registry.checks import PushLimits

    with cli_errors():
        path = repo or Path(os.environ.get("GIT_DIR") or ".")
        defaults = PushLimits()
        limits = PushLimits(
            max_file_bytes=max_file_bytes or defaults.max_file_bytes,
            max_files_per_commit=max_files_per_commit or defaults.max_files_per_commit,
        )

        def echo(line: str) -> None:
            sys.stderr.write(line + "\n")

        outcome = run_pre_receive(
            str(path),
            sys.stdin.read(),
            dict(os.environ),
            limits=limits,
            default_branch=default_branch,
            echo=echo,
        )
        sys.stderr.flush()
        if outcome.rejected:
            raise typer.Exit(1)


@app.command("reindex")
def reindex(
    project: Annotated[
        str | None,
        typer.Argument(help="WS/PROJECT to rebuild (default: every project)."),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", help="Data folder (default: DAKORA_DATA_DIR or ./.dakora)."
        ),
    ] = None,
) -> None:
    """Rebuild the prompt index (versions, heads, refs) from the repositories."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from dakora.cli.output import make_console
    from dakora.cli.server import build_settings
    from dakora.registry.db import make_engine
    from dakora.registry.index import index_project
    from dakora.registry.tenancy import get_project, list_projects

    with cli_errors():
        settings = build_settings(data_dir=data_dir)
        engine = make_engine(settings.database_url)
        try:
            targets = (
                [get_project(engine, project)] if project else list_projects(engine)
            )
            console = make_console(stderr=True)
            with Progress(
                TextColumn("[bold]reindex[/] {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=False,
            ) as bar:
                task = bar.add_task("projects", total=len(targets))
                for target in targets:
                    name = f"{target.workspace_slug}/{target.slug}"
                    bar.update(task, description=name)
                    index_project(engine, target.id)
                    bar.advance(task)
            console.print(f"reindexed {len(targets)} project(s)")
        finally:
            engine.dispose()
