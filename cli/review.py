"""``dakora review [BASE] [HEAD]``: what a pull request changes for the callers.

Local by default (any git revisions of the repository at ``--repo``); with ``--remote``
it asks a Dakora server's compare endpoint for refs pushed there. Output formats:
``text`` (Rich on a terminal, plain when piped), ``markdown`` (a PR comment) and
``json`` (``docs/review-schema.md``). Exit code 0 when clean, 1 when a finding at the
``--fail-on`` level (or above) is present.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

import typer

from dakora.cli.commands import command_app
from dakora.cli.output import (
    cli_errors,
    write_text,
)
from dakora.registry.core import (
    BadRequest,
    DakoraError,
    StorageError,
)

app = command_app()

if TYPE_CHECKING:  # the review machinery (Jinja2, checks) loads only when used
    from dakora.registry.core import CommitSha, Finding
    from dakora.registry.git import Snapshot
    from dakora.registry.review import ReviewReport


class OutputFormat(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


class FailOnLevel(StrEnum):
    error = "error"
    breaking = "breaking"
    risky = "risky"
    never = "never"


@app.command("review")
def review_command(
    base: str | None = typer.Argument(
        None,
        help="BASE revision (branch, tag, sha…). Default: the default branch from "
        "dakora.yaml, or main.",
    ),
    head: str | None = typer.Argument(
        None, help="HEAD revision. Default: HEAD (or the working tree)."
    ),
    repo: str = typer.Option(
        ".", "--repo", help="The repository (or a folder inside one)."
    ),
    fmt: OutputFormat = typer.Option(
        OutputFormat.text, "--format", help="text (Rich), markdown (PR comment), json."
    ),
    fail_on: FailOnLevel = typer.Option(
        FailOnLevel.breaking,
        "--fail-on",
        help="Exit 1 on findings at this level or above: error, breaking (errors + "
        "breaking changes without a major bump), risky, never.",
    ),
    allow_removals: bool = typer.Option(
        False, "--allow-removals", help="A removed prompt does not block."
    ),
    working_tree: bool = typer.Option(
        False,
        "--working-tree",
        help="Compare BASE with the working tree (uncommitted edits) instead of HEAD.",
    ),
    merge_base: bool = typer.Option(
        False,
        "--merge-base",
        help="Compare from the merge base of BASE and HEAD (what a pull request "
        "shows when BASE moved on since the branch was made).",
    ),
    remote: str | None = typer.Option(
        None,
        "--remote",
        metavar="URL",
        help="A Dakora server URL: review refs pushed there (needs --project).",
    ),
    project: str | None = typer.Option(
        None, "--project", help="The server project (with --remote)."
    ),
    api_key: str | None = typer.Option(
        None,
        "--api-key",
        envvar="DAKORA_API_KEY",
        help="API key for --remote (env DAKORA_API_KEY).",
    ),
) -> None:
    """Review prompt changes between two revisions (a PR): versions, input
    compatibility, rendered before/after, parts, lint."""
    with cli_errors(json_mode=fmt is OutputFormat.json):
        if remote is not None:
            if working_tree or merge_base:
                raise BadRequest(
                    "--working-tree and --merge-base cannot be used with --remote"
                )
            from dakora.client.config import resolve_remote

            # the key and project may come from DAKORA_API_KEY / DAKORA_PROJECT or
            # the saved `dakora link` of the same server
            remote, api_key, project = resolve_remote(remote, api_key, project)
            if not project or remote is None:
                raise BadRequest("--remote needs --project")
            if not head:
                raise BadRequest(
                    "--remote needs a HEAD revision (the branch pushed for review)"
                )
            report = remote_review(
                remote,
                project,
                base=base,
                head=head,
                fail_on=fail_on.value,
                allow_removals=allow_removals,
                api_key=api_key,
            )
        else:
            if project is not None:
                raise BadRequest("--project needs --remote")
            report = local_review(
                repo,
                base=base,
                head=head,
                fail_on=fail_on.value,
                allow_removals=allow_removals,
                working_tree=working_tree,
                merge_base=merge_base,
            )
        from dakora.registry.review import to_json, to_markdown

        if fmt is OutputFormat.json:
            write_text(to_json(report))
        elif fmt is OutputFormat.markdown:
            write_text(to_markdown(report))
        else:
            from dakora.cli.review_text import print_text

            print_text(report)
    if report.blocking:
        raise typer.Exit(1)


def local_review(
    repo: str,
    *,
    base: str | None,
    head: str | None,
    fail_on: str = "breaking",
    allow_removals: bool = False,
    working_tree: bool = False,
    merge_base: bool = False,
) -> ReviewReport:
    """Review two revisions of a local repository (HEAD may be the working tree)."""
    from dakora.registry.core import render_timeout_from_env
    from dakora.registry.git import PromptRepository
    from dakora.registry.render import Renderer
    from dakora.registry.review import review

    renderer = Renderer(timeout_ms=render_timeout_from_env())
    lint: list[Finding] | None = None
    head_snap: Snapshot
    with PromptRepository.open(repo) as repository:
        if working_tree:
            if head is not None:
                raise BadRequest(
                    "give either a HEAD revision or --working-tree, not both"
                )
            head_snap = repository.working_tree()
            head_rev = "working tree"
            lint = _working_tree_lint(repository, head_snap)
        else:
            head_rev = head or "HEAD"
            head_snap = repository.snapshot(repository.resolve(head_rev))
        if base is None:
            base = _default_base(repository, head_snap.config)
        base_commit = repository.resolve(base)
        if merge_base:
            head_commit = repository.resolve("HEAD" if working_tree else head_rev)
            base_commit = _merge_base(repository, base, base_commit, head_commit)
            base = f"merge-base({base}, {head_rev})"
        base_snap = repository.snapshot(base_commit)
        return review(
            base_snap,
            head_snap,
            allow_removals=allow_removals,
            fail_on=fail_on,
            base_rev=base,
            head_rev=head_rev,
            lint=lint,
            renderer=renderer,
        )


def _working_tree_lint(repository: Any, snapshot: Any) -> list[Finding]:
    """What `dakora lint` reports on the working tree: version rules against HEAD.

    (``check_snapshot`` alone sees no commit and would say "no git history".)
    """
    from dakora.cli.local import _head, _version_lookup
    from dakora.registry.checks import check_snapshot

    head_commit = _head(repository)
    parent = repository.snapshot(head_commit) if head_commit else None
    return check_snapshot(
        snapshot, parent=parent, version_lookup=_version_lookup(repository)
    )


def _default_base(repository: Any, config: Any) -> str:
    """dakora.yaml's default_branch; without one, main, master or origin's HEAD."""
    if "default_branch" in config.raw:
        return str(config.default_branch)
    candidates = ("main", "master", "origin/main", "origin/master")
    for name in candidates:
        try:
            repository.resolve(name)
        except DakoraError:
            continue
        return name
    raise BadRequest(
        "no BASE given, dakora.yaml names no default_branch and none of "
        f"{', '.join(candidates)} exists: pass BASE"
    )


def _merge_base(repository: Any, base: str, a: str, b: str) -> CommitSha:
    from dulwich.graph import find_merge_base

    from dakora.registry.core import CommitSha
    from dakora.registry.git import as_oid

    found = find_merge_base(repository.repo, [as_oid(a), as_oid(b)])
    if not found:
        raise BadRequest(f"{base} and HEAD have no common ancestor")
    return CommitSha(found[0].decode())


def remote_review(
    url: str,
    project: str,
    *,
    base: str | None,
    head: str | None,
    fail_on: str = "breaking",
    allow_removals: bool = False,
    api_key: str | None = None,
) -> ReviewReport:
    """``GET /api/projects/{project}/compare`` on a Dakora server."""
    import httpx

    from dakora.registry.review import SCHEMA_VERSION, ReviewReport

    params: dict[str, str] = {"fail_on": fail_on}
    if base:
        params["base"] = base
    if head:
        params["head"] = head
    if allow_removals:
        params["allow_removals"] = "true"
    headers = {"Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    project = project.replace("/", "~")  # ws/slug is spelled ws~slug in URLs
    endpoint = f"{url.rstrip('/')}/api/projects/{project}/compare"
    try:
        response = httpx.get(endpoint, params=params, headers=headers, timeout=60.0)
    except httpx.HTTPError as exc:
        raise StorageError(f"cannot reach {url}: {exc}") from exc
    if response.status_code != 200:
        from dakora.client._errors import error_from_response

        raise error_from_response(response)
    try:
        data = response.json()
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(
                f"review schema version {data.get('schema_version')!r}, this dakora "
                f"reads {SCHEMA_VERSION}: upgrade dakora"
            )
        return ReviewReport.model_validate(data)
    except (ValueError, AttributeError) as exc:
        raise StorageError(f"{endpoint} did not answer with a review: {exc}") from exc
