"""``dakora admin create-workspace | add-member | quota | create-project |
list-projects``: workspaces, members, quotas and projects (optionally imported from
an existing git repository, through the push checks).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dakora.cli.admin_support import (
    DataDir,
    JsonFlag,
    admin_app,
    load_settings,
    open_engine,
    say,
)
from dakora.cli.output import cli_errors, print_json, print_table
from dakora.registry.core import BadRequest

if TYPE_CHECKING:
    from dakora.registry.core import Finding


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def _check_email(email: str) -> None:
    """A typo such as a missing '@' must not create a user nobody can sign in as."""
    if not _EMAIL.fullmatch(email):
        raise BadRequest(f"{email!r} is not an email address (name@example.com)")


def _refuse_existing_workspace(engine: Any, slug: str) -> None:
    from dakora.registry import tenancy
    from dakora.registry.core import AlreadyExists, WorkspaceNotFound

    try:
        tenancy.get_workspace(engine, slug)
    except WorkspaceNotFound:
        return
    raise AlreadyExists(f"workspace {slug!r} already exists")


@admin_app.command("create-workspace")
def create_workspace(
    slug: Annotated[str, typer.Argument(help="Workspace slug, e.g. acme.")],
    owner_email: Annotated[
        str | None,
        typer.Option("--owner-email", help="Make this user (created if new) owner."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    personal: Annotated[
        bool,
        typer.Option(
            "--personal",
            help="A personal workspace (one user's own; needs --owner-email) instead "
            "of a team one.",
        ),
    ] = False,
    data_dir: DataDir = None,
    json_out: JsonFlag = False,
) -> None:
    """Create a workspace (kind team, or --personal), optionally with an owner."""
    from dakora.registry import tenancy

    with cli_errors(json_out):
        if personal and owner_email is None:
            raise BadRequest(
                "a personal workspace is one user's own: pass --owner-email with "
                "--personal"
            )
        if owner_email is not None:
            _check_email(owner_email)
        settings = load_settings(data_dir)
        with open_engine(settings, create=True) as engine:
            _refuse_existing_workspace(engine, slug)  # before any user is created
            owner = (
                tenancy.get_or_create_user(engine, email=owner_email)
                if owner_email
                else None
            )
            ws = tenancy.create_workspace(
                engine,
                slug,
                name=name,
                owner_user_id=owner.id if owner else None,
                kind="personal" if personal else "team",
            )
        if json_out:
            body = ws.to_dict()
            body["owner"] = owner.to_dict() if owner else None
            print_json(body)
        else:
            who = f" (owner {owner.email})" if owner else ""
            say(f"created {ws.kind} workspace {ws.slug}{who}  id {ws.id}")


@admin_app.command("add-member")
def add_member(
    workspace: Annotated[str, typer.Argument(help="Workspace slug.")],
    email: Annotated[str, typer.Argument(help="The user's email (created if new).")],
    role: Annotated[
        str,
        typer.Option("--role", help="owner, admin, member (writes) or viewer (reads)."),
    ] = "member",
    data_dir: DataDir = None,
    json_out: JsonFlag = False,
) -> None:
    """Add a user to a workspace, or change their role."""
    from dakora.registry import tenancy

    with cli_errors(json_out):
        tenancy.validate_role(role)
        _check_email(email)
        settings = load_settings(data_dir)
        with open_engine(settings) as engine:
            ws = tenancy.get_workspace(engine, workspace)
            user = tenancy.get_or_create_user(engine, email=email)
            member = tenancy.set_member(engine, ws.id, user.id, role)
        if json_out:
            print_json(
                {"workspace": ws.slug, "user": user.to_dict(), "role": member.role}
            )
        else:
            say(f"{user.email} is {member.role} of {ws.slug}")


@admin_app.command("quota")
def quota(
    workspace: Annotated[str, typer.Argument(help="Workspace slug.")],
    tier: Annotated[
        str | None,
        typer.Option(
            "--tier", help="Move the workspace to this tier (DAKORA_QUOTA_TIERS)."
        ),
    ] = None,
    data_dir: DataDir = None,
    json_out: JsonFlag = False,
) -> None:
    """Show a workspace's token use this month; `--tier` changes its tier."""
    from dakora.registry import tenancy

    with cli_errors(json_out):
        settings = load_settings(data_dir)
        with open_engine(settings) as engine:
            ws = tenancy.get_workspace(engine, workspace)
            if tier is not None:
                status = tenancy.set_tier(engine, ws.id, tier, settings)
            else:
                status = tenancy.get_quota(engine, ws.id, settings)
        if json_out:
            body = status.to_dict()
            body["workspace"] = ws.slug
            print_json(body)
            return
        limit = "unlimited" if status.unlimited else f"{status.tokens_limit:,}"
        say(
            f"{ws.slug}: tier {status.tier}, {status.tokens_used:,} of {limit} tokens "
            f"used since {status.period_start.date().isoformat()}"
        )


