"""initial schema: tenancy, keys, prompt index, audit, logs, quotas, mirror outbox

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UUID = sa.String(36)
SHA = sa.String(64)
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", UUID, nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("external_id", sa.String(200), nullable=True),
        _ts("created_at"),
        _ts("updated_at", nullable=True),
        _ts("deleted_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
        sa.UniqueConstraint("external_id", name="uq_users_external_id"),
    )
    op.create_table(
        "workspaces",
        sa.Column("id", UUID, nullable=False),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_workspaces"),
        sa.UniqueConstraint("slug", name="uq_workspaces_slug"),
    )
    op.create_table(
        "workspace_members",
        sa.Column("workspace_id", UUID, nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        _ts("created_at"),
        sa.CheckConstraint(
            "role IN ('owner', 'admin', 'member', 'viewer')",
            name="ck_workspace_members_role",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name="fk_workspace_members_workspace_id_workspaces",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_workspace_members_user_id_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "user_id", name="pk_workspace_members"),
    )
    op.create_index("ix_workspace_members_user_id", "workspace_members", ["user_id"])
    op.create_table(
        "projects",
        sa.Column("id", UUID, nullable=False),
        sa.Column("workspace_id", UUID, nullable=False),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("default_branch", sa.String(255), nullable=False),
        sa.Column("repo_path", sa.Text(), nullable=False),
        _ts("created_at"),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name="fk_projects_workspace_id_workspaces",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_projects"),
        sa.UniqueConstraint(
            "workspace_id", "slug", name="uq_projects_workspace_id_slug"
        ),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", UUID, nullable=False),
        sa.Column("project_id", UUID, nullable=False),
        sa.Column("user_id", UUID, nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("scopes", sa.String(64), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("suffix", sa.String(8), nullable=False),
        _ts("created_at"),
        _ts("expires_at", nullable=True),
        _ts("revoked_at", nullable=True),
        _ts("last_used_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_api_keys_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_api_keys_user_id_users",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_index("ix_api_keys_project_id", "api_keys", ["project_id"])
    op.create_table(
        "prompt_versions",
        sa.Column("project_id", UUID, nullable=False),
        sa.Column("prompt_id", sa.String(128), nullable=False),
        sa.Column("version", sa.String(128), nullable=False),
        sa.Column("commit_sha", SHA, nullable=False),
        sa.Column("blob_sha", SHA, nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("author", sa.String(400), nullable=True),
        _ts("committed_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_prompt_versions_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "project_id", "prompt_id", "version", name="pk_prompt_versions"
        ),
    )
    op.create_index(
        "ix_prompt_versions_project_id_commit_sha",
        "prompt_versions",
        ["project_id", "commit_sha"],
    )
    op.create_table(
        "prompt_heads",
        sa.Column("project_id", UUID, nullable=False),
        sa.Column("ref", sa.String(255), nullable=False),
        sa.Column("prompt_id", sa.String(128), nullable=False),
        sa.Column("version", sa.String(128), nullable=False),
        sa.Column("blob_sha", SHA, nullable=False),
        sa.Column("commit_sha", SHA, nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_prompt_heads_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "project_id", "ref", "prompt_id", name="pk_prompt_heads"
        ),
    )
    op.create_table(
        "refs",
        sa.Column("project_id", UUID, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("sha", SHA, nullable=False),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_refs_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "name", name="pk_refs"),
    )
    op.create_table(
        "push_events",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("project_id", UUID, nullable=False),
        sa.Column("user_id", UUID, nullable=True),
        sa.Column("key_id", UUID, nullable=True),
        sa.Column("ref", sa.String(255), nullable=False),
        sa.Column("old_sha", SHA, nullable=True),
        sa.Column("new_sha", SHA, nullable=True),
        sa.Column("result", sa.String(32), nullable=False),
        sa.Column("messages", sa.JSON(), nullable=True),
        _ts("created_at"),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_push_events_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_push_events"),
    )
    op.create_index(
        "ix_push_events_project_id_created_at",
        "push_events",
        ["project_id", "created_at"],
    )
    op.create_table(
        "logs",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("project_id", UUID, nullable=False),
        sa.Column("prompt_id", sa.String(128), nullable=True),
        sa.Column("version", sa.String(128), nullable=True),
        sa.Column("inputs", sa.JSON(), nullable=True),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("provider", sa.String(100), nullable=True),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("tokens_in", sa.Integer(), nullable=False),
        sa.Column("tokens_out", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        _ts("created_at"),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_logs_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_logs"),
    )
    op.create_index(
        "ix_logs_project_id_created_at", "logs", ["project_id", "created_at"]
    )
    op.create_index(
        "ix_logs_project_id_prompt_id_created_at",
        "logs",
        ["project_id", "prompt_id", "created_at"],
    )
    op.create_table(
        "workspace_quotas",
        sa.Column("workspace_id", UUID, nullable=False),
        sa.Column("tier", sa.String(64), nullable=False),
        sa.Column("tokens_used", sa.BigInteger(), nullable=False),
        sa.Column("tokens_limit", sa.BigInteger(), nullable=False),
        _ts("period_start"),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name="fk_workspace_quotas_workspace_id_workspaces",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", name="pk_workspace_quotas"),
    )
    op.create_table(
        "mirror_outbox",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("project_id", UUID, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("next_attempt_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
        _ts("created_at"),
        _ts("done_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_mirror_outbox_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_mirror_outbox"),
    )
    op.create_index(
        "ix_mirror_outbox_done_at_next_attempt_at",
        "mirror_outbox",
        ["done_at", "next_attempt_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_mirror_outbox_done_at_next_attempt_at", "mirror_outbox")
    op.drop_table("mirror_outbox")
    op.drop_table("workspace_quotas")
    op.drop_index("ix_logs_project_id_prompt_id_created_at", "logs")
    op.drop_index("ix_logs_project_id_created_at", "logs")
    op.drop_table("logs")
    op.drop_index("ix_push_events_project_id_created_at", "push_events")
    op.drop_table("push_events")
    op.drop_table("refs")
    op.drop_table("prompt_heads")
    op.drop_index("ix_prompt_versions_project_id_commit_sha", "prompt_versions")
    op.drop_table("prompt_versions")
    op.drop_index("ix_api_keys_project_id", "api_keys")
    op.drop_table("api_keys")
    op.drop_table("projects")
    op.drop_index("ix_workspace_members_user_id", "workspace_members")
    op.drop_table("workspace_members")
    op.drop_table("workspaces")
    op.drop_table("users")
