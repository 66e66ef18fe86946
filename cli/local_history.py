"""``dakora history`` and ``dakora diff``: a prompt's versions, and the diff of its
file between two versions or revisions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dakora.cli.commands import command_app
from dakora.cli.local_repo import JsonOpt, RepoOpt, open_repo
from dakora.cli.output import (
    cli_errors,
    note,
    print_diff,
    print_json,
    print_table,
)
from dakora.registry.core import NotFound

app = command_app()

if TYPE_CHECKING:  # runtime imports stay lazy: other commands start faster
    pass


@app.command()
def history(
    prompt_id: Annotated[str, typer.Argument(metavar="ID", help="The prompt id.")],
    repo: RepoOpt = Path("."),
    ref: Annotated[
        str | None,
        typer.Option(
            "--ref", help="Walk the history reachable from this ref (default HEAD)."
        ),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Every version of a prompt, newest first: version, commit, date, author, message."""
    with cli_errors(json_):
        prompt_repo = open_repo(repo)
        versions = prompt_repo.history(prompt_id, ref or "HEAD")
        if not versions:
            raise NotFound(f"prompt '{prompt_id}' has no history at {ref or 'HEAD'}")
    if json_:
        print_json(
            [
                {
                    "id": v.prompt_id,
                    "version": v.version,
                    "commit": v.commit,
                    "path": v.path,
                    "blob_sha": v.blob_sha,
                    "author": v.author,
                    "committed_at": v.committed_at.isoformat(),
                    "message": v.message,
                }
                for v in versions
            ]
        )
        return
    rows = [
        [
            v.version,
            v.commit[:12],
            v.committed_at.strftime("%Y-%m-%d %H:%M"),
            v.author.split(" <")[0],  # the name; --json has "Name <email>"
            (v.message.strip().splitlines() or [""])[0],
        ]
        for v in versions
    ]
    print_table(["VERSION", "COMMIT", "DATE (UTC)", "AUTHOR", "MESSAGE"], rows)


@app.command()
def diff(
    prompt_id: Annotated[str, typer.Argument(metavar="ID", help="The prompt id.")],
    from_: Annotated[
        str, typer.Argument(metavar="FROM", help="A version (1.2.0) or a ref/commit.")
    ],
    to: Annotated[str, typer.Argument(metavar="TO", help="A version or a ref/commit.")],
    repo: RepoOpt = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Unified diff of a prompt file between two versions or refs."""
    with cli_errors(json_):
        text = open_repo(repo).diff(prompt_id, from_, to)
    if json_:
        print_json({"id": prompt_id, "from": from_, "to": to, "diff": text})
        return
    if not text:
        note(f"no differences in '{prompt_id}' between {from_} and {to}")
        return
    print_diff(text)
