"""Tenancy: users, workspaces, members with roles, projects, and workspace token quotas.

The storage layer owns the transaction: each function here is one unit of work, and a
violated unique constraint (the database decides races) becomes ``AlreadyExists``.

A project owns a bare git repository at ``<data_dir>/repos/<workspace>/<project>.git``,
created with the project (HEAD → ``refs/heads/<default_branch>``). Projects are named by
their UUID or by ``workspace/slug`` (:func:`get_project`).

Quotas: each workspace has a tier (``Settings.quota_tiers``: tokens per calendar month,
UTC; 0 = unlimited). :func:`add_tokens` counts tokens and refuses with ``QuotaExceeded``
when the month's limit would be passed; a new month starts a new period on its own.
"""

from __future__ import annotations

import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Row, select, update
from sqlalchemy.exc import IntegrityError

from dakora.registry.db import (
    ROLES,
    is_sqlite,
    projects,
    transaction,
    users,
    utcnow,
    workspace_members,
    workspace_quotas,
    workspaces,
)
from dakora.registry.db.engine import read
from dakora.registry.errors import (
    AlreadyExists,
    BadRequest,
    ProjectNotFound,
    QuotaExceeded,
    StorageError,
    UserNotFound,
    WorkspaceNotFound,
)
from dakora.registry.settings import Settings

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "slug": self.slug,
            "name": self.name,
            "created_at": _iso(self.created_at),
        }


@dataclass(frozen=True)
class Member:
    workspace_id: str
    user_id: str
    role: str


@dataclass(frozen=True)
class Project:
    id: str
    workspace_id: str
    workspace_slug: str
    slug: str
    name: str | None
    default_branch: str
    repo_path: Path
    created_at: datetime

    @property
    def full_name(self) -> str:
        """``workspace/slug``."""
        return f"{self.workspace_slug}/{self.slug}"

    @property
    def default_ref(self) -> str:
        return f"refs/heads/{self.default_branch}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "workspace_id": self.workspace_id,
            "workspace": self.workspace_slug,
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


def _user(row: Row[Any]) -> User:
    return User(
        id=row.id,
        email=row.email,
        name=row.name,
        external_id=row.external_id,
        created_at=row.created_at,
        deleted_at=row.deleted_at,
    )


def _workspace(row: Row[Any]) -> Workspace:
    return Workspace(id=row.id, slug=row.slug, name=row.name, created_at=row.created_at)


def _project(row: Row[Any]) -> Project:
    return Project(
        id=row.id,
        workspace_id=row.workspace_id,
        workspace_slug=row.workspace_slug,
        slug=row.slug,
        name=row.name,
        default_branch=row.default_branch,
        repo_path=Path(row.repo_path),
        created_at=row.created_at,
    )


# -- validation -----------------------------------------------------------------------


def validate_slug(slug: str, what: str = "slug") -> str:
    if not SLUG_PATTERN.match(slug):
        raise BadRequest(f"invalid {what} {slug!r}: {SLUG_RULE}")
    return slug


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


# -- users ----------------------------------------------------------------------------


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
    return _user(row)


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
    return _user(row) if row is not None else None


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
        return _user(row), False
    except IntegrityError as exc:
        raise AlreadyExists(f"email {email!r} belongs to another user") from exc


def delete_user(engine: Engine, user_id: str) -> None:
    """Mark a user deleted and drop their memberships (their keys stop working too)."""
    from dakora.registry.db import api_keys
    from dakora.registry.events import publish

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


# -- workspaces and members -----------------------------------------------------------


def create_workspace(
    engine: Engine,
    slug: str,
    *,
    name: str | None = None,
    owner_user_id: str | None = None,
) -> Workspace:
    """A new workspace; with ``owner_user_id`` that user becomes its owner."""
    validate_slug(slug, "workspace slug")
    now = utcnow()
    ws = Workspace(id=str(uuid.uuid4()), slug=slug, name=name, created_at=now)
    try:
        with transaction(engine) as conn:
            conn.execute(
                workspaces.insert().values(
                    id=ws.id, slug=slug, name=name, created_at=now
                )
            )
            if owner_user_id is not None:
                _require_user(conn, owner_user_id)
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


def _require_user(conn: Connection, user_id: str) -> None:
    if conn.execute(select(users.c.id).where(users.c.id == user_id)).first() is None:
        raise UserNotFound(f"user {user_id!r} not found")


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
    return _workspace(row)


def list_workspaces(engine: Engine, *, user_id: str | None = None) -> list[Workspace]:
    """Every workspace, or those the user is a member of."""
    query = select(workspaces).order_by(workspaces.c.slug)
    if user_id is not None:
        query = query.join(
            workspace_members, workspace_members.c.workspace_id == workspaces.c.id
        ).where(workspace_members.c.user_id == user_id)
    with read(engine) as conn:
        return [_workspace(r) for r in conn.execute(query)]


def set_member(engine: Engine, workspace_id: str, user_id: str, role: str) -> Member:
    """Add a user to a workspace, or change their role."""
    validate_role(role)
    with transaction(engine) as conn:
        if (
            conn.execute(
                select(workspaces.c.id).where(workspaces.c.id == workspace_id)
            ).first()
            is None
        ):
            raise WorkspaceNotFound(f"workspace {workspace_id!r} not found")
        _require_user(conn, user_id)
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


