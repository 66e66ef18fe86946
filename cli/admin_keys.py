"""``dakora admin create-key | list-keys | revoke-key``: a project's API keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from dakora.cli.admin_support import (
    DataDir,
    JsonFlag,
    ProjectArg,
    admin_app,
    load_settings,
    open_engine,
    say,
)
from dakora.cli.output import cli_errors, make_console, print_json, print_table

if TYPE_CHECKING:
    pass


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
    from dakora.registry import tenancy
    from dakora.registry.core import BadRequest
    from dakora.registry.tenancy import keys

    with cli_errors(json_out):
        if scope not in keys.VALID_SCOPES:
            raise BadRequest(f"--scope must be read or write, not {scope!r}")
        settings = load_settings(data_dir)
        with open_engine(settings) as engine:
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
        say(new.plaintext)
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
    from dakora.registry import tenancy
    from dakora.registry.db import utcnow
    from dakora.registry.tenancy import keys

    with cli_errors(json_out):
        settings = load_settings(data_dir)
        with open_engine(settings) as engine:
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
    from dakora.registry import tenancy
    from dakora.registry.db import utcnow
    from dakora.registry.tenancy import keys

    with cli_errors(json_out):
        settings = load_settings(data_dir)
        with open_engine(settings) as engine:
            target = tenancy.get_project(engine, project)
            started = utcnow()
            record = keys.revoke_key(engine, target.id, key, now=started)
        if json_out:
            print_json(record.to_dict())
            return
        if record.revoked_at is not None and record.revoked_at < started:
            when = record.revoked_at.isoformat(timespec="seconds")
            say(f"key {record.id} ({record.display}) was already revoked at {when}")
            return
        say(f"revoked key {record.id} ({record.display}) of {target.full_name}")
