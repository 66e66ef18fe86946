"""The server side of ``dakora.registry.db.events``: notice changes made elsewhere.

:meth:`EventWatcher.poll` runs before every authenticated request (and once a second
in a small background thread so nothing piles up when the server is idle):

- PostgreSQL: a ``PostgresListener`` (a dedicated connection that ``LISTEN``s);
  ``poll()`` is a non-blocking read of its socket. ``key:`` events drop the verified-key
  cache, ``project:<id>`` the project's ref resolutions. If the connection breaks,
  every cache is dropped on every request until it is back (events may have been lost).
- SQLite: a ``SqliteChangeCounter``: per request a comparison of the WAL-index header
  in shared memory (no query; ``PRAGMA data_version`` when it cannot be mapped, and
  once a second from the background thread as a cross-check); any commit by another
  connection changes both, and the server then reads the ``change_events`` rows
  written since (the same ``key:`` / ``project:`` / ``all:`` payloads as PostgreSQL's
  notifications) and drops just what they name. A commit that names nothing (a push
  log, an outbox row, a key's ``last_used_at``) drops nothing: while pushes run, reads
  of other projects stay on the warm path (docs/design.md §7). Rows it may have
  missed (pruned unseen, an unreadable feed) drop every cache.
- In-memory SQLite (tests): a single process, nothing to watch.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from dakora.registry.db import (
    CHANNEL,
    Engine,
    ListenerLost,
    PostgresListener,
    SqliteChangeCounter,
    is_process_local,
    parse_event,
)

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
        self._sqlite: SqliteChangeCounter | None = None
        self._sqlite_version: int | None = None
        self._pg: PostgresListener | None = None
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
                self._pg.close()
                self._pg = None

    def _background(self) -> None:
        while not self._stop.wait(BACKGROUND_INTERVAL_S):
            try:
                if self._kind == "sqlite":
                    self._poll_sqlite(query=True)  # also a check of the header's
                else:
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
        if is_process_local(self._engine) or not self._engine.url.database:
            return  # one process owns an in-memory database: nothing to watch
        self._sqlite = SqliteChangeCounter(self._engine.url.database)
        self._sqlite_version = self._sqlite.version()

    def _poll_sqlite(self, *, query: bool = False) -> None:
        """The WAL-index header when it can be read (no query while it is
        unchanged), else (and with ``query``: the background thread's once-a-second
        check) ``PRAGMA data_version``."""
        with self._lock:
            counter = self._sqlite
            if counter is None:
                return
            # the header changes with every commit (and with some checkpoints):
            # unchanged, nothing was committed; changed, data_version says whether
            # another connection committed
            if not query and counter.changed() is False:
                return
            try:
                version: int | None = counter.version()
            except ListenerLost:
                log.warning("cannot read PRAGMA data_version; dropping caches")
                version = None
            if version is not None and version == self._sqlite_version:
                return
            self._sqlite_version = version
            payloads = counter.events() if version is not None else None
        if payloads is None:
            if version is not None:
                log.warning("change events may have been missed; dropping caches")
            self.events_seen += 1
            self._state.invalidate_all()
            return
        self._apply(payloads)

    # PostgreSQL --------------------------------------------------------------------

    def _connect_pg(self) -> None:
        self._pg_next_attempt = time.monotonic() + RECONNECT_INTERVAL_S
        url = self._engine.url.set(drivername="postgresql")
        try:
            self._pg = PostgresListener(url.render_as_string(hide_password=False))
        except ListenerLost as exc:
            log.warning("cannot listen for %s events: %s", CHANNEL, exc)
            self._pg = None

    def _poll_pg(self) -> None:
        drop_all = False
        payloads: list[str] = []
        with self._lock:
            if self._pg is None:
                drop_all = True  # blind: nothing cached can be trusted
                if time.monotonic() >= self._pg_next_attempt:
                    self._connect_pg()
            else:
                try:
                    payloads = self._pg.drain()
                except ListenerLost as exc:
                    log.warning("lost the %s listener: %s", CHANNEL, exc)
                    self._pg.close()
                    self._pg = None
                    drop_all = True
                    self._connect_pg()
        if drop_all:
            self._state.invalidate_all()
            return
        self._apply(payloads)

    def _apply(self, payloads: list[str]) -> None:
        """Drop what each event names (``dakora.registry.db.events``)."""
        for payload in payloads:
            self.events_seen += 1
            kind, ident = parse_event(payload)
            if kind == "key":
                self._state.invalidate_keys()
            elif kind == "project" and ident:
                self._state.invalidate_project(ident)
            else:
                self._state.invalidate_all()
