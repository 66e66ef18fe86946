"""Workspace token quotas: a tier per workspace (``Settings.quota_tiers``: tokens per
calendar month, UTC; 0 = unlimited); ``add_tokens`` counts and refuses with
``QuotaExceeded`` past the month's limit; a new month starts a new period on its own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, select, update
from sqlalchemy.exc import IntegrityError

from dakora.registry.core import BadRequest, QuotaExceeded, Settings
from dakora.registry.db import (
    is_sqlite,
    transaction,
    utcnow,
    workspace_quotas,
)
from dakora.registry.tenancy.records import QuotaStatus
from dakora.registry.tenancy.workspaces import require_workspace


def month_start(now: datetime) -> datetime:
    """The first instant of ``now``'s calendar month, UTC."""
    now = now.astimezone(UTC)
    return datetime(now.year, now.month, 1, tzinfo=UTC)


def _quota_row(
    conn: Connection, workspace_id: str, settings: Settings, now: datetime
) -> Row[Any]:
    """The workspace's quota row, locked, created or rolled over as needed."""
    query = select(workspace_quotas).where(
        workspace_quotas.c.workspace_id == workspace_id
    )
    if not is_sqlite(conn):
        query = query.with_for_update()
    row = conn.execute(query).first()
    period = month_start(now)
    if row is None:
        require_workspace(conn, workspace_id)
        tier = settings.default_tier
        try:
            with conn.begin_nested():
                conn.execute(
                    workspace_quotas.insert().values(
                        workspace_id=workspace_id,
                        tier=tier,
                        tokens_used=0,
                        tokens_limit=settings.tier_limit(tier),
                        period_start=period,
                    )
                )
        except IntegrityError:
            pass  # created concurrently; read theirs below
        return conn.execute(query).one()
    limit = settings.quota_tiers.get(row.tier, row.tokens_limit)
    changes: dict[str, Any] = {}
    if row.period_start < period:
        changes.update(tokens_used=0, period_start=period)
    if limit != row.tokens_limit:
        changes["tokens_limit"] = limit
    if changes:
        conn.execute(
            update(workspace_quotas)
            .where(workspace_quotas.c.workspace_id == workspace_id)
            .values(**changes)
        )
        row = conn.execute(query).one()
    return row


def _status(row: Row[Any]) -> QuotaStatus:
    return QuotaStatus(
        workspace_id=row.workspace_id,
        tier=row.tier,
        tokens_used=int(row.tokens_used),
        tokens_limit=int(row.tokens_limit),
        period_start=row.period_start,
    )


def get_quota(
    engine: Engine,
    workspace_id: str,
    settings: Settings,
    *,
    now: datetime | None = None,
) -> QuotaStatus:
    """This month's usage of the workspace (creates the row on first use)."""
    with transaction(engine) as conn:
        return _status(_quota_row(conn, workspace_id, settings, now or utcnow()))


def add_tokens(
    engine: Engine,
    workspace_id: str,
    n: int,
    settings: Settings,
    *,
    now: datetime | None = None,
    conn: Connection | None = None,
) -> QuotaStatus:
    """Count ``n`` tokens against this month's quota, or raise ``QuotaExceeded``.

    Refused calls count nothing. Pass ``conn`` to take part in the caller's
    transaction (e.g. the one that writes the log row), else this is its own.
    """
    if n < 0:
        raise BadRequest("token counts cannot be negative")
    now = now or utcnow()
    if conn is not None:
        return _add_tokens(conn, workspace_id, n, settings, now)
    with transaction(engine) as own:
        return _add_tokens(own, workspace_id, n, settings, now)


def _add_tokens(
    conn: Connection, workspace_id: str, n: int, settings: Settings, now: datetime
) -> QuotaStatus:
    row = _quota_row(conn, workspace_id, settings, now)
    status = _status(row)
    if not status.unlimited and status.tokens_used + n > status.tokens_limit:
        raise QuotaExceeded(
            f"quota exceeded: workspace has used {status.tokens_used} of "
            f"{status.tokens_limit} tokens this month (tier {status.tier!r}); "
            f"{n} more would pass the limit",
            tier=status.tier,
            tokens_used=status.tokens_used,
            tokens_limit=status.tokens_limit,
            period_start=status.period_start.isoformat(),
        )
    if n:
        conn.execute(
            update(workspace_quotas)
            .where(workspace_quotas.c.workspace_id == workspace_id)
            .values(tokens_used=workspace_quotas.c.tokens_used + n)
        )
    return QuotaStatus(
        workspace_id=status.workspace_id,
        tier=status.tier,
        tokens_used=status.tokens_used + n,
        tokens_limit=status.tokens_limit,
        period_start=status.period_start,
    )


def set_tier(
    engine: Engine, workspace_id: str, tier: str, settings: Settings
) -> QuotaStatus:
    """Move a workspace to another quota tier (its usage this month is kept)."""
    if tier not in settings.quota_tiers:
        raise BadRequest(
            f"unknown quota tier {tier!r}: one of {', '.join(sorted(settings.quota_tiers))}"
        )
    limit = settings.tier_limit(tier)
    with transaction(engine) as conn:
        _quota_row(conn, workspace_id, settings, utcnow())
        conn.execute(
            update(workspace_quotas)
            .where(workspace_quotas.c.workspace_id == workspace_id)
            .values(tier=tier, tokens_limit=limit)
        )
        row = conn.execute(
            select(workspace_quotas).where(
                workspace_quotas.c.workspace_id == workspace_id
            )
        ).one()
    return _status(row)
