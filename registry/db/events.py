"""Change events between processes: how a server learns that a key was revoked or a
project's refs moved by *another* process (the ``dakora admin`` CLI, another replica).

Servers cache verified API keys and ref resolutions in memory; the warm path must not
query the database, yet a revocation must take effect on the next request. Writers call
:func:`publish` inside the transaction that made the change:

- **PostgreSQL**: ``pg_notify('dakora_events', '<kind>:<id>')``; the notification is
  delivered to every listening server at commit (and dropped on rollback). Servers
  ``LISTEN dakora_events`` on one dedicated connection and drain it before each
  authenticated request (a non-blocking socket read, no query).
- **SQLite** (one machine): a row in ``change_events`` (the payload), inserted in the
  same transaction, so it is visible exactly when the change is. Before each
  authenticated request servers compare the WAL-index header in the database's
  ``-shm`` file (shared memory that every commit of every process rewrites: 48 bytes
  read from a read-only mapping, no query, no system call) with the copy they saw
  last; when it changed, or when it cannot be mapped, they read ``PRAGMA
  data_version`` on a dedicated connection, which changes whenever any other
  connection committed a write, and then the ``change_events`` rows after the last
  one they saw: most commits (push logs, outboxes, ``last_used_at``) add none and
  drop nothing; a push drops that project's ref resolutions only (docs/design.md §7,
  "Learning of changes"). Writers keep the newest :data:`CHANGE_EVENTS_KEPT` rows; a
  server that finds rows missing after its last one (pruned unseen) drops every
  cache.

Kinds: ``key`` (an API key was revoked, expired early or deleted), ``project`` (refs or
index of a project changed), ``all`` (drop every cache).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import threading
from typing import Literal

from sqlalchemy import Connection, delete, insert, text

from dakora.registry.db.tables import change_events

CHANNEL = "dakora_events"
CHANGE_EVENTS_KEPT = 10_000  # rows of change_events the writers keep (SQLite)
MAX_EVENTS_READ = 1_000  # more than that unread at once: drop every cache instead

EventKind = Literal["key", "project", "all"]


def format_event(kind: EventKind, ident: str = "") -> str:
    return f"{kind}:{ident}"


def parse_event(payload: str) -> tuple[str, str]:
    """``"project:<uuid>"`` → ``("project", "<uuid>")``; unknown shapes → ``("all", "")``."""
    kind, sep, ident = payload.partition(":")
    if not sep or kind not in ("key", "project", "all"):
        return "all", ""
    return kind, ident


def publish(conn: Connection, kind: EventKind, ident: str = "") -> None:
    """Announce a change to every server process, delivered when ``conn`` commits.

    Call it inside the writing transaction: PostgreSQL delivers a ``NOTIFY`` at
    commit; SQLite gets a ``change_events`` row (the oldest past
    :data:`CHANGE_EVENTS_KEPT` are pruned in the same statement pair).
    """
    payload = format_event(kind, ident)
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CHANNEL, "payload": payload},
        )
    elif conn.dialect.name == "sqlite":
        added = conn.execute(insert(change_events).values(payload=payload))
        key = added.inserted_primary_key
        newest = int(key[0]) if key is not None else 0
        if newest > CHANGE_EVENTS_KEPT:
            conn.execute(
                delete(change_events).where(
                    change_events.c.id <= newest - CHANGE_EVENTS_KEPT
                )
            )


def publish_key_changed(conn: Connection, key_id: str) -> None:
    """An API key was revoked (or otherwise stopped being valid)."""
    publish(conn, "key", key_id)


def publish_project_changed(conn: Connection, project_id: str) -> None:
    """A project's refs or index changed (push, API write, import, restore)."""
    publish(conn, "project", project_id)


# -- listening (the servers' side) ----------------------------------------------------


class ListenerLost(Exception):
    """The change feed broke: events may have been missed (drop every cache)."""


WAL_HEADER_BYTES = 48  # one copy of SQLite's WalIndexHdr, at the start of the -shm file

# -shm path -> (inode, mapping). A mapping (and the descriptor behind it; mmap keeps a
# duplicate of its own) is opened once per process and never closed: closing *any*
# descriptor of a file drops every POSIX lock this process holds on it, SQLite's own
# locks on the -shm file included. _SHM_KEEP holds every one ever opened, so none is
# closed by the garbage collector either (a replaced -shm file, a new inode, is rare).
_SHM_MAPS: dict[str, tuple[int, mmap.mmap]] = {}
_SHM_KEEP: list[tuple[int, mmap.mmap]] = []
_SHM_LOCK = threading.Lock()


def _map_shm(database: str) -> mmap.mmap | None:
    """A read-only mapping of the first bytes of ``<database>-shm`` (WAL mode), or
    None when there is none to map (rollback journal, a platform without it)."""
    path = f"{database}-shm"
    try:
        info = os.stat(path)
        if info.st_size < WAL_HEADER_BYTES:
            return None
        with _SHM_LOCK:
            found = _SHM_MAPS.get(path)
            if found is not None and found[0] == info.st_ino:
                return found[1]
            fd = os.open(path, os.O_RDONLY)
            try:
                mapped = mmap.mmap(
                    fd, WAL_HEADER_BYTES, mmap.MAP_SHARED, mmap.PROT_READ
                )
            except (OSError, ValueError):
                _SHM_KEEP.append((fd, mmap.mmap(-1, 1)))  # never close fd (see above)
                return None
            _SHM_KEEP.append((fd, mapped))
            _SHM_MAPS[path] = (os.fstat(fd).st_ino, mapped)
            return mapped
    except (OSError, AttributeError):  # AttributeError: a platform without MAP_SHARED
        return None


