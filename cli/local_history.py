"""``dakora history`` and ``dakora diff``: a prompt's versions, and the diff of its
file between two versions or revisions; ``dakora history --ref-log REF``: every move
of a ref (``ref_log``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
from dakora.registry.core import BadRequest, NotFound

app = command_app()

if TYPE_CHECKING:  # runtime imports stay lazy: other commands start faster
    pass


@app.command()
def history(
    prompt_id: Annotated[
        str | None, typer.Argument(metavar="ID", help="The prompt id.")
    ] = None,
    repo: RepoOpt = Path("."),
    ref: Annotated[
        str | None,
        typer.Option(
            "--ref", help="Walk the history reachable from this ref (default HEAD)."
        ),
    ] = None,
    ref_log: Annotated[
        str | None,
        typer.Option(
            "--ref-log",
            metavar="REF",
            help="Instead of a prompt: every move of this ref (who, when, old -> new, "
            "source, accepted or rejected); from the server with --remote, else "
            "git's reflog.",
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=500, help="At most this many moves.")
    ] = 50,
    remote: Annotated[
        str | None,
        typer.Option(
            "--remote", metavar="URL", help="A Dakora server URL (with --ref-log)."
        ),
    ] = None,
    project: Annotated[
        str | None,
        typer.Option("--project", help="The server project; implies --remote."),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", help="API key for --remote (env DAKORA_API_KEY)."),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Every version of a prompt, newest first: version, commit, date, author, message."""
    if ref_log is not None:
        with cli_errors(json_):
            moves = _ref_moves(
                ref_log, prompt_id, ref, repo, limit, remote, project, api_key
            )
        from dakora.cli.ref_log import print_moves

        print_moves(moves, json_)
        return
    with cli_errors(json_):
        if prompt_id is None:
            raise BadRequest("give a prompt ID, or --ref-log REF for a ref's moves")
        if remote is not None or project is not None:
            raise BadRequest("--remote and --project go with --ref-log")
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


def _ref_moves(
    ref_log: str,
    prompt_id: str | None,
    ref: str | None,
    repo: Path,
    limit: int,
    remote: str | None,
    project: str | None,
    api_key: str | None,
) -> list[dict[str, Any]]:
    from dakora.cli.ref_log import local_moves, remote_moves

    if prompt_id is not None or ref is not None:
        raise BadRequest("--ref-log REF takes no prompt ID and no --ref")
    if remote is not None or project is not None:
        return remote_moves(remote, project, api_key, ref_log, limit)
    return local_moves(repo, ref_log, limit)


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
