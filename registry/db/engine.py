"""Engines and migrations: the one seam between Dakora and the database driver.

``make_engine(url)`` gives an Engine configured for the backend: SQLite gets WAL, foreign
keys, a busy timeout and real transactions (``BEGIN`` emitted by us, not pysqlite's
implicit one); PostgreSQL goes through psycopg2 with pre-ping. ``transaction(engine)`` is
how storage code writes: one transaction, driver errors become ``StorageError``.
``upgrade``/``downgrade`` run the Alembic migrations found in the installed package
``dakora.migrations`` (the repository's ``alembic/`` folder).
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
)
from sqlalchemy.pool import StaticPool

from dakora.registry.core import ConfigError, StorageError

SQLITE_BUSY_TIMEOUT_MS = 10_000
PG_CONNECT_TIMEOUT_S = 10
_IMMEDIATE = "dakora_sqlite_immediate"


def make_engine(url: str, *, echo: bool = False, foreign_keys: bool = True) -> Engine:
    """An Engine for ``url`` (``sqlite:///path`` or ``postgresql://…``).

    For file SQLite the parent folder is created. Bad URLs raise ``ConfigError``.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"invalid database URL: {exc}") from exc
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = {"echo": echo}
    db_file: Path | None = None
    if backend == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            db_file = Path(database).expanduser()
            db_file.parent.mkdir(parents=True, exist_ok=True)
        else:
            kwargs["poolclass"] = StaticPool
        kwargs["connect_args"] = {"check_same_thread": False}
    elif backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg2")
        kwargs["pool_pre_ping"] = True
        if "connect_timeout" not in parsed.query:
            kwargs["connect_args"] = {"connect_timeout": PG_CONNECT_TIMEOUT_S}
    else:
        raise ConfigError(
            f"unsupported database {backend!r}: use sqlite:/// or postgresql://"
        )
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise ConfigError(f"invalid database URL: {exc}") from exc
    if db_file is not None:
        _private_db_file(db_file)
    if backend == "sqlite":
        _configure_sqlite(engine, foreign_keys=foreign_keys)
    return engine


def _private_db_file(path: Path) -> None:
    """Create the SQLite file (and its folder) readable by its owner only: it holds
    key hashes and user data, like ``secret.key``. A file we own that is open to
    others is tightened too (SQLite gives its -wal/-journal files the same mode)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        try:
            st = path.stat()
            if st.st_uid == os.getuid() and st.st_mode & 0o077:
                os.chmod(path, st.st_mode & 0o700)
        except OSError:
            pass
    else:
        os.close(fd)


def is_process_local(engine: Engine) -> bool:
    """True for an in-memory SQLite database: only this process can see it (no other
    process may write it, and no change made elsewhere needs watching)."""
    database = engine.url.database
    return engine.dialect.name == "sqlite" and (
        not database or database == ":memory:" or database.startswith("file:")
    )


def _configure_sqlite(engine: Engine, *, foreign_keys: bool) -> None:
    in_memory = engine.url.database in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite; we emit BEGIN ourselves.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            # The busy timeout first: switching a new file to WAL takes the write
            # lock, and processes opening it together must wait, not fail.
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if not in_memory:
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(_IMMEDIATE):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn driver failures (down, locked, timeout) into ``StorageError``.

    ``IntegrityError`` passes through untouched: callers translate it into the domain
    error the violated constraint means (a taken slug, a duplicate version…).
    """
    try:
        yield
    except IntegrityError:
        raise
    except OperationalError as exc:
        raise StorageError(f"database unavailable: {_short(exc)}") from exc
    except DBAPIError as exc:
        raise StorageError(f"database error: {_short(exc)}") from exc


@contextmanager
def transaction(engine: Engine, *, write: bool = True) -> Iterator[Connection]:
    """One transaction on a fresh connection, committed on success, rolled back on error.

    With ``write`` on SQLite the transaction starts with ``BEGIN IMMEDIATE`` (takes the
    write lock up front, so a read-then-write never dies with "database is locked").
    """
    with translate_errors(), engine.connect() as conn:
        if write and is_sqlite(engine):
            conn.execution_options(**{_IMMEDIATE: True})
        with conn.begin():
            yield conn


