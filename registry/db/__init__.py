"""dakora.registry.db — tables, engines, transactions and migrations.

Storage code imports from here: ``make_engine``, ``transaction``, ``upgrade``,
``downgrade``, the tables of docs/design.md §8, keyset paging (``paging``) and
PostgreSQL advisory locks (``advisory``). ``Engine`` and ``Connection`` are the
handles other layers pass around without importing SQLAlchemy themselves.
"""

from sqlalchemy import Connection, Engine

from dakora.registry.db.advisory import AdvisoryProjectLock, is_postgresql
from dakora.registry.db.engine import (
    current_revision,
    downgrade,
    ensure_migrated,
    head_revision,
    is_sqlite,
    is_up_to_date,
    make_engine,
    migrations_dir,
    read,
    table_names,
    transaction,
    translate_errors,
    upgrade,
)
from dakora.registry.db.events import (
    CHANNEL,
    parse_event,
    publish,
    publish_key_changed,
    publish_project_changed,
)
from dakora.registry.db.paging import fetch_page
from dakora.registry.db.tables import (
    PUSH_SOURCES,
    REF_LEN,
    ROLES,
    SCOPES,
    WORKSPACE_KINDS,
    UTCDateTime,
    api_keys,
    logs,
    metadata,
    mirror_outbox,
    projects,
    prompt_heads,
    prompt_versions,
    push_events,
    refs,
    users,
    utcnow,
    webhook_deliveries,
    workspace_members,
    workspace_quotas,
    workspaces,
)

__all__ = [
    "AdvisoryProjectLock",
    "Connection",
    "Engine",
    "is_postgresql",
    "fetch_page",
    "CHANNEL",
    "parse_event",
    "publish",
    "publish_key_changed",
    "publish_project_changed",
    "PUSH_SOURCES",
    "REF_LEN",
    "ROLES",
    "SCOPES",
    "WORKSPACE_KINDS",
    "UTCDateTime",
    "api_keys",
    "current_revision",
    "downgrade",
    "ensure_migrated",
    "head_revision",
    "is_sqlite",
    "is_up_to_date",
    "logs",
    "make_engine",
    "metadata",
    "migrations_dir",
    "mirror_outbox",
    "projects",
    "prompt_heads",
    "prompt_versions",
    "push_events",
    "read",
    "refs",
    "table_names",
    "transaction",
    "translate_errors",
    "upgrade",
    "users",
    "utcnow",
    "webhook_deliveries",
    "workspace_members",
    "workspace_quotas",
    "workspaces",
]