# -- projects -------------------------------------------------------------------------


def project_repo_path(
    settings: Settings, workspace_slug: str, project_slug: str
) -> Path:
    return (settings.repos_dir / workspace_slug / f"{project_slug}.git").absolute()


def _init_bare_repo(path: Path, default_branch: str) -> None:
    from dulwich.repo import Repo

    if path.exists():
        if not _is_leftover(path):
            raise AlreadyExists(
                f"a repository folder already exists at {path}; move it away first"
            )
        # An empty folder or a bare repo without refs, with no project row: left by
        # a crash between creating the repository and committing the row.
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        repo = Repo.init_bare(str(path), mkdir=True)
    except OSError as exc:
        raise StorageError(f"cannot create the repository at {path}: {exc}") from exc
    try:
        repo.refs.set_symbolic_ref(b"HEAD", f"refs/heads/{default_branch}".encode())
    finally:
        repo.close()


def _is_leftover(path: Path) -> bool:
    from dulwich.errors import NotGitRepository
    from dulwich.repo import Repo

    if path.is_dir() and not any(path.iterdir()):
        return True
    try:
        repo = Repo(str(path))
    except (NotGitRepository, OSError):
        return False
    try:
        return repo.bare and not any(
            name.startswith(b"refs/") for name in repo.refs.allkeys()
        )
    finally:
        repo.close()


def create_project(
    engine: Engine,
    settings: Settings,
    workspace: str,
    slug: str,
    *,
    default_branch: str = "main",
    name: str | None = None,
) -> Project:
    """A new project in ``workspace`` (slug or id) with an empty bare repository.

    The repository is created inside the transaction that inserts the row: if the row
    cannot be written the folder is removed again, so neither exists without the other.
    """
    validate_slug(slug, "project slug")
    validate_branch(default_branch)
    ws = get_workspace(engine, workspace)
    now = utcnow()
    path = project_repo_path(settings, ws.slug, slug)
    project = Project(
        id=str(uuid.uuid4()),
        workspace_id=ws.id,
        workspace_slug=ws.slug,
        slug=slug,
        name=name,
        default_branch=default_branch,
        repo_path=path,
        created_at=now,
    )
    created_repo = False
    try:
        with transaction(engine) as conn:
            taken = conn.execute(
                select(projects.c.id).where(
                    projects.c.workspace_id == ws.id, projects.c.slug == slug
                )
            ).first()
            if taken is not None:
                raise AlreadyExists(f"project {ws.slug}/{slug} already exists")
            conn.execute(
                projects.insert().values(
                    id=project.id,
                    workspace_id=ws.id,
                    slug=slug,
                    name=name,
                    default_branch=default_branch,
                    repo_path=str(path),
                    created_at=now,
                )
            )
            _init_bare_repo(path, default_branch)
            created_repo = True
    except IntegrityError as exc:
        if created_repo:
            shutil.rmtree(path, ignore_errors=True)
        raise AlreadyExists(f"project {ws.slug}/{slug} already exists") from exc
    except BaseException:
        if created_repo:
            shutil.rmtree(path, ignore_errors=True)
        raise
    return project


def _project_query() -> Any:
    return select(
        projects,
        workspaces.c.slug.label("workspace_slug"),
    ).join(workspaces, workspaces.c.id == projects.c.workspace_id)


def get_project(engine: Engine, ref: str) -> Project:
    """A project by UUID or ``workspace/slug`` (``workspace~slug`` in URLs).

    Raises ``ProjectNotFound``."""
    ref = ref.strip()
    query = _project_query()
    if is_uuid(ref):
        query = query.where(projects.c.id == ref.lower())
    elif ref.count("/") + ref.count("~") == 1:
        ws_slug, slug = ref.replace("~", "/").split("/")
        query = query.where(workspaces.c.slug == ws_slug, projects.c.slug == slug)
    else:
        raise ProjectNotFound(
            f"project {ref!r} not found (name a project by its id or as workspace/slug)"
        )
    with read(engine) as conn:
        row = conn.execute(query).first()
    if row is None:
        raise ProjectNotFound(f"project {ref!r} not found")
    return _project(row)


def list_projects(engine: Engine, *, workspace_id: str | None = None) -> list[Project]:
    query = _project_query().order_by(workspaces.c.slug, projects.c.slug)
    if workspace_id is not None:
        query = query.where(projects.c.workspace_id == workspace_id)
    with read(engine) as conn:
        return [_project(r) for r in conn.execute(query)]


def delete_project(
    engine: Engine, project_id: str, *, remove_repo: bool = True
) -> None:
    """Delete a project, its index, keys and logs (cascade), and its repository."""
    project = get_project(engine, project_id)
    with transaction(engine) as conn:
        conn.execute(projects.delete().where(projects.c.id == project.id))
        # Servers cache the project and its keys: tell them (PostgreSQL NOTIFY).
        from dakora.registry.events import publish

        publish(conn, "all")
    if remove_repo:
        shutil.rmtree(project.repo_path, ignore_errors=True)


# -- quotas ---------------------------------------------------------------------------


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
        if (
            conn.execute(
                select(workspaces.c.id).where(workspaces.c.id == workspace_id)
            ).first()
            is None
        ):
            raise WorkspaceNotFound(f"workspace {workspace_id!r} not found")
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