def _import_checker(default_branch: str) -> Any:
    """The push checks (hooks' DefaultChecker) applied to an import's ref updates."""
    from dakora.hooks.push_checks import DefaultChecker, RefUpdate
    from dakora.registry.index import import_version_lookup

    def check(store: Any, updates: list[tuple[str, str, str]]) -> list[Finding]:
        checker = DefaultChecker(
            refs_before={},
            default_branch=default_branch,
            version_lookup=import_version_lookup(store, updates),
        )
        return checker(
            store, [RefUpdate.parse(old, new, ref) for ref, old, new in updates]
        )

    return check


@admin_app.command("create-project")
def create_project(
    project: Annotated[str, typer.Argument(help="WS/SLUG of the new project.")],
    from_path: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="Import this local git repository (its branches and tags) or folder.",
        ),
    ] = None,
    default_branch: Annotated[
        str | None,
        typer.Option(
            "--default-branch",
            help="Branch served by default [default: the source's HEAD branch with "
            "--from, else main].",
        ),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    data_dir: DataDir = None,
    json_out: JsonFlag = False,
) -> None:
    """Create a project with its own bare repository; `--from` imports content.

    The import runs every push check on every ref; any error refuses it and the
    project is not created.
    """
    from dakora.registry import tenancy
    from dakora.registry.core import BadRequest
    from dakora.registry.index import import_into_project, source_default_branch

    with cli_errors(json_out):
        if project.count("/") != 1:
            raise BadRequest(f"name the project as WORKSPACE/SLUG, not {project!r}")
        ws_slug, slug = project.split("/")
        if from_path is not None and not from_path.is_dir():
            raise BadRequest(f"--from {from_path}: not a folder")
        branch = default_branch
        if branch is None:
            branch = (source_default_branch(from_path) if from_path else None) or "main"
        settings = load_settings(data_dir)
        settings.ensure_data_dir()
        with open_engine(settings) as engine:
            created = tenancy.create_project(
                engine, settings, ws_slug, slug, default_branch=branch, name=name
            )
            summary = None
            if from_path is not None:
                try:
                    summary = import_into_project(
                        engine,
                        created,
                        from_path,
                        checker=_import_checker(branch),
                        mirror=settings.mirror_backend != "none",
                    )
                except BaseException:
                    tenancy.delete_project(engine, created.id)
                    raise
        if json_out:
            body = created.to_dict()
            body["import"] = summary.to_dict() if summary else None
            print_json(body)
            return
        say(f"created project {created.full_name}  id {created.id}")
        say(f"  repository  {created.repo_path} (default branch {branch})")
        if summary is not None:
            say(
                f"  imported    {len(summary.refs)} ref(s) from {summary.source}: "
                f"{summary.index.heads} prompt head(s), "
                f"{summary.index.versions} version(s)"
            )
            for warning in summary.warnings:
                say(f"  warning: {warning}")


@admin_app.command("list-projects")
def list_projects(
    workspace: Annotated[
        str | None, typer.Argument(help="Only this workspace (slug).")
    ] = None,
    data_dir: DataDir = None,
    json_out: JsonFlag = False,
) -> None:
    """List projects with their ids (the id is what API clients use)."""
    from dakora.registry import tenancy

    with cli_errors(json_out):
        settings = load_settings(data_dir)
        with open_engine(settings) as engine:
            ws_id = tenancy.get_workspace(engine, workspace).id if workspace else None
            rows = tenancy.list_projects(engine, workspace_id=ws_id)
        if json_out:
            print_json({"projects": [p.to_dict() for p in rows]})
            return
        print_table(
            ["project", "id", "default branch", "workspace kind"],
            [[p.full_name, p.id, p.default_branch, p.workspace_kind] for p in rows],
            title="Projects",
        )
