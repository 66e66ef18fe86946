"""Migration 0006 (push_events.source) up and down on SQLite and PostgreSQL: existing
rows become 'git', or 'api' where the repository shows the API's commit writer made
the new commit; other values are refused; the way down keeps every row."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from dakora.registry.db.engine import downgrade, make_engine, upgrade

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


def _commit(repo: Path, message: str, who: tuple[str, str], when: datetime) -> str:
    """A commit of the real git CLI with a chosen committer, date and zone."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S%z")
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": who[0],
        "GIT_AUTHOR_EMAIL": who[1],
        "GIT_COMMITTER_NAME": who[0],
        "GIT_COMMITTER_EMAIL": who[1],
        "GIT_AUTHOR_DATE": stamp,
        "GIT_COMMITTER_DATE": stamp,
    }
    (repo / "f.txt").write_text(message)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(
        ["git", "commit", "-q", "-m", message], cwd=repo, env=env, check=True
    )
    out = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True
    )
    return out.stdout.strip()


def test_push_event_source_up_and_down(db_url: str, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    plus2 = NOW.astimezone(timezone(timedelta(hours=2)))
    pushed = _commit(repo, "start", ("Ada", "ada@example.com"), plus2 - timedelta(1))
    by_key = _commit(repo, "my words", ("key:ci", "k1@dakora"), NOW)
    by_user = _commit(
        repo, "Update prompt greeting to 1.1.0", ("Bo", "bo@example.com"), NOW
    )
    pushed_soon = _commit(repo, "tweak", ("Bo", "bo@example.com"), NOW)
    rows = [  # (id, old, new, result)
        (1, None, pushed, "ok"),
        (2, pushed, by_key, "ok"),
        (3, by_key, by_user, "ok"),
        (4, by_user, pushed_soon, "ok"),
        (5, pushed_soon, None, "rejected"),
    ]
    upgrade(db_url, "0004")
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO workspaces (id, slug, created_at) "
                    "VALUES ('w', 'acme', :t)"
                ),
                {"t": NOW},
            )
            for pid, path in (("p", str(repo)), ("gone", str(tmp_path / "nope"))):
                conn.execute(
                    text(
                        "INSERT INTO projects (id, workspace_id, slug, default_branch,"
                        " repo_path, created_at) VALUES (:id, 'w', :id, 'main', :path,"
                        " :t)"
                    ),
                    {"id": pid, "path": path, "t": NOW},
                )
            for rid, old, new, result in [*rows, (6, None, by_key, "ok")]:
                conn.execute(
                    text(
                        "INSERT INTO push_events (id, project_id, ref, old_sha, "
                        "new_sha, result, messages, created_at) VALUES (:id, :p, "
                        "'refs/heads/main', :old, :new, :result, '[]', :t)"
                    ),
                    {
                        "id": rid,
                        "p": "gone" if rid == 6 else "p",
                        "old": old,
                        "new": new,
                        "result": result,
                        "t": NOW + timedelta(seconds=2),
                    },
                )
        upgrade(db_url, "0006")
        with engine.connect() as conn:
            found = dict(conn.execute(text("SELECT id, source FROM push_events")).all())
        assert found == {
            1: "git",  # pushed a day after it was made, in +02:00
            2: "api",  # the writer's identity for a key
            3: "api",  # the writer's default message, UTC, just before the event
            4: "git",  # a message of the person's own
            5: "git",  # rejected: its commit was never kept
            6: "git",  # the repository is not on this machine
        }
        checks = {
            c["name"] for c in inspect(engine).get_check_constraints("push_events")
        }
        assert "ck_push_events_source" in checks
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO push_events (id, project_id, ref, result, "
                    "created_at, source) VALUES (99, 'p', 'refs/heads/x', 'ok', :t, "
                    "'cron')"
                ),
                {"t": NOW},
            )
        with engine.begin() as conn:  # a row written without a source is a git push
            conn.execute(
                text(
                    "INSERT INTO push_events (id, project_id, ref, result, created_at)"
                    " VALUES (7, 'p', 'refs/heads/x', 'ok', :t)"
                ),
                {"t": NOW},
            )
            later = conn.execute(text("SELECT source FROM push_events WHERE id = 7"))
            assert later.scalar() == "git"

        downgrade(db_url, "0004")
        columns = {c["name"] for c in inspect(engine).get_columns("push_events")}
        assert "source" not in columns
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM push_events")).scalar() == 7
        upgrade(db_url)
        with engine.connect() as conn:
            again = dict(conn.execute(text("SELECT id, source FROM push_events")).all())
        assert again[2] == "api" and again[7] == "git"
    finally:
        engine.dispose()
