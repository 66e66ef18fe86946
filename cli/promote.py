"""``dakora promote ID [ID…] --from REF --to BRANCH``: move exactly these prompts (and
the parts they include) onto a branch, as one commit (docs/promotion.md).

Local by default: the commit is built in the repository at ``--repo`` and goes through
the receive pipeline's checks (``dakora.hooks.promote``: version rules against the
target and every ref, protected refs, limits, shared parts) before the local ref is
compare-and-swapped, with a reflog line ``dakora promote: …``. With ``--remote`` (or
``--project``) the server does it: ``POST /api/projects/{project}/promote``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer

from dakora.cli.commands import command_app
from dakora.cli.local_repo import JsonOpt, RepoOpt, open_repo, run_git
from dakora.cli.output import cli_errors, print_findings, print_json, write_text
from dakora.registry.core import (
    BadRequest,
    ConfigError,
    Finding,
    InvalidPrompt,
    StorageError,
)

app = command_app()


@app.command("promote")
def promote_command(
    prompt_ids: Annotated[
        list[str], typer.Argument(metavar="ID...", help="The prompts to promote.")
    ],
    from_: Annotated[
        str, typer.Option("--from", help="The source branch or tag, e.g. main.")
    ],
    to: Annotated[
        str,
        typer.Option("--to", help="The target branch, e.g. production (must exist)."),
    ],
    repo: RepoOpt = Path("."),
    allow_shared_parts: Annotated[
        bool,
        typer.Option(
            "--allow-shared-parts",
            help="Promote even when a changed part is also included by prompts of "
            "the target that are not promoted (their output changes there; "
            "reported as warnings).",
        ),
    ] = False,
    message: Annotated[
        str | None,
        typer.Option(
            "--message", "-m", help="Commit message (the generated one is appended)."
        ),
    ] = None,
    remote: Annotated[
        str | None,
        typer.Option(
            "--remote",
            metavar="URL",
            help="A Dakora server URL: promote there (needs --project).",
        ),
    ] = None,
    project: Annotated[
        str | None,
        typer.Option("--project", help="The server project; implies --remote."),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key", help="A write key for --remote (env DAKORA_API_KEY)."
        ),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Promote prompts (and the parts they include) from one ref onto a branch, as one
    checked commit."""
    with cli_errors(json_):
        body = {
            "prompts": prompt_ids,
            "from": from_,
            "to": to,
            "allow_shared_parts": allow_shared_parts,
            "message": message,
        }
        if remote is not None or project is not None:
            result = remote_promote(remote, project, api_key, body)
        else:
            result = local_promote(repo, body)
    if json_:
        print_json(result)
        return
    print_result(result)


def print_result(result: dict[str, Any]) -> None:
    """What moved, in words; warnings as ``path: warning: …`` lines."""
    lines = []
    if not result["changed"]:
        lines.append(
            f"{result['to']} has these already: nothing to promote "
            f"({result['commit'][:12]})"
        )
    else:
        parent = (result["parent"] or "")[:12]
        lines.append(
            f"promoted {result['from']} -> {result['to']}: "
            f"{parent}..{result['commit'][:12]}"
        )
    for p in result["prompts"]:
        before = p["previous_version"] or "new"
        state = "" if p["changed"] else " (unchanged)"
        lines.append(f"  prompt {p['id']}: {before} -> {p['version']}{state}")
    for part in result["parts"]:
        if part["status"] != "unchanged":
            lines.append(f"  part {part['name']}: {part['status']} ({part['path']})")
        if part["shared_with"]:
            lines.append(f"    also included by: {', '.join(part['shared_with'])}")
    write_text("\n".join(lines) + "\n")
    findings = [Finding(**f) for f in result.get("findings", [])]
    if findings:
        print_findings(findings)


def remote_promote(
    url: str | None, project: str | None, api_key: str | None, body: dict[str, Any]
) -> dict[str, Any]:
    """``POST /api/projects/{project}/promote`` on a Dakora server."""
    import httpx

    from dakora.client.config import resolve_remote

    url, api_key, project = resolve_remote(url, api_key, project)
    if url is None or not project:
        raise BadRequest(
            "--remote needs a server URL and --project (or DAKORA_URL and "
            "DAKORA_PROJECT, or a saved `dakora link`)"
        )
    segment = project.replace("/", "~")  # ws/slug is spelled ws~slug in URLs
    endpoint = f"{url}/api/projects/{segment}/promote"
    headers = {"Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    try:
        response = httpx.post(endpoint, json=body, headers=headers, timeout=120.0)
    except httpx.HTTPError as exc:
        raise StorageError(f"cannot reach {url}: {exc}") from exc
    if response.status_code != 200:
        _raise_remote(response)
    try:
        data: dict[str, Any] = response.json()
        data["changed"]  # noqa: B018 - the shape check
    except (ValueError, KeyError, TypeError) as exc:
        raise StorageError(f"{endpoint} did not answer with a promotion") from exc
    return data


def _raise_remote(response: Any) -> None:
    """The server's error: a refused promotion as the same findings a local one
    prints (exit 1); anything else as the SDK's error."""
    try:
        error = response.json()["error"]
        findings = [Finding(**f) for f in error.get("findings") or []]
    except (ValueError, KeyError, TypeError):
        error, findings = {}, []
    if error.get("code") == "invalid_prompt" and findings:
        raise InvalidPrompt(findings)
    from dakora.client._errors import error_from_response

    raise error_from_response(response)


def _git_identity(path: Path) -> tuple[str, str]:
    """Who commits, as git would say it (GIT_COMMITTER_* or user.name/email)."""
    proc = run_git(["var", "GIT_COMMITTER_IDENT"], path)
    found = re.match(r"^(.*?) <([^>]*)>", proc.stdout.strip())
    if proc.returncode != 0 or found is None or not found[1] or not found[2]:
        raise ConfigError(
            "git has no user.name/user.email: set them "
            '(git config --global user.name "Ada"; git config --global user.email '
            "ada@example.com) so the promotion commit has an author"
        )
    return found[1], found[2]


def local_promote(repo_path: Path, body: dict[str, Any]) -> dict[str, Any]:
    """The promotion in the local repository (see ``local_promote_run``)."""
    from dakora.cli.promote_local import local_promote_run

    prompt_repo = open_repo(repo_path)
    with prompt_repo:
        name, email = _git_identity(prompt_repo.root or repo_path)
        return local_promote_run(prompt_repo, body, name, email)
