"""Clerk webhook provisioning on SQLite and PostgreSQL: users, personal workspaces and
default projects, idempotent under redelivery, deletion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from dakora.registry import tenancy as t
from dakora.registry.core.errors import BadRequest, ProjectNotFound, WorkspaceNotFound
from dakora.registry.core.settings import Settings
from dakora.registry.tenancy.provisioning import (
    ClerkUser,
    handle_clerk_event,
    workspace_slug_candidates,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def _user_event(kind: str, uid: str = "user_2ada", **data: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": uid,
        "object": "user",
        "username": None,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "primary_email_address_id": "idn_2",
        "email_addresses": [
            {"id": "idn_1", "email_address": "old@example.com"},
            {"id": "idn_2", "email_address": "Ada@Example.com"},
        ],
    }
    body.update(data)
    return {"type": kind, "object": "event", "data": body}


def test_user_created_provisions_workspace_and_project(
    db_engine: Engine, settings: Settings
) -> None:
    result = handle_clerk_event(db_engine, settings, _user_event("user.created"))
    assert result.action == "created"
    assert result.user is not None and result.workspace and result.project
    assert result.user.email == "ada@example.com"
    assert result.user.name == "Ada Lovelace"
    assert result.user.external_id == "user_2ada"
    assert result.workspace.slug == "ada"
    assert result.workspace.kind == "personal"
    assert t.get_workspace(db_engine, "ada").kind == "personal"
    assert t.get_role(db_engine, result.workspace.id, result.user.id) == "owner"
    project = t.get_project(db_engine, "ada/default")
    assert project.id == result.project.id
    assert project.workspace_kind == "personal"
    assert project.to_dict()["workspace_kind"] == "personal"
    assert (project.repo_path / "HEAD").is_file()
    assert result.to_dict()["project"] == "ada/default"


def test_redelivery_is_idempotent(db_engine: Engine, settings: Settings) -> None:
    first = handle_clerk_event(db_engine, settings, _user_event("user.created"))
    again = handle_clerk_event(db_engine, settings, _user_event("user.created"))
    assert again.action == "updated"
    assert again.user is not None and first.user is not None
    assert again.user.id == first.user.id
    assert again.workspace == first.workspace
    assert again.project is not None and first.project is not None
    assert again.project.id == first.project.id
    assert len(t.list_workspaces(db_engine)) == 1
    assert len(t.list_projects(db_engine)) == 1


def test_user_updated_changes_email_and_name(
    db_engine: Engine, settings: Settings
) -> None:
    handle_clerk_event(db_engine, settings, _user_event("user.created"))
    result = handle_clerk_event(
        db_engine,
        settings,
        _user_event(
            "user.updated",
            first_name="Augusta",
            primary_email_address_id="idn_1",
        ),
    )
    assert result.action == "updated"
    assert result.user is not None
    assert (result.user.email, result.user.name) == (
        "old@example.com",
        "Augusta Lovelace",
    )
    assert [w.slug for w in t.list_workspaces(db_engine)] == ["ada"]


def test_user_updated_before_created_still_provisions(
    db_engine: Engine, settings: Settings
) -> None:
    result = handle_clerk_event(db_engine, settings, _user_event("user.updated"))
    assert result.action == "created"
    assert t.get_project(db_engine, "ada/default")


def test_slug_collision_gets_a_stable_suffix(
    db_engine: Engine, settings: Settings
) -> None:
    t.create_workspace(db_engine, "ada")
    result = handle_clerk_event(db_engine, settings, _user_event("user.created"))
    expected = workspace_slug_candidates(
        ClerkUser("user_2ada", "ada@example.com", None, None)
    )[1]
    assert result.workspace is not None
    assert result.workspace.slug == expected
    assert expected.startswith("ada-") and len(expected) == len("ada-") + 6


def test_username_preferred_and_slugified(
    db_engine: Engine, settings: Settings
) -> None:
    result = handle_clerk_event(
        db_engine, settings, _user_event("user.created", username="Grace_Hopper!")
    )
    assert result.workspace is not None and result.workspace.slug == "grace-hopper"


def test_existing_email_user_is_claimed(db_engine: Engine, settings: Settings) -> None:
    admin_made = t.create_user(db_engine, email="ada@example.com", name="Ada")
    result = handle_clerk_event(db_engine, settings, _user_event("user.created"))
    assert result.user is not None and result.user.id == admin_made.id
    assert result.user.external_id == "user_2ada"


def test_a_team_workspace_owned_already_is_not_the_personal_one(
    db_engine: Engine, settings: Settings
) -> None:
    """A user made owner of a team workspace with ``dakora admin`` before signing up
    still gets a personal workspace of their own."""
    admin_made = t.create_user(db_engine, email="ada@example.com", name="Ada")
    team = t.create_workspace(db_engine, "acme", owner_user_id=admin_made.id)
    assert team.kind == "team"
    result = handle_clerk_event(db_engine, settings, _user_event("user.created"))
    assert result.workspace is not None and result.workspace.slug == "ada"
    assert result.workspace.kind == "personal"
    assert {(w.slug, w.kind) for w in t.list_workspaces(db_engine)} == {
        ("acme", "team"),
        ("ada", "personal"),
    }
    again = handle_clerk_event(db_engine, settings, _user_event("user.updated"))
    assert again.workspace == result.workspace


def test_email_of_another_account_is_not_stolen(
    db_engine: Engine, settings: Settings
) -> None:
    handle_clerk_event(db_engine, settings, _user_event("user.created"))
    other = handle_clerk_event(
        db_engine, settings, _user_event("user.created", uid="user_2eve")
    )
    assert other.user is not None and other.user.email is None
    assert other.workspace is not None and other.workspace.slug != "ada"
    ada = t.find_user(db_engine, external_id="user_2ada")
    assert ada is not None and ada.email == "ada@example.com"


def test_user_deleted_removes_personal_workspace_only(
    db_engine: Engine, settings: Settings
) -> None:
    created = handle_clerk_event(db_engine, settings, _user_event("user.created"))
    assert created.user is not None and created.project is not None
    shared = t.create_workspace(db_engine, "shared", owner_user_id=created.user.id)
    bob = t.create_user(db_engine, email="bob@example.com")
    t.set_member(db_engine, shared.id, bob.id, "admin")
    repo = created.project.repo_path

    result = handle_clerk_event(
        db_engine,
        settings,
        {"type": "user.deleted", "data": {"id": "user_2ada", "deleted": True}},
    )
    assert result.action == "deleted"
    assert result.deleted_workspaces == ("ada",)
    with pytest.raises(WorkspaceNotFound):
        t.get_workspace(db_engine, "ada")
    with pytest.raises(ProjectNotFound):
        t.get_project(db_engine, "ada/default")
    assert not repo.exists()
    assert t.get_workspace(db_engine, "shared").id == shared.id
    assert t.get_role(db_engine, shared.id, created.user.id) is None
    gone = t.find_user(db_engine, external_id="user_2ada")
    assert gone is not None and gone.deleted_at is not None

    again = handle_clerk_event(
        db_engine, settings, {"type": "user.deleted", "data": {"id": "user_2ada"}}
    )
    assert again.action == "ignored"


def test_other_events_ignored(db_engine: Engine, settings: Settings) -> None:
    result = handle_clerk_event(
        db_engine, settings, {"type": "session.created", "data": {"id": "sess_1"}}
    )
    assert result.action == "ignored"
    assert t.list_workspaces(db_engine) == []


@pytest.mark.parametrize(
    "event",
    [
        {"data": {"id": "user_1"}},
        {"type": "user.created"},
        {"type": "user.created", "data": {"id": ""}},
        {"type": "user.deleted", "data": {}},
    ],
)
def test_malformed_events_are_bad_requests(
    db_engine: Engine, settings: Settings, event: dict[str, Any]
) -> None:
    with pytest.raises(BadRequest):
        handle_clerk_event(db_engine, settings, event)
