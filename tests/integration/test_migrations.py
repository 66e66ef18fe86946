"""Migrations: up → down → up on SQLite and a real PostgreSQL, and the schema they build
is exactly the one ``dakora.registry.db.tables`` describes."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, select

from dakora.registry.core.errors import ConfigError
from dakora.registry.db.engine import (
    current_revision,
    downgrade,
    ensure_migrated,
    head_revision,
    is_up_to_date,
    make_engine,
    migrations_dir,
    table_names,
    upgrade,
)
from dakora.registry.db.tables import metadata, utcnow, workspaces

pytestmark = pytest.mark.integration

EXPECTED_TABLES = sorted(t.name for t in metadata.sorted_tables)


def _schema_diff(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, metadata))
    finally:
        engine.dispose()


def test_up_down_up(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is None
        assert not is_up_to_date(engine)
        upgrade(db_url)
        assert current_revision(engine) == head_revision()
        assert is_up_to_date(engine)
        assert set(EXPECTED_TABLES) <= set(table_names(engine))
        assert _schema_diff(db_url) == []

        downgrade(db_url, "base")
        assert current_revision(engine) is None
        assert not is_up_to_date(engine)
        assert [t for t in table_names(engine) if t != "alembic_version"] == []

        upgrade(engine)  # an Engine works as well as a URL
        assert current_revision(engine) == head_revision()
        assert _schema_diff(db_url) == []
        ensure_migrated(engine)  # a no-op at head
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_data_survives_a_no_op_upgrade_and_timestamps_are_utc(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(insert(workspaces).values(id="w1", slug="acme"))
        upgrade(db_url)
        with engine.connect() as conn:
            row = conn.execute(select(workspaces)).one()
        assert row.slug == "acme"
        assert row.created_at.utcoffset() is not None
        assert abs((utcnow() - row.created_at).total_seconds()) < 3600
    finally:
        engine.dispose()


def test_unknown_revision_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="migration"):
        upgrade(f"sqlite:///{tmp_path / 'x.db'}", "no-such-revision")


def test_scripts_are_found_through_the_installed_package() -> None:
    folder = migrations_dir()
    assert (folder / "env.py").is_file()
    assert not (folder / "__init__.py").exists()  # would shadow the alembic library
    assert sorted(p.name for p in (folder / "versions").glob("0*.py"))[0] == (
        "0001_initial.py"
    )


def test_quick_head_agrees_with_alembic() -> None:
    from dakora.registry.db.engine import _quick_head

    assert _quick_head() == head_revision() is not None


def test_concurrent_upgrades_wait_for_each_other(db_url: str) -> None:
    """Replicas starting together all migrate; one does the work, none fails."""
    from concurrent.futures import ThreadPoolExecutor

    engines = [make_engine(db_url) for _ in range(3)]
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            list(pool.map(upgrade, engines))
        assert current_revision(engines[0]) == head_revision()
        assert _schema_diff(db_url) == []
    finally:
        for engine in engines:
            engine.dispose()


def test_rows_survive_every_step_up_and_down(db_url: str) -> None:
    """Batch migrations rebuild SQLite tables: the rows (and their foreign keys) must
    come through each revision, up and down."""
    from sqlalchemy import text

    long_ref = "refs/heads/" + "x" * 600
    upgrade(db_url, "0001")
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO workspaces (id, slug, created_at) "
                    "VALUES ('w', 'acme', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO projects (id, workspace_id, slug, default_branch, "
                    "repo_path, created_at) VALUES ('p', 'w', 'web', 'main', '/r', "
                    "CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO refs (project_id, name, sha, updated_at) "
                    "VALUES ('p', 'refs/heads/main', :sha, CURRENT_TIMESTAMP)"
                ),
                {"sha": "a" * 40},
            )
        upgrade(db_url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO refs (project_id, name, sha, updated_at) "
                    "VALUES ('p', :name, :sha, CURRENT_TIMESTAMP)"
                ),
                {"name": long_ref, "sha": "b" * 40},
            )
            assert conn.execute(text("SELECT count(*) FROM refs")).scalar() == 2
            conn.execute(text("DELETE FROM refs WHERE name = :n"), {"n": long_ref})
        downgrade(db_url, "0001")
        with engine.connect() as conn:
            names = conn.execute(text("SELECT name FROM refs")).scalars().all()
            projects_left = conn.execute(text("SELECT count(*) FROM projects")).scalar()
        assert names == ["refs/heads/main"] and projects_left == 1
        upgrade(db_url)
        assert _schema_diff(db_url) == []
        # foreign keys still cascade after the table rebuilds
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM projects WHERE id = 'p'"))
            assert conn.execute(text("SELECT count(*) FROM refs")).scalar() == 0
    finally:
        engine.dispose()


def test_workspace_kind_up_and_down(db_url: str) -> None:
    """0003 adds workspaces.kind ('team' for existing rows, 'personal' for the ones
    Clerk provisioning made), refuses other values, and goes away on the way down
    with every row kept."""
    from sqlalchemy import inspect, text
    from sqlalchemy.exc import IntegrityError

    upgrade(db_url, "0002")
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (id, email, external_id, created_at) VALUES "
                    "('u1', 'ada@example.com', 'user_clerk_1', CURRENT_TIMESTAMP), "
                    "('u2', 'bo@example.com', NULL, CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO workspaces (id, slug, name, created_at) VALUES "
                    "('w1', 'ada', 'Ada L (personal)', CURRENT_TIMESTAMP), "
                    "('w2', 'acme', 'Acme', CURRENT_TIMESTAMP), "
                    "('w3', 'bo', 'Bo (personal)', CURRENT_TIMESTAMP), "
                    "('w4', 'ada-team', 'Ada team', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO workspace_members (workspace_id, user_id, role, "
                    "created_at) VALUES "
                    "('w1', 'u1', 'owner', CURRENT_TIMESTAMP), "
                    "('w2', 'u1', 'member', CURRENT_TIMESTAMP), "
                    "('w3', 'u2', 'owner', CURRENT_TIMESTAMP), "
                    "('w4', 'u1', 'owner', CURRENT_TIMESTAMP)"
                )
            )
        upgrade(db_url, "0003")
        with engine.connect() as conn:
            kinds = dict(conn.execute(text("SELECT slug, kind FROM workspaces")).all())
            members = conn.execute(text("SELECT count(*) FROM workspace_members"))
            assert members.scalar() == 4
        # made by provisioning (a Clerk owner and the "(personal)" name): personal;
        # made with `dakora admin` (no Clerk id) or named otherwise: team
        assert kinds == {
            "ada": "personal",
            "acme": "team",
            "bo": "team",
            "ada-team": "team",
        }
        checks = {
            c["name"] for c in inspect(engine).get_check_constraints("workspaces")
        }
        assert "ck_workspaces_kind" in checks
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO workspaces (id, slug, kind, created_at) "
                    "VALUES ('w9', 'bad', 'solo', CURRENT_TIMESTAMP)"
                )
            )
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO workspaces (id, slug, created_at) "
                    "VALUES ('w5', 'later', CURRENT_TIMESTAMP)"
                )
            )
            later = conn.execute(text("SELECT kind FROM workspaces WHERE id = 'w5'"))
            assert later.scalar() == "team"

        downgrade(db_url, "0002")
        columns = {c["name"] for c in inspect(engine).get_columns("workspaces")}
        assert "kind" not in columns
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM workspaces")).scalar() == 5
            assert (
                conn.execute(text("SELECT count(*) FROM workspace_members")).scalar()
                == 4
            )
        upgrade(db_url)
        assert _schema_diff(db_url) == []
    finally:
        engine.dispose()


def test_outgoing_webhooks_up_and_down(db_url: str) -> None:
    """0005 adds webhook_endpoints and webhook_outbox (rows cascade with their
    project and endpoint, a bad status is refused) and drops them on the way down,
    every other row kept."""
    from sqlalchemy import inspect, text
    from sqlalchemy.exc import IntegrityError

    upgrade(db_url, "0004")
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO workspaces (id, slug, created_at) "
                    "VALUES ('w', 'acme', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO projects (id, workspace_id, slug, default_branch, "
                    "repo_path, created_at) VALUES ('p', 'w', 'web', 'main', '/r', "
                    "CURRENT_TIMESTAMP)"
                )
            )
        assert "webhook_endpoints" not in table_names(engine)
        upgrade(db_url, "0005")
        assert {"webhook_endpoints", "webhook_outbox"} <= set(table_names(engine))
        outbox_row = (
            "INSERT INTO webhook_outbox (endpoint_id, project_id, message_id, "
            "event_type, payload, status, attempts, next_attempt_at, created_at) "
            "VALUES ('e', 'p', :m, 'ref.updated', '{}', :s, 0, CURRENT_TIMESTAMP, "
            "CURRENT_TIMESTAMP)"
        )
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO webhook_endpoints (id, project_id, url, events, "
                    "secret, created_at) VALUES ('e', 'p', 'https://x.example/h', "
                    "'[\"ref.updated\"]', 'whsec_AAAA', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(text(outbox_row), {"m": "msg_1", "s": "pending"})
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text(outbox_row), {"m": "msg_2", "s": "lost"})
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text(outbox_row), {"m": "msg_1", "s": "pending"})  # same id
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM webhook_endpoints WHERE id = 'e'"))
            assert (
                conn.execute(text("SELECT count(*) FROM webhook_outbox")).scalar() == 0
            )
        downgrade(db_url, "0004")
        tables = set(inspect(engine).get_table_names())
        assert not tables & {"webhook_endpoints", "webhook_outbox"}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM projects")).scalar() == 1
        upgrade(db_url)
        assert _schema_diff(db_url) == []
    finally:
        engine.dispose()
