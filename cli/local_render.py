"""``dakora render``: a prompt rendered from the working tree, a ref, a version, a
commit or a remote registry, with inputs from flags, a file or stdin.

The command's options and help for Typer; what it does is ``render_run.run_render``,
which ``cli/direct.py`` also calls without Typer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dakora.cli.commands import command_app
from dakora.cli.local_repo import JsonOpt, RefOpt, RepoOpt
from dakora.cli.render_run import (
    _check_one_selector,
    _coerce,
    _find_prompt,
    _InputsLoader,
    _read_inputs_file,
    _render,
    _render_remote,
    _select_snapshot,
    format_chat,
    run_render,
)

app = command_app()


@app.command()
def render(
    prompt_id: Annotated[str, typer.Argument(metavar="ID", help="The prompt id.")],
    repo: RepoOpt = Path("."),
    ref: RefOpt = None,
    version: Annotated[
        str | None,
        typer.Option(
            "--version", help="Render the commit that introduced this version."
        ),
    ] = None,
    commit: Annotated[
        str | None, typer.Option("--commit", help="Render at this commit sha.")
    ] = None,
    inputs: Annotated[
        list[str] | None,
        typer.Option(
            "-i",
            "--input",
            metavar="KEY=VALUE",
            help="An input as a string, coerced by its declared type. Repeatable.",
        ),
    ] = None,
    inputs_file: Annotated[
        str | None,
        typer.Option(
            "--inputs-file",
            metavar="FILE",
            help="A JSON (or .yaml/.yml) object of typed inputs; '-' reads stdin. "
            "-i values override it.",
        ),
    ] = None,
    json_: JsonOpt = False,
    remote: Annotated[
        str | None,
        typer.Option(
            "--remote",
            metavar="URL",
            help="Render on a Dakora server instead of the local repository.",
        ),
    ] = None,
    project: Annotated[
        str | None,
        typer.Option(
            "--project",
            help="Remote project (UUID or workspace/project); implies remote mode "
            "with DAKORA_URL or the `dakora link` server.",
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            help="Remote API key (default: DAKORA_API_KEY, then the saved link).",
        ),
    ] = None,
) -> None:
    """Render a prompt and print exactly the result.

    With no --ref/--version/--commit it renders the working tree, so you see edits
    before committing. Chat prompts print one block per message, headed by the role
    in square brackets (with --json: the list of role/content objects). With --remote
    (or --project) the server renders it, with the same output. Exit 2 for bad
    inputs, 1 for other errors.
    """
    run_render(
        prompt_id,
        repo,
        ref,
        version,
        commit,
        inputs or [],
        inputs_file,
        json_,
        remote,
        project,
        api_key,
    )


# This module's names and the ones it re-exports (mypy --strict checks imports
# against this list).
__all__ = [
    "_InputsLoader",
    "_check_one_selector",
    "_coerce",
    "_find_prompt",
    "_read_inputs_file",
    "_render",
    "_render_remote",
    "_select_snapshot",
    "app",
    "format_chat",
    "render",
    "run_render",
]
