"""What ``dakora db`` and ``dakora admin`` share: their Typer groups (registered on
``main.app``), the ``--data-dir`` / ``--database-url`` / ``--json`` options, settings,
and an engine on the configured database (SQLite migrated on the fly, PostgreSQL only
on purpose).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dakora.cli.commands import command_app
from dakora.cli.output import make_console

app = command_app()

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from dakora.registry.core import Settings


db_app = command_app(
    help="The server's database: run its migrations.", no_args_is_help=True
)
admin_app = command_app(
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


def load_settings(data_dir: Path | None, database_url: str | None = None) -> Settings:
    from dakora.cli.server import build_settings

    return build_settings(data_dir=data_dir, database_url=database_url)


@contextmanager
def open_engine(
    settings: Settings, *, migrate: bool = True, create: bool = False
) -> Iterator[Engine]:
    """An engine on the configured database, migrated to head first.

    Only commands that start a registry (``create-workspace``, ``db upgrade``) pass
    ``create``: for the others a missing embedded database is a mistyped
    ``--data-dir``, reported instead of silently answered from a new empty one.
    """
    from dakora.registry.db import make_engine

    if not create:
        require_existing_database(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        if migrate:
            require_migrated(engine)
        yield engine
    finally:
        engine.dispose()


def require_existing_database(url: str) -> None:
    from sqlalchemy.engine import make_url

    from dakora.registry.core import ConfigError

    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return
    database = parsed.database
    if database and database != ":memory:" and not Path(database).exists():
        raise ConfigError(
            f"no Dakora database at {database}: check --data-dir / DAKORA_DATA_DIR, "
            "or start one with `dakora admin create-workspace` or `dakora serve`"
        )


def require_migrated(engine: Engine) -> None:
    """The embedded SQLite database is migrated on the fly; a shared PostgreSQL is
    only ever migrated on purpose (``dakora db upgrade``)."""
    from dakora.registry.core import ConfigError
    from dakora.registry.db import ensure_migrated, is_sqlite, is_up_to_date

    if is_sqlite(engine):
        ensure_migrated(engine)
        return
    if not is_up_to_date(engine):
        raise ConfigError(
            "the database is not at the newest migration: run `dakora db upgrade` first"
        )


def say(message: str) -> None:
    make_console().print(message, markup=False)
