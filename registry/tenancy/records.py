"""The tenancy records (``User``, ``Workspace``, ``Member``, ``Project``,
``QuotaStatus``), how they are read from a row, and the naming rules (slugs, roles,
branch names) - no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Row

from dakora.registry.core import BadRequest
from dakora.registry.db import ROLES, WORKSPACE_KINDS

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
SLUG_RULE = (
    "1-64 characters: lowercase letters, digits and '-', starting and ending with a "
    "letter or digit"
)
ROLE_RANK: dict[str, int] = {"viewer": 0, "member": 1, "admin": 2, "owner": 3}
_UUID_PATTERN = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)
_BRANCH_PATTERN = re.compile(
    r"^(?!/)(?!.*(?:\.\.|//|@\{|\.lock$|/$|\.$))[^\s~^:?*\[\\]+$"
)


# -- records --------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class User:
    id: str
    email: str | None
    name: str | None
    external_id: str | None
    created_at: datetime
    deleted_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "external_id": self.external_id,
            "created_at": _iso(self.created_at),
            "deleted_at": _iso(self.deleted_at),
        }


@dataclass(frozen=True)
class Workspace:
    id: str
    slug: str
    name: str | None
    created_at: datetime
    kind: str = "team"  # "personal" (a user's own, from Clerk provisioning) | "team"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "slug": self.slug,
            "name": self.name,
            "kind": self.kind,
            "created_at": _iso(self.created_at),
        }


@dataclass(frozen=True)
class Member:
    workspace_id: str
    user_id: str
    role: str


SLUG_SEPARATOR = "~"  # workspace~slug: the spelling of a project in URLs
# The project Clerk provisioning makes in each personal workspace; a user's
# default_project in /api/me.
DEFAULT_PROJECT_SLUG = "default"


@dataclass(frozen=True)
class Project:
    """A project: what the admin commands show and what the read path needs (the
    server caches these by id and ``workspace~slug``)."""

    id: str
    workspace_id: str
    workspace_slug: str
    slug: str
    name: str | None
    default_branch: str
    repo_path: Path
    created_at: datetime
    workspace_kind: str = "team"

    @property
    def full_name(self) -> str:
        """``workspace/slug``."""
        return f"{self.workspace_slug}/{self.slug}"

    @property
    def slug_ref(self) -> str:
        """``workspace~slug``: the spelling ``{project}`` in a URL accepts."""
        return f"{self.workspace_slug}{SLUG_SEPARATOR}{self.slug}"

    @property
    def default_ref(self) -> str:
        return f"refs/heads/{self.default_branch}"

    def public_dict(self) -> dict[str, str | None]:
        """What the HTTP API shows of a project (no repository path)."""
        return {
            "id": self.id,
            "workspace": self.workspace_slug,
            "workspace_id": self.workspace_id,
            "workspace_kind": self.workspace_kind,
            "slug": self.slug,
            "name": self.name,
            "ref": self.slug_ref,
            "default_branch": self.default_branch,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "workspace_id": self.workspace_id,
            "workspace": self.workspace_slug,
            "workspace_kind": self.workspace_kind,
            "slug": self.slug,
            "full_name": self.full_name,
            "name": self.name,
            "default_branch": self.default_branch,
            "repo_path": str(self.repo_path),
            "created_at": _iso(self.created_at),
        }


@dataclass(frozen=True)
class QuotaStatus:
    workspace_id: str
    tier: str
    tokens_used: int
    tokens_limit: int  # 0 = unlimited
    period_start: datetime

    @property
    def unlimited(self) -> bool:
        return self.tokens_limit == 0

    @property
    def remaining(self) -> int | None:
        if self.unlimited:
            return None
        return max(self.tokens_limit - self.tokens_used, 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "workspace_id": self.workspace_id,
            "tier": self.tier,
            "tokens_used": self.tokens_used,
            "tokens_limit": self.tokens_limit,
            "remaining": self.remaining,
            "period_start": _iso(self.period_start),
        }


def user_from_row(row: Row[Any]) -> User:
    return User(
        id=row.id,
        email=row.email,
        name=row.name,
        external_id=row.external_id,
        created_at=row.created_at,
        deleted_at=row.deleted_at,
    )


def workspace_from_row(row: Row[Any]) -> Workspace:
    return Workspace(
        id=row.id,
        slug=row.slug,
        name=row.name,
        created_at=row.created_at,
        kind=row.kind,
    )


def project_from_row(row: Row[Any]) -> Project:
    return Project(
        id=row.id,
        workspace_id=row.workspace_id,
        workspace_slug=row.workspace_slug,
        slug=row.slug,
        name=row.name,
        default_branch=row.default_branch,
        repo_path=Path(row.repo_path),
        created_at=row.created_at,
        workspace_kind=row.workspace_kind,
    )


def validate_slug(slug: str, what: str = "slug") -> str:
    if not SLUG_PATTERN.match(slug):
        raise BadRequest(f"invalid {what} {slug!r}: {SLUG_RULE}")
    return slug


def validate_kind(kind: str) -> str:
    if kind not in WORKSPACE_KINDS:
        raise BadRequest(
            f"invalid workspace kind {kind!r}: one of {', '.join(WORKSPACE_KINDS)}"
        )
    return kind


def validate_role(role: str) -> str:
    if role not in ROLES:
        raise BadRequest(f"invalid role {role!r}: one of {', '.join(ROLES)}")
    return role


def validate_branch(name: str) -> str:
    if not name or len(name) > 200 or not _BRANCH_PATTERN.match(name):
        raise BadRequest(f"invalid branch name {name!r}")
    return name


def is_uuid(value: str) -> bool:
    return bool(_UUID_PATTERN.match(value.lower()))


def role_at_least(role: str | None, needed: str) -> bool:
    """True when ``role`` is ``needed`` or stronger (viewer < member < admin < owner)."""
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[needed]
