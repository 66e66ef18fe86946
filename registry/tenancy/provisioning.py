"""Provisioning from Clerk's ``user.*`` webhooks (after ``SvixVerifier`` passed them).

- ``user.created`` / ``user.updated``: create or update the user (by Clerk id), and make
  sure they own a personal workspace (``kind`` personal; slug from their username or
  email, made unique) holding a project ``default``. A user that already exists by email but has no Clerk id
  yet (made with ``dakora admin``) is claimed rather than duplicated.
- ``user.deleted``: the user is marked deleted, their memberships dropped and their keys
  revoked (``tenancy.delete_user``); workspaces where they were the only member — their
  personal workspace — are deleted with their projects and repositories.
- Any other event type is acknowledged and ignored.

Svix delivers at least once and may retry concurrently, so every step is idempotent:
a repeated ``user.created`` finds the user and the workspace it already owns.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from dakora.registry import tenancy
from dakora.registry.core import AlreadyExists, BadRequest, Settings, UserNotFound
from dakora.registry.db import transaction, users, workspaces
from dakora.registry.tenancy.records import DEFAULT_PROJECT_SLUG

USER_EVENTS = ("user.created", "user.updated", "user.deleted")

Action = Literal["created", "updated", "deleted", "ignored"]


@dataclass(frozen=True)
class ProvisionResult:
    event: str
    action: Action
    user: tenancy.User | None = None
    workspace: tenancy.Workspace | None = None
    project: tenancy.Project | None = None
    deleted_workspaces: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "action": self.action,
            "user_id": self.user.id if self.user else None,
            "workspace": self.workspace.slug if self.workspace else None,
            "project": self.project.full_name if self.project else None,
            "deleted_workspaces": list(self.deleted_workspaces),
        }


@dataclass(frozen=True)
class ClerkUser:
    """The fields of a Clerk user object Dakora keeps."""

    external_id: str
    email: str | None
    name: str | None
    username: str | None

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ClerkUser:
        external_id = data.get("id")
        if not isinstance(external_id, str) or not external_id:
            raise BadRequest("webhook event has no user id (data.id)")
        return cls(
            external_id=external_id,
            email=_primary_email(data),
            name=_display_name(data),
            username=_text(data.get("username")),
        )


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _primary_email(data: Mapping[str, Any]) -> str | None:
    addresses = [a for a in data.get("email_addresses") or [] if isinstance(a, Mapping)]
    primary = data.get("primary_email_address_id")
    for address in addresses:
        if address.get("id") == primary and _text(address.get("email_address")):
            return _text(address.get("email_address"))
    for address in addresses:
        if _text(address.get("email_address")):
            return _text(address.get("email_address"))
    return _text(data.get("email_address")) or _text(data.get("email"))


def _display_name(data: Mapping[str, Any]) -> str | None:
    parts = [_text(data.get("first_name")), _text(data.get("last_name"))]
    joined = " ".join(p for p in parts if p)
    return joined or _text(data.get("name")) or _text(data.get("username"))


def slugify(text: str) -> str:
    """A workspace slug from free text: lowercase, ``[a-z0-9-]``, ≤ 48 chars."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:48].strip("-")


def workspace_slug_candidates(user: ClerkUser) -> list[str]:
    """The base slug, then the base with a stable suffix from the Clerk id."""
    source = user.username or (user.email.split("@")[0] if user.email else None)
    base = slugify(source or "") or "user"
    digest = hashlib.sha256(user.external_id.encode()).hexdigest()
    return [base, f"{base}-{digest[:6]}", f"{base}-{digest[6:14]}"]


# -- entry point ----------------------------------------------------------------------


def handle_clerk_event(
    engine: Engine, settings: Settings, event: Mapping[str, Any]
) -> ProvisionResult:
    """Apply one verified Clerk webhook event. Raises ``BadRequest`` if malformed."""
    kind = event.get("type")
    data = event.get("data")
    if not isinstance(kind, str):
        raise BadRequest("webhook event has no type")
    if kind not in USER_EVENTS:
        return ProvisionResult(event=kind, action="ignored")
    if not isinstance(data, Mapping):
        raise BadRequest("webhook event has no data object")
    if kind == "user.deleted":
        external_id = data.get("id")
        if not isinstance(external_id, str) or not external_id:
            raise BadRequest("webhook event has no user id (data.id)")
        return deprovision_user(engine, external_id, event=kind)
    return provision_user(engine, settings, ClerkUser.from_data(data), event=kind)


def provision_user(
    engine: Engine,
    settings: Settings,
    clerk_user: ClerkUser,
    *,
    event: str = "user.created",
) -> ProvisionResult:
    """Create or update the user, and ensure their personal workspace and project."""
    user, created = _upsert_user(engine, clerk_user)
    workspace = _personal_workspace(engine, user, clerk_user)
    project = _default_project(engine, settings, workspace)
    return ProvisionResult(
        event=event,
        action="created" if created else "updated",
        user=user,
        workspace=workspace,
        project=project,
    )


