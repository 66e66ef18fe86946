"""Tenancy on SQLite and PostgreSQL: users, workspaces, members, projects (with their
bare repositories) and monthly token quotas."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from dulwich.repo import Repo
from sqlalchemy import Engine

from dakora.registry import tenancy as t
from dakora.registry.core.errors import (
    AlreadyExists,
    BadRequest,
    ProjectNotFound,
    QuotaExceeded,
    UserNotFound,
    WorkspaceNotFound,
)
from dakora.registry.core.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        quota_tiers={"free": 100, "pro": 1000, "enterprise": 0},
    )


def test_workspace_slugs(db_engine: Engine) -> None:
    ws = t.create_workspace(db_engine, "acme-corp", name="Acme")
    assert t.get_workspace(db_engine, "acme-corp") == ws
    assert t.get_workspace(db_engine, ws.id) == ws
    with pytest.raises(AlreadyExists):
        t.create_workspace(db_engine, "acme-corp")
    for bad in ["Acme", "-acme", "acme-", "a/b", "..", "", "a" * 65, "a_b"]:
        with pytest.raises(BadRequest):
            t.create_workspace(db_engine, bad)
    with pytest.raises(WorkspaceNotFound):
        t.get_workspace(db_engine, "nope")


def test_workspace_kinds(db_engine: Engine, settings: Settings) -> None:
    team = t.create_workspace(db_engine, "acme")
    assert team.kind == "team" and team.to_dict()["kind"] == "team"
    ada = t.create_user(db_engine, email="ada@example.com")
    own = t.create_workspace(db_engine, "ada", owner_user_id=ada.id, kind="personal")
    assert t.get_workspace(db_engine, "ada").kind == "personal"
    assert {(w.slug, w.kind) for w in t.list_workspaces(db_engine)} == {
        ("acme", "team"),
        ("ada", "personal"),
    }
    assert [w.id for w in t.list_workspaces(db_engine, user_id=ada.id)] == [own.id]
    project = t.create_project(db_engine, settings, "ada", "default")
    assert project.workspace_kind == "personal"
    assert t.get_project(db_engine, "ada/default").workspace_kind == "personal"
    assert t.create_project(db_engine, settings, "acme", "web").workspace_kind == "team"
    with pytest.raises(BadRequest, match="kind 'solo'.*personal, team"):
        t.create_workspace(db_engine, "solo", kind="solo")
    with pytest.raises(WorkspaceNotFound):
        t.get_workspace(db_engine, "solo")


def test_users_members_and_roles(db_engine: Engine) -> None:
    ada = t.create_user(db_engine, email="Ada@Example.com", name="Ada")
    assert ada.email == "ada@example.com"
    assert t.get_or_create_user(db_engine, email="ada@example.com").id == ada.id
    with pytest.raises(AlreadyExists):
        t.create_user(db_engine, email="ada@example.com")
    ws = t.create_workspace(db_engine, "acme", owner_user_id=ada.id)
    assert t.get_role(db_engine, ws.id, ada.id) == "owner"
    bob = t.create_user(db_engine, email="bob@example.com")
    assert t.get_role(db_engine, ws.id, bob.id) is None
    t.set_member(db_engine, ws.id, bob.id, "viewer")
    assert t.get_role(db_engine, ws.id, bob.id) == "viewer"
    t.set_member(db_engine, ws.id, bob.id, "member")
    assert t.get_role(db_engine, ws.id, bob.id) == "member"
    assert {m.user_id: m.role for m in t.list_members(db_engine, ws.id)} == {
        ada.id: "owner",
        bob.id: "member",
    }
    assert [w.slug for w in t.list_workspaces(db_engine, user_id=bob.id)] == ["acme"]
    with pytest.raises(BadRequest):
        t.set_member(db_engine, ws.id, bob.id, "superuser")
    with pytest.raises(UserNotFound):
        t.set_member(db_engine, ws.id, "missing", "viewer")
    with pytest.raises(UserNotFound):
        t.create_workspace(db_engine, "other", owner_user_id="missing")
    # the failed create left nothing behind
    with pytest.raises(WorkspaceNotFound):
        t.get_workspace(db_engine, "other")
    assert t.role_at_least("admin", "member")
    assert not t.role_at_least("viewer", "member")
    assert not t.role_at_least(None, "viewer")
    assert t.remove_member(db_engine, ws.id, bob.id)
    assert t.get_role(db_engine, ws.id, bob.id) is None


def test_external_users_upsert_and_delete(db_engine: Engine) -> None:
    user, created = t.upsert_external_user(
        db_engine, "user_123", email="c@example.com", name="C"
    )
    assert created
    again, created = t.upsert_external_user(
        db_engine, "user_123", email="c2@example.com", name="C2"
    )
    assert not created and again.id == user.id and again.email == "c2@example.com"
    ws = t.create_workspace(db_engine, "c-personal", owner_user_id=user.id)
    t.delete_user(db_engine, user.id)
    assert t.get_user(db_engine, user.id).deleted_at is not None
    assert t.get_role(db_engine, ws.id, user.id) is None
    with pytest.raises(UserNotFound):
        t.delete_user(db_engine, "missing")


def test_project_has_a_bare_repo_and_is_found_by_id_or_name(
    db_engine: Engine, settings: Settings
) -> None:
    t.create_workspace(db_engine, "acme")
    project = t.create_project(
        db_engine, settings, "acme", "support-bot", default_branch="trunk"
    )
    assert (
        project.repo_path
        == (settings.data_dir / "repos" / "acme" / "support-bot.git").absolute()
    )
    repo = Repo(str(project.repo_path))
    try:
        assert repo.bare
        assert repo.refs.read_ref(b"HEAD") == b"ref: refs/heads/trunk"
    finally:
        repo.close()
    assert t.get_project(db_engine, project.id) == project
    assert t.get_project(db_engine, project.id.upper()) == project
    assert t.get_project(db_engine, "acme/support-bot") == project
    assert project.full_name == "acme/support-bot"
    assert project.default_ref == "refs/heads/trunk"
    for missing in ["acme/nope", "nope/support-bot", "support-bot", "a/b/c", ""]:
        with pytest.raises(ProjectNotFound):
            t.get_project(db_engine, missing)
    with pytest.raises(ProjectNotFound):
        t.get_project(db_engine, "00000000-0000-0000-0000-000000000000")
    assert [p.full_name for p in t.list_projects(db_engine)] == ["acme/support-bot"]


def test_project_name_clashes_and_bad_input(
    db_engine: Engine, settings: Settings
) -> None:
    t.create_workspace(db_engine, "acme")
    t.create_workspace(db_engine, "globex")
    t.create_project(db_engine, settings, "acme", "web")
    with pytest.raises(AlreadyExists):
        t.create_project(db_engine, settings, "acme", "web")
    # the same slug in another workspace is fine
    t.create_project(db_engine, settings, "globex", "web")
    with pytest.raises(WorkspaceNotFound):
        t.create_project(db_engine, settings, "nope", "web")
    with pytest.raises(BadRequest):
        t.create_project(db_engine, settings, "acme", "../evil")
    with pytest.raises(BadRequest):
        t.create_project(db_engine, settings, "acme", "x", default_branch="a..b")


def test_stale_repo_folder_is_refused_and_no_row_is_left(
    db_engine: Engine, settings: Settings
) -> None:
    t.create_workspace(db_engine, "acme")
    stale = t.project_repo_path(settings, "acme", "web")
    stale.mkdir(parents=True)
    (stale / "precious.txt").write_text("not ours")
    with pytest.raises(AlreadyExists, match="already exists"):
        t.create_project(db_engine, settings, "acme", "web")
    with pytest.raises(ProjectNotFound):
        t.get_project(db_engine, "acme/web")
    assert (stale / "precious.txt").exists()


def test_leftover_empty_repo_from_a_crash_is_reused(
    db_engine: Engine, settings: Settings
) -> None:
    t.create_workspace(db_engine, "acme")
    leftover = t.project_repo_path(settings, "acme", "web")
    leftover.parent.mkdir(parents=True)
    Repo.init_bare(str(leftover), mkdir=True).close()
    project = t.create_project(db_engine, settings, "acme", "web")
    assert project.repo_path == leftover
    repo = Repo(str(leftover))
    try:
        assert repo.refs.read_ref(b"HEAD") == b"ref: refs/heads/main"
    finally:
        repo.close()


def test_delete_project_removes_repo(db_engine: Engine, settings: Settings) -> None:
    t.create_workspace(db_engine, "acme")
    project = t.create_project(db_engine, settings, "acme", "web")
    t.delete_project(db_engine, project.id)
    assert not project.repo_path.exists()
    with pytest.raises(ProjectNotFound):
        t.get_project(db_engine, project.id)


def test_quota_counts_refuses_and_rolls_over(
    db_engine: Engine, settings: Settings
) -> None:
    ws = t.create_workspace(db_engine, "acme")
    november = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    status = t.add_tokens(db_engine, ws.id, 60, settings, now=november)
    assert (status.tier, status.tokens_used, status.tokens_limit) == ("free", 60, 100)
    assert status.period_start == datetime(2026, 11, 1, tzinfo=UTC)
    t.add_tokens(db_engine, ws.id, 40, settings, now=november)  # exactly at the limit
    with pytest.raises(QuotaExceeded, match="quota exceeded") as info:
        t.add_tokens(db_engine, ws.id, 1, settings, now=november)
    assert info.value.http_status == 429
    # a refused call counts nothing
    assert t.get_quota(db_engine, ws.id, settings, now=november).tokens_used == 100
    # a new month starts from zero on its own
    december = datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC)
    status = t.add_tokens(db_engine, ws.id, 10, settings, now=december)
    assert status.tokens_used == 10
    assert status.period_start == datetime(2026, 12, 1, tzinfo=UTC)
    # a tier change applies at once
    status = t.set_tier(db_engine, ws.id, "enterprise", settings)
    assert status.unlimited and status.remaining is None
    t.add_tokens(db_engine, ws.id, 10**9, settings, now=december)
    with pytest.raises(BadRequest):
        t.add_tokens(db_engine, ws.id, -1, settings)
    with pytest.raises(WorkspaceNotFound):
        t.add_tokens(db_engine, "missing", 1, settings)


def test_tier_limits_follow_settings(db_engine: Engine, settings: Settings) -> None:
    ws = t.create_workspace(db_engine, "acme")
    now = datetime(2026, 11, 20, tzinfo=UTC)
    t.add_tokens(db_engine, ws.id, 50, settings, now=now)
    tighter = settings.model_copy(update={"quota_tiers": {"free": 40}})
    with pytest.raises(QuotaExceeded):
        t.add_tokens(db_engine, ws.id, 1, tighter, now=now)
    assert t.get_quota(db_engine, ws.id, tighter, now=now).tokens_limit == 40


def test_concurrent_token_counts_are_exact(
    db_engine: Engine, settings: Settings
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    ws = t.create_workspace(db_engine, "acme")
    now = datetime(2026, 11, 20, tzinfo=UTC)

    def spend(_: int) -> bool:
        try:
            t.add_tokens(db_engine, ws.id, 7, settings, now=now)
            return True
        except QuotaExceeded:
            return False

    with ThreadPoolExecutor(max_workers=8) as pool:
        accepted = sum(pool.map(spend, range(20)))
    # free tier: 100 tokens; 14 × 7 = 98 fit, the 15th would pass the limit
    assert accepted == 14
    assert t.get_quota(db_engine, ws.id, settings, now=now).tokens_used == 98