@contextmanager
def read(engine: Engine) -> Iterator[Connection]:
    """A read-only unit of work (a plain deferred transaction)."""
    with transaction(engine, write=False) as conn:
        yield conn


def _short(exc: DBAPIError) -> str:
    text = str(exc.orig) if exc.orig is not None else str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


# -- migrations ---------------------------------------------------------------------------


def migrations_dir() -> Path:
    """The Alembic script folder: package ``dakora.migrations``, else the source tree."""
    try:
        spec = importlib.util.find_spec("dakora.migrations")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location)
            if (candidate / "env.py").is_file():
                return candidate
    candidate = Path(__file__).resolve().parents[2] / "alembic"
    if (candidate / "env.py").is_file():
        return candidate
    raise ConfigError("the database migrations are missing from this installation")


def _alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _run(engine_or_url: Engine | str, action: str, revision: str) -> None:
    from alembic.util.exc import CommandError

    from alembic import command

    owned = isinstance(engine_or_url, str)
    engine = (
        make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    )
    url = engine.url.render_as_string(hide_password=False)
    config = _alembic_config(url)
    try:
        with translate_errors(), engine.connect() as conn:
            sqlite = is_sqlite(conn)
            if sqlite:
                # Batch migrations copy and drop tables: with foreign keys on, a DROP
                # would cascade into the children. Off for the run (outside any
                # transaction, where the pragma is honoured), checked, then on again.
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
                # Two processes migrating at once (replicas starting together): the
                # second waits for the first, then finds nothing left to do.
                conn.execution_options(**{_IMMEDIATE: True})
            try:
                with conn.begin():
                    if not sqlite:
                        conn.exec_driver_sql(
                            "SELECT pg_advisory_xact_lock(hashtext('dakora'), "
                            "hashtext('migrations'))"
                        )
                    config.attributes["connection"] = conn
                    getattr(command, action)(config, revision)
                    if sqlite:
                        bad = conn.exec_driver_sql(
                            "PRAGMA foreign_key_check"
                        ).fetchall()
                        if bad:
                            raise StorageError(
                                f"migration left {len(bad)} dangling foreign keys"
                            )
            finally:
                if sqlite:
                    conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
    except CommandError as exc:
        raise ConfigError(f"migration {action} to {revision!r} failed: {exc}") from exc
    finally:
        if owned:
            engine.dispose()


def upgrade(engine_or_url: Engine | str, revision: str = "head") -> None:
    """Migrate the database up to ``revision`` (default: the newest)."""
    _run(engine_or_url, "upgrade", revision)


def downgrade(engine_or_url: Engine | str, revision: str = "-1") -> None:
    """Migrate the database down to ``revision`` (``base`` removes every table)."""
    _run(engine_or_url, "downgrade", revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    with translate_errors(), engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config("sqlite://")).get_current_head()


_REVISION_LINE = re.compile(
    r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(?:['\"]([^'\"]*)['\"]|None)",
    re.MULTILINE,
)


def _quick_head() -> str | None:
    """The newest revision read straight from the scripts (no Alembic import); None
    when they are not a simple chain."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (migrations_dir() / "versions").glob("*.py"):
        found = dict(
            (m.group(1), m.group(2))
            for m in _REVISION_LINE.finditer(script.read_text(encoding="utf-8"))
        )
        if not found.get("revision"):
            return None
        revisions.add(found["revision"])
        if found.get("down_revision"):
            parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def is_up_to_date(engine: Engine) -> bool:
    """True when the database is at the newest migration (cheap: no Alembic import)."""
    head = _quick_head()
    if head is None:
        return current_revision(engine) == head_revision()
    with translate_errors(), engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return False
        rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    return [r[0] for r in rows] == [head]


def ensure_migrated(engine: Engine) -> None:
    """Migrate to head unless already there (the embedded server and CLI use this)."""
    if not is_up_to_date(engine):
        upgrade(engine)


def table_names(engine: Engine) -> list[str]:
    with translate_errors(), engine.connect() as conn:
        return sorted(inspect(conn).get_table_names())
