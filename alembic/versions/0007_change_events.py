"""change events: SQLite's change feed (registry/db/events.py)

One row per published event (``key:<id>``, ``project:<id>``, ``all:``), written in the
transaction that made the change, so a server on SQLite drops only what changed
instead of every cache on every commit of another connection. PostgreSQL keeps
``NOTIFY`` and leaves the table empty.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "change_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("payload", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_events")),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("change_events")
