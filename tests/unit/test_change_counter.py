"""``SqliteChangeCounter`` (registry/db/events.py): the WAL-index header in shared
memory changes whenever ``PRAGMA data_version`` does (every commit another connection
or process made; a log-restarting checkpoint may change both), and never on a read, so
the server reads ``data_version`` only when the header changed."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from dakora.registry.db import SqliteChangeCounter, make_engine, upgrade


def _database(tmp_path: Path) -> str:
    path = tmp_path / "dakora.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)  # WAL, as the server's engine sets it
    engine.dispose()
    return str(path)


def _commit_elsewhere(database: str) -> None:
    code = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
        "c.execute('CREATE TABLE IF NOT EXISTS t (a)'); "
        "c.execute('INSERT INTO t VALUES (1)'); c.commit(); c.close()"
    )
    subprocess.run([sys.executable, "-c", code, database], check=True)


def test_the_header_changes_with_every_commit(tmp_path: Path) -> None:
    database = _database(tmp_path)
    writer = sqlite3.connect(database, isolation_level=None)
    writer.execute("CREATE TABLE IF NOT EXISTS t (a)")
    counter = SqliteChangeCounter(database)
    try:
        assert counter.shared_memory
        assert counter.changed() is False
        version = counter.version()
        for step in range(30):
            if step % 3 == 0:
                writer.execute("INSERT INTO t VALUES (?)", (step,))
                expected = True
            elif step % 3 == 1:
                writer.execute("SELECT count(*) FROM t").fetchone()
                mode = "TRUNCATE" if step % 2 else "PASSIVE"
                writer.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
                expected = False
            else:
                _commit_elsewhere(database)  # another process
                expected = True
            header_changed = counter.changed()
            now = counter.version()
            if expected:  # a commit: both see it
                assert now != version, step
            if now != version:  # whatever data_version sees, the header saw first
                assert header_changed is True, step
            assert counter.changed() is False
            version = now
    finally:
        counter.close()
        writer.close()


def test_without_wal_it_says_it_cannot_tell(tmp_path: Path) -> None:
    path = tmp_path / "rollback.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("CREATE TABLE t (a)")
    conn.commit()
    counter = SqliteChangeCounter(str(path))
    try:
        assert not counter.shared_memory
        assert counter.changed() is None  # the watcher then reads data_version
        before = counter.version()
        conn.execute("INSERT INTO t VALUES (1)")
        conn.commit()
        assert counter.version() != before
    finally:
        counter.close()
        conn.close()
