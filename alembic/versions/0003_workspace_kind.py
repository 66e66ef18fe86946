"""workspace kinds: workspaces.kind, 'personal' (a user's own) or 'team'

Existing workspaces become 'team', except those Clerk provisioning made: named
"… (personal)" and owned by a user with a Clerk id, which become 'personal'.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL = """
UPDATE workspaces SET kind = 'personal'
WHERE name LIKE '% (personal)'
  AND id IN (
    SELECT m.workspace_id FROM workspace_members m
    JOIN users u ON u.id = m.user_id
    WHERE m.role = 'owner' AND u.external_id IS NOT NULL
  )
"""


def upgrade() -> None:
    # batch mode: SQLite rebuilds the table, PostgreSQL alters in place
    with op.batch_alter_table("workspaces") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(16), nullable=False, server_default="team")
        )
        batch.create_check_constraint(
            op.f("ck_workspaces_kind"), "kind IN ('personal', 'team')"
        )
    op.execute(BACKFILL)


def downgrade() -> None:
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_constraint(op.f("ck_workspaces_kind"), type_="check")
        batch.drop_column("kind")
