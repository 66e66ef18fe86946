"""Alembic environment for Dakora.

Programmatic runs (``dakora db upgrade``, ``dakora.registry.db.upgrade``) hand over an
open connection in ``config.attributes["connection"]``. Runs by hand (``alembic upgrade
head`` at the repository root) build an engine from ``sqlalchemy.url``, else
``DAKORA_DATABASE_URL``, else the settings default. SQLite uses batch mode so ALTERs
work; the same scripts run on PostgreSQL.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from dakora.registry.db import metadata

config = context.config
target_metadata = metadata


def _configure(connection: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from dakora.registry.core import Settings

    return Settings().database_url


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    from dakora.registry.db import make_engine

    engine = make_engine(_url(), foreign_keys=False)
    try:
        with engine.connect() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