class SqliteChangeCounter:
    """Notices commits to a SQLite file database made by *other* connections.

    :meth:`changed` is the per-request check: the WAL-index header (shared memory the
    committing connection rewrites before its COMMIT returns; a commit by any process
    changes it, a read never does, a checkpoint that restarts the log may) compared
    with the last one seen. It costs a 48-byte copy. When it changed, :meth:`version`
    (``PRAGMA data_version`` on a connection of its own, ~14 µs) says whether another
    connection committed; it is also the fallback when the ``-shm`` file cannot be
    mapped, and the background thread's once-a-second check. Then :meth:`events`
    says what changed (the ``change_events`` rows since the last call). The counter's
    own connection stays open, so SQLite keeps the ``-shm`` file (and its lock on it)
    for as long as the counter lives.
    """

    def __init__(self, database: str) -> None:
        import sqlite3

        self._error = sqlite3.Error
        self._conn = sqlite3.connect(
            database, check_same_thread=False, isolation_level=None
        )
        self._shm: mmap.mmap | None = None
        self._header = b""
        self._last_event: int | None = None  # the newest change_events id read
        try:  # a read opens the WAL (and maps the -shm file) for this connection
            self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            wal = self._conn.execute("PRAGMA journal_mode").fetchone()
        except self._error as exc:
            raise ListenerLost(str(exc)) from exc
        if wal is not None and str(wal[0]).lower() == "wal":
            self._shm = _map_shm(database)
            if self._shm is not None:
                self._header = self._shm[:WAL_HEADER_BYTES]
        with contextlib.suppress(self._error):  # unreadable: events() says so
            self._last_event = self._newest()  # where the feed is now

    @property
    def shared_memory(self) -> bool:
        """True when :meth:`changed` reads the WAL-index header (no query)."""
        return self._shm is not None

    def changed(self) -> bool | None:
        """Has anything been committed since the last call? None: this counter cannot
        tell without a query (use :meth:`version`). Not thread-safe: callers lock."""
        shm = self._shm
        if shm is None:
            return None
        header = shm[:WAL_HEADER_BYTES]
        if header == self._header:
            return False
        self._header = header
        return True

    def version(self) -> int:
        """The current counter; raises ``ListenerLost`` when it cannot be read."""
        try:
            row = self._conn.execute("PRAGMA data_version").fetchone()
        except self._error as exc:
            raise ListenerLost(str(exc)) from exc
        return int(row[0])

    def events(self) -> list[str] | None:
        """The payloads of the ``change_events`` rows committed since the last call.
        None when some may have been missed: rows pruned before this counter read
        them, more than :data:`MAX_EVENTS_READ` at once, or the table unreadable
        (now or at the last call); the caller then drops every cache, and the next
        call goes on from the rows after this one. Not thread-safe: callers lock."""
        try:
            if self._last_event is None:
                self._last_event = self._newest()
                return None
            rows = self._conn.execute(
                "SELECT id, payload FROM change_events WHERE id > ? ORDER BY id "
                "LIMIT ?",
                (self._last_event, MAX_EVENTS_READ + 1),
            ).fetchall()
            if len(rows) > MAX_EVENTS_READ:
                self._last_event = self._newest()  # the caller drops all after this
                return None
        except self._error:
            self._last_event = None
            return None
        if not rows:
            return []
        first = int(rows[0][0])
        missed = first != self._last_event + 1
        self._last_event = int(rows[-1][0])
        return None if missed else [str(r[1]) for r in rows]

    def _newest(self) -> int:
        """The id of the newest row ever written, pruned or not: AUTOINCREMENT's
        counter. Ids are consecutive (one writer at a time, never reused), so the
        next row is exactly one more, and a hole after the last one read means rows
        pruned unseen."""
        self._conn.execute("SELECT 1 FROM change_events LIMIT 1").fetchall()
        row = self._conn.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'change_events'"
        ).fetchone()
        return int(row[0]) if row is not None else 0

    def close(self) -> None:
        self._conn.close()


class PostgresListener:
    """A dedicated autocommit connection that ``LISTEN``s on :data:`CHANNEL`."""

    def __init__(self, url: str, connect_timeout_s: int = 3) -> None:
        """Connect and listen; raises ``ListenerLost`` when it cannot."""
        import psycopg2
        import psycopg2.extensions

        self._error = psycopg2.Error
        try:
            conn = psycopg2.connect(url, connect_timeout=connect_timeout_s)
            conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
            with conn.cursor() as cur:
                cur.execute(f"LISTEN {CHANNEL}")
        except psycopg2.Error as exc:
            raise ListenerLost(str(exc)) from exc
        self._conn = conn
        import select

        self._poller = select.poll()
        self._poller.register(conn.fileno(), select.POLLIN | select.POLLERR)

    def drain(self) -> list[str]:
        """Every payload the socket holds, without blocking. A terminated backend first
        sends an error message (consumed silently by one ``poll()``), then EOF: poll
        again while the socket is readable, so the loss is noticed now, not later.
        Raises ``ListenerLost``."""
        import select

        conn = self._conn
        try:
            if not conn.notifies and not self._poller.poll(0):
                return []  # nothing arrived since the last poll(): one system call
            conn.poll()
            for _ in range(16):
                ready, _, _ = select.select([conn], [], [], 0)
                if not ready:
                    break
                conn.poll()
        except self._error as exc:
            raise ListenerLost(str(exc)) from exc
        payloads = []
        while conn.notifies:
            payloads.append(conn.notifies.pop(0).payload)
        return payloads

    def close(self) -> None:
        with contextlib.suppress(self._error):  # closing a broken connection
            self._conn.close()
