"""push event source: push_events.source, how a ref move came (git, api, promote, studio)

Existing rows become 'git', except accepted moves whose new commit the API's commit
writer made, which become 'api'. The database alone cannot tell them apart (both went
through the same pipeline), so the project's repository is read where it is on this
machine (docs/promotion.md, "Label history"): a commit is an API write when its
committer is the one the writer uses for a key or a user without an email
(``…@dakora``), or when it has the writer's default message ("Add prompt …",
"Update part …"), a UTC committer date at most 10 s before the push event, and the
event's old sha as its only parent. Rejected rows keep 'git': their commits were never
kept. Promotions and the Studio did not exist before this revision.

Revision ID: 0006
Revises: 0005 (re-chained after 0005_outgoing_webhooks)
Create Date: 2026-12-04
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SOURCES = "'git', 'api', 'promote', 'studio'"
DEFAULT_MESSAGE = re.compile(rb"^(Add|Update|Delete) (prompt|part) ")
WINDOW_SECONDS = 10


def upgrade() -> None:
    # batch mode: SQLite rebuilds the table, PostgreSQL alters in place
    with op.batch_alter_table("push_events") as batch:
        batch.add_column(
            sa.Column("source", sa.String(16), nullable=False, server_default="git")
        )
        batch.create_check_constraint(
            op.f("ck_push_events_source"), f"source IN ({SOURCES})"
        )
    api_ids = _api_write_ids(op.get_bind())
    for start in range(0, len(api_ids), 500):
        chunk = api_ids[start : start + 500]
        op.execute(
            sa.text(
                "UPDATE push_events SET source = 'api' WHERE id IN :ids"
            ).bindparams(sa.bindparam("ids", value=chunk, expanding=True))
        )


def downgrade() -> None:
    with op.batch_alter_table("push_events") as batch:
        batch.drop_constraint(op.f("ck_push_events_source"), type_="check")
        batch.drop_column("source")


def _api_write_ids(bind: Any) -> list[int]:
    """Ids of accepted rows whose new commit looks made by the API's commit writer."""
    rows = bind.execute(
        sa.text(
            "SELECT e.id, e.old_sha, e.new_sha, e.created_at, p.repo_path "
            "FROM push_events e JOIN projects p ON p.id = e.project_id "
            "WHERE e.result = 'ok' AND e.new_sha IS NOT NULL ORDER BY p.repo_path"
        )
    ).all()
    found: list[int] = []
    repos: dict[str, Any] = {}
    try:
        for row in rows:
            repo = _open(repos, row.repo_path)
            if repo is not None and _made_by_the_api(repo, row):
                found.append(int(row.id))
    finally:
        for repo in repos.values():
            if repo is not None:
                repo.close()
    return found


def _open(repos: dict[str, Any], path: str) -> Any:
    if path not in repos:
        try:
            from dulwich.repo import Repo

            repos[path] = Repo(path)
        except Exception:  # noqa: BLE001 - not on this machine (a replica), or gone
            repos[path] = None
    return repos[path]


def _made_by_the_api(repo: Any, row: Any) -> bool:
    try:
        commit = repo[row.new_sha.encode("ascii")]
        committer: bytes = commit.committer
        message: bytes = commit.message
    except Exception:  # noqa: BLE001 - missing object, a tag, unreadable
        return False
    if committer != commit.author:
        return False
    if committer.rstrip().endswith(b"@dakora>"):
        return True
    created = row.created_at
    if isinstance(created, str):  # SQLite without the column type's conversion
        created = datetime.fromisoformat(created)
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    age = created.timestamp() - commit.commit_time
    parents = [p.decode("ascii") for p in commit.parents]
    return (
        commit.commit_timezone == 0
        and 0 <= age <= WINDOW_SECONDS
        and (parents == [row.old_sha] if row.old_sha else len(parents) <= 1)
        and DEFAULT_MESSAGE.match(message) is not None
    )
