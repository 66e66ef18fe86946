"""The database seam: URLs, SQLite pragmas and transactions, error translation."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import insert, select

from dakora.registry.core.errors import ConfigError, StorageError
from dakora.registry.db.engine import make_engine, read, transaction, upgrade
from dakora.registry.db.tables import workspaces


@pytest.mark.parametrize("url", ["mysql://u@h/db", "not a url", "sqlite+nodriver:///x"])
def test_bad_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        make_engine(url)


def test_sqlite_file_gets_wal_foreign_keys_and_a_folder(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a' / 'b' / 'x.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
        assert (tmp_path / "a" / "b").is_dir()
    finally:
        engine.dispose()


def test_transaction_commits_or_rolls_back_as_a_whole() -> None:
    engine = make_engine("sqlite://")
    upgrade(engine)
    with transaction(engine) as conn:
        conn.execute(insert(workspaces).values(id="1", slug="kept"))
    with pytest.raises(RuntimeError), transaction(engine) as conn:
        conn.execute(insert(workspaces).values(id="2", slug="dropped"))
        raise RuntimeError("boom")
    with read(engine) as conn:
        slugs = conn.execute(select(workspaces.c.slug)).scalars().all()
    assert slugs == ["kept"]


def test_database_down_is_a_storage_error() -> None:
    engine = make_engine("postgresql://nobody@127.0.0.1:1/nothing")
    try:
        with (
            pytest.raises(StorageError, match="database unavailable"),
            read(engine) as conn,
        ):
            conn.exec_driver_sql("SELECT 1")
    finally:
        engine.dispose()


def test_locked_sqlite_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    import sqlite3

    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        fast = make_engine(f"sqlite:///{path}")
        try:
            # the pooled connection keeps a short busy timeout for the next checkout
            with fast.connect() as conn:
                conn.connection.dbapi_connection.execute("PRAGMA busy_timeout=50")
            with pytest.raises(StorageError), transaction(fast) as conn:
                conn.execute(insert(workspaces).values(id="1", slug="x"))
        finally:
            fast.dispose()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
        engine.dispose()
