"""Users: create, look up, upsert from an external identity provider, soft-delete.
Each function is one transaction; a duplicate email becomes ``AlreadyExists``.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from dakora.registry.core import AlreadyExists, BadRequest, UserNotFound
from dakora.registry.db import (
    read,
    transaction,
    users,
    utcnow,
    workspace_members,
)
from dakora.registry.tenancy.records import User, user_from_row


def create_user(
    engine: Engine,
    *,
    email: str | None = None,
    name: str | None = None,
    external_id: str | None = None,
) -> User:
    email = email.strip().lower() if email else None
    values = {
        "id": str(uuid.uuid4()),
        "email": email,
        "name": name,
        "external_id": external_id,
        "created_at": utcnow(),
    }
    try:
        with transaction(engine) as conn:
            conn.execute(users.insert().values(**values))
    except IntegrityError as exc:
        raise AlreadyExists(
            f"a user with email {email!r} or external id {external_id!r} already exists"
        ) from exc
    return User(**values)  # type: ignore[arg-type]


def get_user(engine: Engine, user_id: str) -> User:
    with read(engine) as conn:
        row = conn.execute(select(users).where(users.c.id == user_id)).first()
    if row is None:
        raise UserNotFound(f"user {user_id!r} not found")
    return user_from_row(row)


def find_user(
    engine: Engine, *, email: str | None = None, external_id: str | None = None
) -> User | None:
    """The user with this email or external (Clerk) id, or None."""
    if email is None and external_id is None:
        raise BadRequest("find_user needs an email or an external id")
    query = select(users)
    if external_id is not None:
        query = query.where(users.c.external_id == external_id)
    else:
        query = query.where(users.c.email == (email or "").strip().lower())
    with read(engine) as conn:
        row = conn.execute(query).first()
    return user_from_row(row) if row is not None else None


def external_user_roles(
    engine: Engine, external_id: str
) -> tuple[User, dict[str, str]] | None:
    """The live user with this external (Clerk) id and their role per workspace id,
    in one read; None when there is no such user or it was deleted."""
    with read(engine) as conn:
        row = conn.execute(
            select(users).where(users.c.external_id == external_id)
        ).first()
        if row is None or row.deleted_at is not None:
            return None
        roles = {
            r.workspace_id: r.role
            for r in conn.execute(
                select(
                    workspace_members.c.workspace_id, workspace_members.c.role
                ).where(workspace_members.c.user_id == row.id)
            )
        }
    return user_from_row(row), roles


def get_or_create_user(engine: Engine, *, email: str, name: str | None = None) -> User:
    """The user with this email, created when missing (safe under races)."""
    found = find_user(engine, email=email)
    if found is not None:
        return found
    try:
        return create_user(engine, email=email, name=name)
    except AlreadyExists:
        again = find_user(engine, email=email)
        if again is None:
            raise
        return again


def upsert_external_user(
    engine: Engine,
    external_id: str,
    *,
    email: str | None = None,
    name: str | None = None,
) -> tuple[User, bool]:
    """Create or update the user of an identity provider id. Returns (user, created)."""
    now = utcnow()
    email = email.strip().lower() if email else None
    existing = find_user(engine, external_id=external_id)
    try:
        if existing is None:
            return create_user(
                engine, email=email, name=name, external_id=external_id
            ), True
        with transaction(engine) as conn:
            conn.execute(
                update(users)
                .where(users.c.id == existing.id)
                .values(email=email, name=name, updated_at=now, deleted_at=None)
            )
            row = conn.execute(select(users).where(users.c.id == existing.id)).one()
        return user_from_row(row), False
    except IntegrityError as exc:
        raise AlreadyExists(f"email {email!r} belongs to another user") from exc


def delete_user(engine: Engine, user_id: str) -> None:
    """Mark a user deleted and drop their memberships (their keys stop working too)."""
    from dakora.registry.db import api_keys, publish

    now = utcnow()
    with transaction(engine) as conn:
        result = conn.execute(
            update(users).where(users.c.id == user_id).values(deleted_at=now)
        )
        if not result.rowcount:
            raise UserNotFound(f"user {user_id!r} not found")
        conn.execute(
            workspace_members.delete().where(workspace_members.c.user_id == user_id)
        )
        conn.execute(
            update(api_keys)
            .where(api_keys.c.user_id == user_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        publish(conn, "all")