def deprovision_user(
    engine: Engine, external_id: str, *, event: str = "user.deleted"
) -> ProvisionResult:
    """Delete the user (soft) and the workspaces only they belonged to."""
    user = tenancy.find_user(engine, external_id=external_id)
    if user is None or user.deleted_at is not None:
        return ProvisionResult(event=event, action="ignored", user=user)
    solo = [
        ws
        for ws in tenancy.list_workspaces(engine, user_id=user.id)
        if [m.user_id for m in tenancy.list_members(engine, ws.id)] == [user.id]
    ]
    try:
        tenancy.delete_user(engine, user.id)
    except UserNotFound:  # deleted concurrently
        return ProvisionResult(event=event, action="ignored")
    for ws in solo:
        _delete_workspace(engine, ws)
    return ProvisionResult(
        event=event,
        action="deleted",
        user=user,
        deleted_workspaces=tuple(ws.slug for ws in solo),
    )


# -- steps ----------------------------------------------------------------------------


def _upsert_user(engine: Engine, clerk_user: ClerkUser) -> tuple[tenancy.User, bool]:
    ext, email, name = clerk_user.external_id, clerk_user.email, clerk_user.name
    if email and tenancy.find_user(engine, external_id=ext) is None:
        _claim_by_email(engine, clerk_user)
    try:
        return tenancy.upsert_external_user(engine, ext, email=email, name=name)
    except AlreadyExists:
        pass  # a concurrent delivery created the user first: this try updates it
    try:
        return tenancy.upsert_external_user(engine, ext, email=email, name=name)
    except AlreadyExists:
        # The email belongs to another account: keep this user without it.
        return tenancy.upsert_external_user(engine, ext, email=None, name=name)


def _claim_by_email(engine: Engine, clerk_user: ClerkUser) -> None:
    """Attach the Clerk id to a user made by email only (``dakora admin``)."""
    email = (clerk_user.email or "").strip().lower()
    try:
        with transaction(engine) as conn:
            conn.execute(
                update(users)
                .where(users.c.email == email, users.c.external_id.is_(None))
                .values(external_id=clerk_user.external_id)
            )
    except IntegrityError:
        pass  # the Clerk id was attached to a user concurrently: nothing to claim


def _personal_workspace(
    engine: Engine, user: tenancy.User, clerk_user: ClerkUser
) -> tenancy.Workspace:
    owned = _owned_workspace(engine, user.id)
    if owned is not None:
        return owned
    name = f"{clerk_user.name or clerk_user.email or 'Personal'} (personal)"[:200]
    last_error: AlreadyExists | None = None
    for slug in workspace_slug_candidates(clerk_user):
        try:
            return tenancy.create_workspace(
                engine, slug, name=name, owner_user_id=user.id, kind="personal"
            )
        except AlreadyExists as exc:
            last_error = exc
            # A concurrent delivery may have made it for this very user.
            owned = _owned_workspace(engine, user.id)
            if owned is not None:
                return owned
    assert last_error is not None
    raise last_error


def _owned_workspace(engine: Engine, user_id: str) -> tenancy.Workspace | None:
    """The user's personal workspace (``kind`` personal, owned by them), if any; a
    team workspace they own (``dakora admin``) is not their personal one."""
    for ws in tenancy.list_workspaces(engine, user_id=user_id):
        if (
            ws.kind == "personal"
            and tenancy.get_role(engine, ws.id, user_id) == "owner"
        ):
            return ws
    return None


def _default_project(
    engine: Engine, settings: Settings, workspace: tenancy.Workspace
) -> tenancy.Project:
    existing = tenancy.list_projects(engine, workspace_id=workspace.id)
    if existing:
        for project in existing:
            if project.slug == DEFAULT_PROJECT_SLUG:
                return project
        return existing[0]
    try:
        return tenancy.create_project(
            engine, settings, workspace.id, DEFAULT_PROJECT_SLUG, name="Default"
        )
    except AlreadyExists:
        return tenancy.get_project(engine, f"{workspace.slug}/{DEFAULT_PROJECT_SLUG}")


def _delete_workspace(engine: Engine, workspace: tenancy.Workspace) -> None:
    for project in tenancy.list_projects(engine, workspace_id=workspace.id):
        tenancy.delete_project(engine, project.id)
    with transaction(engine) as conn:
        still_there = conn.execute(
            select(workspaces.c.id).where(workspaces.c.id == workspace.id)
        ).first()
        if still_there is not None:
            conn.execute(workspaces.delete().where(workspaces.c.id == workspace.id))
