"""longer ref names: refs.name, prompt_heads.ref, push_events.ref up to 1024 chars

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (("refs", "name"), ("prompt_heads", "ref"), ("push_events", "ref"))


def _resize(old: int, new: int) -> None:
    for table, column in COLUMNS:
        # batch mode: SQLite rebuilds the table, PostgreSQL alters in place
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                column,
                existing_type=sa.String(old),
                type_=sa.String(new),
                existing_nullable=False,
            )


def upgrade() -> None:
    _resize(255, 1024)


def downgrade() -> None:
    _resize(1024, 255)
