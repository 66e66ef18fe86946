"""``dakora db …`` and ``dakora admin …``: the database and tenants, by hand.

Every command works against the configured database (``DAKORA_DATABASE_URL``, else
SQLite in ``--data-dir`` / ``DAKORA_DATA_DIR``) and takes ``--json`` for scripts. Errors
come out through ``cli_errors`` (one message, or one JSON error body, and an exit code).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dakora.cli.main import app
from dakora.cli.output import cli_errors, make_console, print_json, print_table

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from dakora.registry.findings import Finding
    from dakora.registry.settings import Settings

db_app = typer.Typer(
    help="The server's database: run its migrations.", no_args_is_help=True
)
admin_app = typer.Typer(
    help="Workspaces, projects and API keys, straight in the database.",
    no_args_is_help=True,
)
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Data folder (default: DAKORA_DATA_DIR or ./.dakora)."
    ),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL (default: DAKORA_DATABASE_URL, else SQLite in the "
        "data folder).",
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
ProjectArg = Annotated[str, typer.Argument(help="WS/PROJECT (or the project's id).")]


def _settings(data_dir: Path | None, database_url: str | None = None) -> Settings:
    from dakora.cli.server import build_settings

    return build_settings(data_dir=data_dir, database_url=database_url)


@contextmanager
def _engine(settings: Settings, *, migrate: bool = True) -> Iterator[Engine]:
    """An engine on the configured database, migrated to head first."""
    from dakora.registry.db import make_engine

    engine = make_engine(settings.database_url)
    try:
        if migrate:
            _ensure_migrated(engine)
        yield engine
    finally:
        engine.dispose()


def _ensure_migrated(engine: Engine) -> None:
    """The embedded SQLite database is migrated on the fly; a shared PostgreSQL is
    only ever migrated on purpose (``dakora db upgrade``)."""
    from dakora.registry.db import ensure_migrated, is_sqlite, is_up_to_date
    from dakora.registry.errors import ConfigError

    if is_sqlite(engine):
        ensure_migrated(engine)
        return
    if not is_up_to_date(engine):
        raise ConfigError(
            "the database is not at the newest migration: run `dakora db upgrade` first"
        )


def _say(message: str) -> None:
    make_console().print(message, markup=False)


# -- dakora db ------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[
        str, typer.Argument(help="Target revision (default: the newest).")
    ] = "head",
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    json_out: JsonFlag = False,
) -> None:
    """Apply the database migrations (safe to run again: a no-op when up to date)."""
    from dakora.registry.db import current_revision

    with cli_errors(json_out):
        settings = _settings(data_dir, database_url)
        with _engine(settings, migrate=False) as engine:
            before = current_revision(engine)
            from dakora.registry.db import upgrade

            upgrade(engine, revision)
            after = current_revision(engine)
        _report_migration(settings, before, after, json_out)


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[
        str,
        typer.Argument(help="Target revision: -1 (one step, default), an id, or base."),
    ] = "-1",
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    json_out: JsonFlag = False,
) -> None:
    """Undo migrations down to REV (``base`` drops every Dakora table)."""
    from dakora.registry.db import current_revision, downgrade

    with cli_errors(json_out):
        settings = _settings(data_dir, database_url)
        with _engine(settings, migrate=False) as engine:
            before = current_revision(engine)
            downgrade(engine, revision)
            after = current_revision(engine)
        _report_migration(settings, before, after, json_out)


@db_app.command("current")
def db_current(
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    json_out: JsonFlag = False,
) -> None:
    """Show the database's migration revision and the newest one available."""
    from dakora.registry.db import current_revision, head_revision

    with cli_errors(json_out):
        settings = _settings(data_dir, database_url)
        with _engine(settings, migrate=False) as engine:
            current = current_revision(engine)
        head = head_revision()
        if json_out:
            print_json(
                {
                    "database": _safe_url(settings.database_url),
                    "revision": current,
                    "head": head,
                    "up_to_date": current == head,
                }
            )
        else:
            state = "up to date" if current == head else f"newest is {head}"
            _say(f"{_safe_url(settings.database_url)}: {current or 'empty'} ({state})")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _report_migration(
    settings: Settings, before: str | None, after: str | None, json_out: bool
) -> None:
    if json_out:
        print_json(
            {
                "database": _safe_url(settings.database_url),
                "from": before,
                "to": after,
                "changed": before != after,
            }
        )
    elif before == after:
        _say(f"database already at {after or 'base'}")
    else:
        _say(f"database migrated {before or 'base'} → {after or 'base'}")


