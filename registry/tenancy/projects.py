"""Projects: each owns a bare git repository at
``<data_dir>/repos/<workspace>/<project>.git`` created with it (HEAD →
``refs/heads/<default_branch>``); named by UUID or ``workspace/slug``.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from dakora.registry.core import AlreadyExists, ProjectNotFound, Settings, StorageError
from dakora.registry.db import (
    projects,
    read,
    transaction,
    utcnow,
    workspaces,
)
from dakora.registry.git import as_ref
from dakora.registry.tenancy.records import (
    DEFAULT_PROJECT_SLUG,
    Project,
    is_uuid,
    project_from_row,
    validate_branch,
    validate_slug,
)
from dakora.registry.tenancy.workspaces import get_workspace


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
        repo.refs.set_symbolic_ref(
            as_ref("HEAD"), as_ref(f"refs/heads/{default_branch}")
        )
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
        workspace_kind=ws.kind,
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


def project_query() -> Any:
    return select(
        projects,
        workspaces.c.slug.label("workspace_slug"),
        workspaces.c.kind.label("workspace_kind"),
    ).join(workspaces, workspaces.c.id == projects.c.workspace_id)


def get_project(engine: Engine, ref: str) -> Project:
    """A project by UUID or ``workspace/slug`` (``workspace~slug`` in URLs).

    Raises ``ProjectNotFound``."""
    ref = ref.strip()
    query = project_query()
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
    return project_from_row(row)


def list_projects(
    engine: Engine,
    *,
    workspace_id: str | None = None,
    workspace_ids: list[str] | None = None,
    ids: list[str] | None = None,
) -> list[Project]:
    """Projects by workspace and slug; only those of ``workspace_id`` /
    ``workspace_ids`` / ``ids`` when given."""
    query = project_query().order_by(workspaces.c.slug, projects.c.slug)
    if workspace_id is not None:
        query = query.where(projects.c.workspace_id == workspace_id)
    if workspace_ids is not None:
        query = query.where(projects.c.workspace_id.in_(workspace_ids))
    if ids is not None:
        query = query.where(projects.c.id.in_(ids))
    with read(engine) as conn:
        return [project_from_row(r) for r in conn.execute(query)]


def personal_default_project(
    engine: Engine, workspace_ids: list[str]
) -> Project | None:
    """The project ``default`` of the oldest personal workspace among
    ``workspace_ids`` (a user's own, for ``/api/me``'s ``default_project``)."""
    if not workspace_ids:
        return None
    query = (
        project_query()
        .where(
            projects.c.workspace_id.in_(workspace_ids),
            workspaces.c.kind == "personal",
            projects.c.slug == DEFAULT_PROJECT_SLUG,
        )
        .order_by(workspaces.c.created_at, workspaces.c.slug)
        .limit(1)
    )
    with read(engine) as conn:
        row = conn.execute(query).first()
    return project_from_row(row) if row is not None else None


def delete_project(
    engine: Engine, project_id: str, *, remove_repo: bool = True
) -> None:
    """Delete a project, its index, keys and logs (cascade), and its repository."""
    project = get_project(engine, project_id)
    with transaction(engine) as conn:
        conn.execute(projects.delete().where(projects.c.id == project.id))
        # Servers cache the project and its keys: tell them (PostgreSQL NOTIFY).
        from dakora.registry.db import publish

        publish(conn, "all")
    if remove_repo:
        shutil.rmtree(project.repo_path, ignore_errors=True)
