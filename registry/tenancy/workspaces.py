"""Workspaces and their members with roles (viewer < member < admin < owner); each
function is one transaction, the database's unique constraints decide races.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import IntegrityError

from dakora.registry.core import AlreadyExists, UserNotFound, WorkspaceNotFound
from dakora.registry.db import (
    read,
    transaction,
    users,
    utcnow,
    workspace_members,
    workspaces,
)
from dakora.registry.tenancy.records import (
    Member,
    Workspace,
    is_uuid,
    validate_kind,
    validate_role,
    validate_slug,
    workspace_from_row,
)


def create_workspace(
    engine: Engine,
    slug: str,
    *,
    name: str | None = None,
    owner_user_id: str | None = None,
    kind: str = "team",
) -> Workspace:
    """A new workspace; with ``owner_user_id`` that user becomes its owner.

    ``kind`` is ``team`` (shared; the default) or ``personal`` (one user's own: Clerk
    provisioning makes one per user, and ``/api/me`` names its ``default`` project).
    """
    validate_slug(slug, "workspace slug")
    validate_kind(kind)
    now = utcnow()
    ws = Workspace(
        id=str(uuid.uuid4()), slug=slug, name=name, created_at=now, kind=kind
    )
    try:
        with transaction(engine) as conn:
            conn.execute(
                workspaces.insert().values(
                    id=ws.id, slug=slug, name=name, created_at=now, kind=kind
                )
            )
            if owner_user_id is not None:
                require_user(conn, owner_user_id)
                conn.execute(
                    workspace_members.insert().values(
                        workspace_id=ws.id,
                        user_id=owner_user_id,
                        role="owner",
                        created_at=now,
                    )
                )
    except IntegrityError as exc:
        raise AlreadyExists(f"workspace {slug!r} already exists") from exc
    return ws


def require_user(conn: Connection, user_id: str) -> None:
    if conn.execute(select(users.c.id).where(users.c.id == user_id)).first() is None:
        raise UserNotFound(f"user {user_id!r} not found")


def require_workspace(conn: Connection, workspace_id: str) -> None:
    query = select(workspaces.c.id).where(workspaces.c.id == workspace_id)
    if conn.execute(query).first() is None:
        raise WorkspaceNotFound(f"workspace {workspace_id!r} not found")


def get_workspace(engine: Engine, ref: str) -> Workspace:
    """A workspace by slug or id. Raises ``WorkspaceNotFound``."""
    query = select(workspaces)
    if is_uuid(ref):
        query = query.where(workspaces.c.id == ref.lower())
    else:
        query = query.where(workspaces.c.slug == ref)
    with read(engine) as conn:
        row = conn.execute(query).first()
    if row is None:
        raise WorkspaceNotFound(f"workspace {ref!r} not found")
    return workspace_from_row(row)


def list_workspaces(engine: Engine, *, user_id: str | None = None) -> list[Workspace]:
    """Every workspace, or those the user is a member of."""
    query = select(workspaces).order_by(workspaces.c.slug)
    if user_id is not None:
        query = query.join(
            workspace_members, workspace_members.c.workspace_id == workspaces.c.id
        ).where(workspace_members.c.user_id == user_id)
    with read(engine) as conn:
        return [workspace_from_row(r) for r in conn.execute(query)]


def set_member(engine: Engine, workspace_id: str, user_id: str, role: str) -> Member:
    """Add a user to a workspace, or change their role."""
    validate_role(role)
    with transaction(engine) as conn:
        require_workspace(conn, workspace_id)
        require_user(conn, user_id)
        done = conn.execute(
            update(workspace_members)
            .where(
                workspace_members.c.workspace_id == workspace_id,
                workspace_members.c.user_id == user_id,
            )
            .values(role=role)
        )
        if not done.rowcount:
            try:
                with conn.begin_nested():
                    conn.execute(
                        workspace_members.insert().values(
                            workspace_id=workspace_id,
                            user_id=user_id,
                            role=role,
                            created_at=utcnow(),
                        )
                    )
            except IntegrityError:  # added concurrently: set the role instead
                conn.execute(
                    update(workspace_members)
                    .where(
                        workspace_members.c.workspace_id == workspace_id,
                        workspace_members.c.user_id == user_id,
                    )
                    .values(role=role)
                )
    return Member(workspace_id=workspace_id, user_id=user_id, role=role)


def remove_member(engine: Engine, workspace_id: str, user_id: str) -> bool:
    with transaction(engine) as conn:
        result = conn.execute(
            workspace_members.delete().where(
                workspace_members.c.workspace_id == workspace_id,
                workspace_members.c.user_id == user_id,
            )
        )
        return bool(result.rowcount)


def get_role(engine: Engine, workspace_id: str, user_id: str) -> str | None:
    """The user's role in the workspace, or None when not a member."""
    with read(engine) as conn:
        return conn.execute(
            select(workspace_members.c.role).where(
                workspace_members.c.workspace_id == workspace_id,
                workspace_members.c.user_id == user_id,
            )
        ).scalar_one_or_none()


def list_members(engine: Engine, workspace_id: str) -> list[Member]:
    with read(engine) as conn:
        rows = conn.execute(
            select(workspace_members)
            .where(workspace_members.c.workspace_id == workspace_id)
            .order_by(workspace_members.c.created_at)
        ).fetchall()
    return [Member(r.workspace_id, r.user_id, r.role) for r in rows]