# -- dakora admin ---------------------------------------------------------------------


@admin_app.command("create-workspace")
def create_workspace(
    slug: Annotated[str, typer.Argument(help="Workspace slug, e.g. acme.")],
    owner_email: Annotated[
        str | None,
        typer.Option("--owner-email", help="Make this user (created if new) owner."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    data_dir: DataDir = None,
    json_out: JsonFlag = False,
) -> None:
    """Create a workspace (optionally with an owner)."""
    from dakora.registry import tenancy

    with cli_errors(json_out):
        settings = _settings(data_dir)
        with _engine(settings) as engine:
            owner = (
                tenancy.get_or_create_user(engine, email=owner_email)
                if owner_email
                else None
            )
            ws = tenancy.create_workspace(
                engine, slug, name=name, owner_user_id=owner.id if owner else None
            )
        if json_out:
            body = ws.to_dict()
            body["owner"] = owner.to_dict() if owner else None
            print_json(body)
        else:
            who = f" (owner {owner.email})" if owner else ""
            _say(f"created workspace {ws.slug}{who}  id {ws.id}")


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
        settings = _settings(data_dir)
        with _engine(settings) as engine:
            ws = tenancy.get_workspace(engine, workspace)
            user = tenancy.get_or_create_user(engine, email=email)
            member = tenancy.set_member(engine, ws.id, user.id, role)
        if json_out:
            print_json(
                {"workspace": ws.slug, "user": user.to_dict(), "role": member.role}
            )
        else:
            _say(f"{user.email} is {member.role} of {ws.slug}")


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
    """Show a workspace's token use this month; ``--tier`` changes its tier."""
    from dakora.registry import tenancy

    with cli_errors(json_out):
        settings = _settings(data_dir)
        with _engine(settings) as engine:
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
        _say(
            f"{ws.slug}: tier {status.tier}, {status.tokens_used:,} of {limit} tokens "
            f"used since {status.period_start.date().isoformat()}"
        )


def _import_checker(default_branch: str) -> Any:
    """The push checks (hooks' DefaultChecker) applied to an import's ref updates."""
    from dakora.hooks.push_checks import DefaultChecker, RefUpdate
    from dakora.registry.importer import import_version_lookup

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
    """Create a project with its own bare repository; ``--from`` imports content.

    The import runs every push check on every ref; any error refuses it and the
    project is not created.
    """
    from dakora.registry import tenancy
    from dakora.registry.errors import BadRequest
    from dakora.registry.importer import import_into_project, source_default_branch

    with cli_errors(json_out):
        if project.count("/") != 1:
            raise BadRequest(f"name the project as WORKSPACE/SLUG, not {project!r}")
        ws_slug, slug = project.split("/")
        if from_path is not None and not from_path.is_dir():
            raise BadRequest(f"--from {from_path}: not a folder")
        branch = default_branch
        if branch is None:
            branch = (source_default_branch(from_path) if from_path else None) or "main"
        settings = _settings(data_dir)
        settings.ensure_data_dir()
        with _engine(settings) as engine:
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
        _say(f"created project {created.full_name}  id {created.id}")
        _say(f"  repository  {created.repo_path} (default branch {branch})")
        if summary is not None:
            _say(
                f"  imported    {len(summary.refs)} ref(s) from {summary.source}: "
                f"{summary.index.heads} prompt head(s), "
                f"{summary.index.versions} version(s)"
            )
            for warning in summary.warnings:
                _say(f"  warning: {warning}")


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
        settings = _settings(data_dir)
        with _engine(settings) as engine:
            ws_id = tenancy.get_workspace(engine, workspace).id if workspace else None
            rows = tenancy.list_projects(engine, workspace_id=ws_id)
        if json_out:
            print_json({"projects": [p.to_dict() for p in rows]})
            return
        print_table(
            ["project", "id", "default branch"],
            [[p.full_name, p.id, p.default_branch] for p in rows],
            title="Projects",
        )


@admin_app.command("create-key")
def create_key(
    project: ProjectArg,
    scope: Annotated[
        str, typer.Option("--scope", help="read (fetch, render) or write (also push).")
    ] = "read",
    expires_days: Annotated[
        int | None,
        typer.Option("--expires-days", min=1, help="Expire after N days."),
    ] = None,
    name: Annotated[str, typer.Option("--name", help="A label, e.g. ci.")] = "",
    data_dir: DataDir = None,
    json_out: JsonFlag = False,
) -> None:
    """Create an API key for a project and print it — the only time it is shown."""
    from dakora.registry import keys, tenancy
    from dakora.registry.errors import BadRequest

    with cli_errors(json_out):
        if scope not in keys.VALID_SCOPES:
            raise BadRequest(f"--scope must be read or write, not {scope!r}")
        settings = _settings(data_dir)
        with _engine(settings) as engine:
            target = tenancy.get_project(engine, project)
            new = keys.create_key(
                engine,
                settings.pepper(),
                target.id,
                scope=scope,
                name=name,
                expires_days=expires_days,
                max_active=settings.max_keys_per_project,
            )
        if json_out:
            body = new.record.to_dict()
            body["key"] = new.plaintext
            body["project"] = target.full_name
            print_json(body)
            return
        _say(new.plaintext)
        expiry = (
            f", expires {new.record.expires_at.isoformat(timespec='seconds')}"
            if new.record.expires_at
            else ""
        )
        make_console(stderr=True).print(
            f"{scope} key {new.record.id} for {target.full_name}{expiry}. "
            "Store it now: it is not shown again.",
            markup=False,
        )


@admin_app.command("list-keys")
def list_keys(
    project: ProjectArg,
    data_dir: DataDir = None,
    json_out: JsonFlag = False,
) -> None:
    """List a project's API keys (prefix and suffix only; never the key)."""
    from dakora.registry import keys, tenancy
    from dakora.registry.db import utcnow

    with cli_errors(json_out):
        settings = _settings(data_dir)
        with _engine(settings) as engine:
            target = tenancy.get_project(engine, project)
            records = keys.list_keys(engine, target.id)
        now = utcnow()
        if json_out:
            print_json(
                {
                    "project": target.full_name,
                    "project_id": target.id,
                    "keys": [r.to_dict(now) for r in records],
                }
            )
            return

        def when(value: Any) -> str:
            return value.isoformat(timespec="seconds") if value else "-"

        print_table(
            ["id", "key", "name", "scope", "status", "created", "expires", "last used"],
            [
                [
                    r.id,
                    r.display,
                    r.name,
                    "write" if r.allows("write") else "read",
                    r.status(now),
                    when(r.created_at),
                    when(r.expires_at),
                    when(r.last_used_at),
                ]
                for r in records
            ],
            title=f"API keys of {target.full_name}",
        )


@admin_app.command("revoke-key")
def revoke_key(
    project: ProjectArg,
    key: Annotated[
        str, typer.Argument(help="The key's id, its prefix (dk_…) or the key itself.")
    ],
    data_dir: DataDir = None,
    json_out: JsonFlag = False,
) -> None:
    """Revoke an API key; it stops working on the next request."""
    from dakora.registry import keys, tenancy

    with cli_errors(json_out):
        settings = _settings(data_dir)
        with _engine(settings) as engine:
            target = tenancy.get_project(engine, project)
            record = keys.revoke_key(engine, target.id, key)
        if json_out:
            print_json(record.to_dict())
            return
        _say(f"revoked key {record.id} ({record.display}) of {target.full_name}")
