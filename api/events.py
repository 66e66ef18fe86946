"""The server side of ``dakora.registry.db.events``: notice changes made elsewhere.

:meth:`EventWatcher.poll` runs before every authenticated request (and once a second
in a small background thread so nothing piles up when the server is idle):

- PostgreSQL: a dedicated autocommit connection that ``LISTEN``s on ``dakora_events``;
  ``poll()`` is a non-blocking read of that socket. ``key:`` events drop the verified-key
  cache, ``project:<id>`` the project's ref resolutions. If the connection breaks,
  every cache is dropped on every request until it is back (events may have been lost).
- SQLite: a dedicated connection reads ``PRAGMA data_version`` (shared memory in WAL
  mode, no query plan, no disk); any commit by another connection changes it, and the
  server then drops its key cache and ref resolutions (re-verified on demand).
- In-memory SQLite (tests): a single process, nothing to watch.
"""

from __future__ import annotations

import contextlib
import logging
import select
import sqlite3
import threading
import time
from typing import TYPE_CHECKING, Any

from dakora.registry.db import CHANNEL, Engine, parse_event

if TYPE_CHECKING:
    from dakora.api.state import ServerState

log = logging.getLogger("dakora.api")

BACKGROUND_INTERVAL_S = 1.0
RECONNECT_INTERVAL_S = 1.0


class EventWatcher:
    """Watches the database for changes made by other processes."""

    def __init__(self, engine: Engine, state: ServerState) -> None:
        self._engine = engine
        self._state = state
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._kind = engine.dialect.name
        self._sqlite: sqlite3.Connection | None = None
        self._sqlite_version: int | None = None
        self._pg: Any = None
        self._pg_next_attempt = 0.0
        self.events_seen = 0

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._kind == "sqlite":
                self._open_sqlite()
            elif self._kind == "postgresql":
                self._connect_pg()
        if self._kind in ("sqlite", "postgresql"):
            self._thread = threading.Thread(
                target=self._background, name="dakora-events", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._lock:
            if self._sqlite is not None:
                self._sqlite.close()
                self._sqlite = None
            if self._pg is not None:
                with contextlib.suppress(Exception):  # closing a broken connection
                    self._pg.close()
                self._pg = None

    def _background(self) -> None:
        while not self._stop.wait(BACKGROUND_INTERVAL_S):
            try:
                self.poll()
            except Exception:  # never let the watcher thread die
                log.exception("event watcher poll failed")

    # -- polling --------------------------------------------------------------------

    def poll(self) -> None:
        """Apply every change announced since the last call (cheap; thread-safe)."""
        if self._kind == "sqlite":
            self._poll_sqlite()
        elif self._kind == "postgresql":
            self._poll_pg()

    # SQLite ------------------------------------------------------------------------

    def _open_sqlite(self) -> None:
        database = self._engine.url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            return  # one process owns an in-memory database: nothing to watch
        conn = sqlite3.connect(database, check_same_thread=False, isolation_level=None)
        self._sqlite = conn
        self._sqlite_version = _data_version(conn)

    def _poll_sqlite(self) -> None:
        with self._lock:
            conn = self._sqlite
            if conn is None:
                return
            try:
                version = _data_version(conn)
            except sqlite3.Error:
                log.warning("cannot read PRAGMA data_version; dropping caches")
                version = None
            changed = version is None or version != self._sqlite_version
            self._sqlite_version = version
        if changed:
            self.events_seen += 1
            self._state.invalidate_all()

    # PostgreSQL --------------------------------------------------------------------

    def _connect_pg(self) -> bool:
        import psycopg2
        import psycopg2.extensions

        self._pg_next_attempt = time.monotonic() + RECONNECT_INTERVAL_S
        url = self._engine.url.set(drivername="postgresql")
        try:
            conn = psycopg2.connect(
                url.render_as_string(hide_password=False), connect_timeout=3
            )
            conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
            with conn.cursor() as cur:
                cur.execute(f"LISTEN {CHANNEL}")
        except psycopg2.Error as exc:
            log.warning("cannot listen for %s events: %s", CHANNEL, exc)
            self._pg = None
            return False
        self._pg = conn
        return True

    def _drain_pg(self) -> None:
        """Read everything the listener socket holds. A terminated backend first
        sends an error message (consumed silently by one ``poll()``), then EOF: poll
        again while the socket is readable, so the loss is noticed now, not later."""
        conn = self._pg
        conn.poll()
        for _ in range(16):
            if not _readable(conn):
                return
            conn.poll()

    def _poll_pg(self) -> None:
        import psycopg2

        drop_all = False
        payloads: list[str] = []
        with self._lock:
            if self._pg is None:
                drop_all = True  # blind: nothing cached can be trusted
                if time.monotonic() >= self._pg_next_attempt:
                    self._connect_pg()
            else:
                try:
                    self._drain_pg()
                except psycopg2.Error as exc:
                    log.warning("lost the %s listener: %s", CHANNEL, exc)
                    with contextlib.suppress(psycopg2.Error):
                        self._pg.close()
                    self._pg = None
                    drop_all = True
                    self._connect_pg()
                else:
                    while self._pg.notifies:
                        payloads.append(self._pg.notifies.pop(0).payload)
        if drop_all:
            self._state.invalidate_all()
            return
        for payload in payloads:
            self.events_seen += 1
            kind, ident = parse_event(payload)
            if kind == "key":
                self._state.invalidate_keys()
            elif kind == "project" and ident:
                self._state.invalidate_project(ident)
            else:
                self._state.invalidate_all()


def _readable(conn: Any) -> bool:
    ready, _, _ = select.select([conn], [], [], 0)
    return bool(ready)


def _data_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA data_version").fetchone()
    return int(row[0])
