"""Keyset paging, newest first, for the append-only tables (logs, push events).

``cursor`` is the ``next_cursor`` of the previous page: the id of its last row. Rows
with a smaller id follow; new rows arriving meanwhile never shift a page.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Engine, Row, Select

from dakora.registry.core import BadRequest
from dakora.registry.db.engine import read

MAX_CURSOR = 2**63 - 1  # ids are BIGINT (PostgreSQL) / INTEGER (SQLite): signed 64 bits


def parse_cursor(cursor: str) -> int:
    """The row id a cursor names: ASCII digits only (``'²'.isdigit()`` is True, so
    ``str.isdigit`` is not enough) and within a signed 64-bit integer; anything else
    is a 400 naming the parameter."""
    text = cursor.strip()
    if not text or not text.isascii() or not text.isdigit():
        raise BadRequest(
            f"invalid cursor {cursor!r}: pass the next_cursor of the previous page",
            parameter="cursor",
        )
    value = int(text)
    if value > MAX_CURSOR:
        raise BadRequest(f"invalid cursor {cursor!r}: out of range", parameter="cursor")
    return value


def fetch_page(
    engine: Engine,
    query: Select[Any],
    id_column: Column[Any],
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[Row[Any]], str | None]:
    """(rows of this page, next_cursor or None when this is the last page)."""
    if cursor is not None:
        query = query.where(id_column < parse_cursor(cursor))
    query = query.order_by(id_column.desc()).limit(limit + 1)
    with read(engine) as conn:
        rows = list(conn.execute(query).fetchall())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (str(rows[-1].id) if more and rows else None)
