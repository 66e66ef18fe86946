"""Change events between processes: how a server learns that a key was revoked or a
project's refs moved by *another* process (the ``dakora admin`` CLI, another replica).

Servers cache verified API keys and ref resolutions in memory; the warm path must not
query the database, yet a revocation must take effect on the next request. Writers call
:func:`publish` inside the transaction that made the change:

- **PostgreSQL**: ``pg_notify('dakora_events', '<kind>:<id>')``; the notification is
  delivered to every listening server at commit (and dropped on rollback). Servers
  ``LISTEN dakora_events`` on one dedicated connection and drain it before each
  authenticated request (a non-blocking socket read, no query).
- **SQLite** (one machine): nothing to send. Servers read ``PRAGMA data_version`` on a
  dedicated connection before each authenticated request; it changes whenever any other
  connection committed a write, and the server then re-verifies what it cached.

Kinds: ``key`` (an API key was revoked, expired early or deleted), ``project`` (refs or
index of a project changed), ``all`` (drop every cache).
"""

from __future__ import annotations

import contextlib
from typing import Literal

from sqlalchemy import Connection, text

CHANNEL = "dakora_events"

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

    Call it inside the writing transaction. A no-op on SQLite (servers there watch
    ``PRAGMA data_version``, which every commit changes).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CHANNEL, "payload": format_event(kind, ident)},
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


class SqliteChangeCounter:
    """``PRAGMA data_version`` of a SQLite file database, on a connection of its own
    (it counts commits made by *other* connections: shared memory in WAL mode, no
    query plan, no disk)."""

    def __init__(self, database: str) -> None:
        import sqlite3

        self._error = sqlite3.Error
        self._conn = sqlite3.connect(
            database, check_same_thread=False, isolation_level=None
        )

    def version(self) -> int:
        """The current counter; raises ``ListenerLost`` when it cannot be read."""
        try:
            row = self._conn.execute("PRAGMA data_version").fetchone()
        except self._error as exc:
            raise ListenerLost(str(exc)) from exc
        return int(row[0])

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

    def drain(self) -> list[str]:
        """Every payload the socket holds, without blocking. A terminated backend first
        sends an error message (consumed silently by one ``poll()``), then EOF: poll
        again while the socket is readable, so the loss is noticed now, not later.
        Raises ``ListenerLost``."""
        import select

        conn = self._conn
        try:
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
