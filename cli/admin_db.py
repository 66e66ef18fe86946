"""``dakora db upgrade | downgrade | current``: the server database's migrations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

import typer

from dakora.cli.admin_support import (
    DatabaseUrl,
    DataDir,
    JsonFlag,
    db_app,
    load_settings,
    open_engine,
    say,
)
from dakora.cli.output import cli_errors, print_json

if TYPE_CHECKING:
    from pathlib import Path

    from dakora.registry.core import Settings


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
    _migrate("upgrade", revision, database_url, data_dir, json_out)


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
    """Undo migrations down to REV (`base` drops every Dakora table)."""
    _migrate("downgrade", revision, database_url, data_dir, json_out)


def _migrate(
    direction: Literal["upgrade", "downgrade"],
    revision: str,
    database_url: str | None,
    data_dir: Path | None,
    json_out: bool,
) -> None:
    """Move the database to ``revision`` and report where it was and where it is."""
    from dakora.registry import db

    step = db.upgrade if direction == "upgrade" else db.downgrade
    with cli_errors(json_out):
        settings = load_settings(data_dir, database_url)
        with open_engine(settings, migrate=False, create=True) as engine:
            before = db.current_revision(engine)
            step(engine, revision)
            after = db.current_revision(engine)
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
        settings = load_settings(data_dir, database_url)
        with open_engine(settings, migrate=False) as engine:
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
            say(f"{_safe_url(settings.database_url)}: {current or 'empty'} ({state})")


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
        say(f"database already at {after or 'base'}")
    else:
        say(f"database migrated {before or 'base'} → {after or 'base'}")
