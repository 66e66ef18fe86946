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
