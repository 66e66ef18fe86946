"""PostgreSQL session-level advisory locks, one per key (docs/design.md §11).

``pg_advisory_lock(hashtext(key))`` on a dedicated connection (its own small engine
without a pool, so waiting pushes never starve the index writer of connections).
Threads of one process queue on a ``threading.Lock`` per key first, so one connection
per key waits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from dakora.registry.core import KeyedThreadLocks, StorageError

logger = logging.getLogger("dakora.hooks.advisory_lock")


def is_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


class AdvisoryProjectLock:
    """A ``ProjectLock`` on PostgreSQL session-level advisory locks."""

    def __init__(self, engine: Engine) -> None:
        if not is_postgresql(engine):
            raise StorageError("advisory locks need PostgreSQL")
        self._engine = create_engine(engine.url, poolclass=NullPool)
        self._thread_lock = KeyedThreadLocks()

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._thread_lock(key):
            try:
                conn = self._engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT"
                )
            except SQLAlchemyError as exc:
                raise StorageError(f"cannot take the project lock: {exc}") from exc
            try:
                try:
                    conn.execute(
                        text("SELECT pg_advisory_lock(hashtext(:key))"), {"key": key}
                    )
                except SQLAlchemyError as exc:
                    raise StorageError(f"cannot take the project lock: {exc}") from exc
                try:
                    yield
                finally:
                    try:
                        conn.execute(
                            text("SELECT pg_advisory_unlock(hashtext(:key))"),
                            {"key": key},
                        )
                    except SQLAlchemyError:
                        # closing the session releases its locks
                        logger.warning("advisory unlock of %s failed", key)
                        conn.invalidate()
            finally:
                conn.close()

    def dispose(self) -> None:
        self._engine.dispose()
