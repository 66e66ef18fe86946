"""The database schema (docs/design.md §8) as SQLAlchemy Core tables. No ORM.

Identifiers of tenants and keys are UUID strings (portable across SQLite and PostgreSQL);
append-only streams (push events, logs, outbox) use integer ids. Every timestamp is a
timezone-aware UTC ``datetime`` in Python (``UTCDateTime``), whatever the backend stores.
Migrations in ``alembic/versions`` create exactly these tables; a test compares them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

ROLES: tuple[str, ...] = ("owner", "admin", "member", "viewer")
SCOPES: tuple[str, ...] = ("read", "write")
WORKSPACE_KINDS: tuple[str, ...] = ("personal", "team")


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always gives back aware UTC datetimes.

    SQLite has no time zones: values are stored as UTC and re-tagged on the way out.
    A naive datetime on the way in is taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        stamp: datetime = value
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        stamp = stamp.astimezone(UTC)
        if dialect.name == "sqlite":
            return stamp.replace(tzinfo=None)
        return stamp

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


# Integer primary keys that autoincrement on both backends.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")
UUID_LEN = 36
SHA_LEN = 64  # 40 for SHA-1 today; room for SHA-256 repositories
REF_LEN = 1024  # full ref names (git itself sets no small limit)


def _uuid_pk() -> Column[str]:
    return Column("id", String(UUID_LEN), primary_key=True)


def _project_fk() -> Column[str]:
    return Column(
        "project_id",
        String(UUID_LEN),
        ForeignKey("projects.id", ondelete="CASCADE"),
        nullable=False,
    )


users = Table(
    "users",
    metadata,
    _uuid_pk(),
    Column("email", String(320), nullable=True),
    Column("name", String(200), nullable=True),
    Column("external_id", String(200), nullable=True),  # Clerk user id
    Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("updated_at", UTCDateTime(), nullable=True),
    Column("deleted_at", UTCDateTime(), nullable=True),
    UniqueConstraint("email"),
    UniqueConstraint("external_id"),
)

workspaces = Table(
    "workspaces",
    metadata,
    _uuid_pk(),
    Column("slug", String(64), nullable=False),
    Column("name", String(200), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    # personal: a user's own (made by Clerk provisioning); team: shared (the default)
    Column("kind", String(16), nullable=False, server_default="team"),
    UniqueConstraint("slug"),
    CheckConstraint("kind IN ('personal', 'team')", name="kind"),
)

workspace_members = Table(
    "workspace_members",
    metadata,
    Column(
        "workspace_id",
        String(UUID_LEN),
        ForeignKey("workspaces.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "user_id",
        String(UUID_LEN),
        ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("role", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    CheckConstraint("role IN ('owner', 'admin', 'member', 'viewer')", name="role"),
    Index("ix_workspace_members_user_id", "user_id"),
)

projects = Table(
    "projects",
    metadata,
    _uuid_pk(),
    Column(
        "workspace_id",
        String(UUID_LEN),
        ForeignKey("workspaces.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("slug", String(64), nullable=False),
    Column("name", String(200), nullable=True),
    Column("default_branch", String(255), nullable=False, default="main"),
    Column("repo_path", Text(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    UniqueConstraint("workspace_id", "slug"),
)

api_keys = Table(
    "api_keys",
    metadata,
    _uuid_pk(),
    _project_fk(),
    Column(
        "user_id",
        String(UUID_LEN),
        ForeignKey("users.id", ondelete="SET NULL"),
        nullable=True,
    ),
    Column("name", String(200), nullable=False, default=""),
    Column("scopes", String(64), nullable=False),  # "read" or "read write"
    Column("key_hash", String(64), nullable=False),  # hex HMAC-SHA256
    Column("prefix", String(16), nullable=False),
    Column("suffix", String(8), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Column("last_used_at", UTCDateTime(), nullable=True),
    UniqueConstraint("key_hash"),
    Index("ix_api_keys_project_id", "project_id"),
)

prompt_versions = Table(
    "prompt_versions",
    metadata,
    Column(
        "project_id",
        String(UUID_LEN),
        ForeignKey("projects.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("prompt_id", String(128), primary_key=True),
    Column("version", String(128), primary_key=True),
    Column("commit_sha", String(SHA_LEN), nullable=False),
    Column("blob_sha", String(SHA_LEN), nullable=False),
    Column("path", Text(), nullable=False),
    Column("description", Text(), nullable=True),
    Column("author", String(400), nullable=True),
    Column("committed_at", UTCDateTime(), nullable=True),
    Index("ix_prompt_versions_project_id_commit_sha", "project_id", "commit_sha"),
)

prompt_heads = Table(
    "prompt_heads",
    metadata,
    Column(
        "project_id",
        String(UUID_LEN),
        ForeignKey("projects.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("ref", String(REF_LEN), primary_key=True),  # full ref name
    Column("prompt_id", String(128), primary_key=True),
    Column("version", String(128), nullable=False),
    Column("blob_sha", String(SHA_LEN), nullable=False),
    # the commit this row was written at; where the ref is: refs.sha (same transaction)
    Column("commit_sha", String(SHA_LEN), nullable=False),
    Column("path", Text(), nullable=False),
    Column("description", Text(), nullable=True),
)

refs = Table(
    "refs",
    metadata,
    Column(
        "project_id",
        String(UUID_LEN),
        ForeignKey("projects.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("name", String(REF_LEN), primary_key=True),  # full ref name
    Column("sha", String(SHA_LEN), nullable=False),  # peeled commit sha
    Column("updated_at", UTCDateTime(), nullable=False, default=utcnow),
)

PUSH_SOURCES: tuple[str, ...] = ("git", "api", "promote", "studio")
PUSH_SOURCES_SQL = ", ".join(f"'{s}'" for s in PUSH_SOURCES)

push_events = Table(
    "push_events",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    _project_fk(),
    Column("user_id", String(UUID_LEN), nullable=True),
    Column("key_id", String(UUID_LEN), nullable=True),
    Column("ref", String(REF_LEN), nullable=False),
    Column("old_sha", String(SHA_LEN), nullable=True),
    Column("new_sha", String(SHA_LEN), nullable=True),
    Column("result", String(32), nullable=False),  # ok | rejected | error…
    Column("messages", JSON(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    # how the move came: a git push, an API write, a promotion, the Studio
    # (docs/promotion.md); migration 0006
    Column("source", String(16), nullable=False, server_default="git"),
    CheckConstraint(f"source IN ({PUSH_SOURCES_SQL})", name="source"),
    Index("ix_push_events_project_id_created_at", "project_id", "created_at"),
)

logs = Table(
    "logs",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    _project_fk(),
    Column("prompt_id", String(128), nullable=True),
    Column("version", String(128), nullable=True),
    Column("inputs", JSON(), nullable=True),
    Column("output", Text(), nullable=True),
    Column("provider", String(100), nullable=True),
    Column("model", String(200), nullable=True),
    Column("tokens_in", Integer(), nullable=False, default=0),
    Column("tokens_out", Integer(), nullable=False, default=0),
    Column("cost", Float(), nullable=True),
    Column("latency_ms", Integer(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    Index("ix_logs_project_id_created_at", "project_id", "created_at"),
    Index(
        "ix_logs_project_id_prompt_id_created_at",
        "project_id",
        "prompt_id",
        "created_at",
    ),
)

workspace_quotas = Table(
    "workspace_quotas",
    metadata,
    Column(
        "workspace_id",
        String(UUID_LEN),
        ForeignKey("workspaces.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("tier", String(64), nullable=False),
    Column("tokens_used", BigInteger(), nullable=False, default=0),
    Column("tokens_limit", BigInteger(), nullable=False, default=0),  # 0 = unlimited
    Column("period_start", UTCDateTime(), nullable=False),
)

# SQLite's change feed (registry/db/events.py): one row per published event, written
# in the transaction that made the change; servers read the rows after the last one
# they saw. PostgreSQL sends NOTIFY instead and leaves this table empty. Old rows are
# pruned by the writers (the newest CHANGE_EVENTS_KEPT stay).
change_events = Table(
    "change_events",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("payload", String(128), nullable=False),
    sqlite_autoincrement=True,  # ids are never reused, even after pruning
)

mirror_outbox = Table(
    "mirror_outbox",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    _project_fk(),
    Column("kind", String(64), nullable=False),
    Column("payload", JSON(), nullable=True),
    Column("attempts", Integer(), nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("last_error", Text(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("done_at", UTCDateTime(), nullable=True),
    Index("ix_mirror_outbox_done_at_next_attempt_at", "done_at", "next_attempt_at"),
)

# Webhook delivery ids seen (Svix ``svix-id``), kept for the signature's tolerance
# window so a replayed delivery is acknowledged without acting on it (across replicas
# and restarts). Old rows are pruned on each new delivery.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("source", String(32), primary_key=True),
    Column("delivery_id", String(255), primary_key=True),
    Column("received_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("result", JSON(), nullable=True),  # the first delivery's answer
    Index("ix_webhook_deliveries_received_at", "received_at"),
)
# Outgoing webhooks (docs/webhooks.md): a project's subscriptions, and the outbox of
# signed deliveries the push pipeline leaves behind (one row per endpoint and event,
# written in the push's own transaction; the row is also the delivery log).
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    _uuid_pk(),
    _project_fk(),
    Column("url", Text(), nullable=False),
    Column("events", JSON(), nullable=False),  # list of event types
    # the Standard Webhooks signing secret (whsec_…): stored as is, it must sign
    Column("secret", String(128), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    UniqueConstraint("project_id", "url"),
)
webhook_outbox = Table(
    "webhook_outbox",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column(
        "endpoint_id",
        String(UUID_LEN),
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
        nullable=False,
    ),
    _project_fk(),
    Column("message_id", String(64), nullable=False),  # the webhook-id header
    Column("event_type", String(64), nullable=False),
    Column("payload", JSON(), nullable=False),
    Column("status", String(16), nullable=False, default="pending"),
    Column("attempts", Integer(), nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("claimed_until", UTCDateTime(), nullable=True),
    Column("last_attempt_at", UTCDateTime(), nullable=True),
    Column("last_status_code", Integer(), nullable=True),
    Column("last_error", Text(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("delivered_at", UTCDateTime(), nullable=True),
    CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
    UniqueConstraint("message_id"),
    Index("ix_webhook_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    Index("ix_webhook_outbox_endpoint_id_id", "endpoint_id", "id"),
)
