"""Project lookup for routes: ``{project}`` → :class:`ProjectInfo`, cached in process.

``{project}`` is the project's UUID or ``workspace~slug`` (``~`` is URL-safe, ``/`` is
not). Found projects are cached by both spellings until :meth:`ProjectCache.invalidate`;
a miss is never cached, so a project created a moment ago is found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select

from dakora.registry.db import projects, read, workspaces
from dakora.registry.tenancy import DEFAULT_PROJECT_SLUG

UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
SLUG_SEPARATOR = "~"
MAX_CACHED_PROJECTS = 10_000


@dataclass(frozen=True)
class ProjectInfo:
    """What the read path needs to know about a project."""

    id: str
    workspace_id: str
    workspace_slug: str
    slug: str
    name: str | None
    default_branch: str
    repo_path: Path
    workspace_kind: str = "team"  # "personal" | "team"

    @property
    def full_slug(self) -> str:
        return f"{self.workspace_slug}/{self.slug}"

    @property
    def slug_ref(self) -> str:
        """``workspace~slug``: the other spelling ``{project}`` accepts."""
        return f"{self.workspace_slug}{SLUG_SEPARATOR}{self.slug}"

    def to_dict(self) -> dict[str, str | None]:
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


def _columns() -> list[object]:
    return [
        projects.c.id,
        projects.c.workspace_id,
        workspaces.c.slug.label("workspace_slug"),
        workspaces.c.kind.label("workspace_kind"),
        projects.c.slug,
        projects.c.name,
        projects.c.default_branch,
        projects.c.repo_path,
    ]


class ProjectCache:
    """``{project}`` path parameter → ProjectInfo, one DB query per new spelling."""

    def __init__(self, engine: Engine, data_dir: Path) -> None:
        self._engine = engine
        self._data_dir = data_dir
        self._by_ref: dict[str, ProjectInfo] = {}
        # replicas keep their own repositories: <local_repos_dir>/<ws>/<slug>.git
        self.local_repos_dir: Path | None = None

    def invalidate(self, project_id: str | None = None) -> None:
        if project_id is None:
            self._by_ref = {}
            return
        self._by_ref = {k: v for k, v in self._by_ref.items() if v.id != project_id}

    def get(self, ref: str) -> ProjectInfo | None:
        """The project, or None when no project has this id / slug."""
        hit = self._by_ref.get(ref)
        if hit is not None:
            return hit
        info = self._load(ref)
        if info is not None:
            if len(self._by_ref) >= MAX_CACHED_PROJECTS:
                self._by_ref = {}
            self._by_ref[ref] = info
            self._by_ref[info.id] = info
        return info

    def by_ids(self, ids: list[str]) -> list[ProjectInfo]:
        """Several projects by id (for ``/api/me``), uncached."""
        if not ids:
            return []
        query = (
            select(*_columns())
            .join(workspaces, workspaces.c.id == projects.c.workspace_id)
            .where(projects.c.id.in_(ids))
            .order_by(workspaces.c.slug, projects.c.slug)
        )
        with read(self._engine) as conn:
            return [self._info(row) for row in conn.execute(query)]

    def in_workspaces(self, workspace_ids: list[str]) -> list[ProjectInfo]:
        if not workspace_ids:
            return []
        query = (
            select(*_columns())
            .join(workspaces, workspaces.c.id == projects.c.workspace_id)
            .where(projects.c.workspace_id.in_(workspace_ids))
            .order_by(workspaces.c.slug, projects.c.slug)
        )
        with read(self._engine) as conn:
            return [self._info(row) for row in conn.execute(query)]

    def personal_default(self, workspace_ids: list[str]) -> ProjectInfo | None:
        """The ``default`` project of the first (oldest) personal workspace among
        ``workspace_ids``, uncached; None when there is none."""
        if not workspace_ids:
            return None
        query = (
            select(*_columns())
            .join(workspaces, workspaces.c.id == projects.c.workspace_id)
            .where(
                projects.c.workspace_id.in_(workspace_ids),
                workspaces.c.kind == "personal",
                projects.c.slug == DEFAULT_PROJECT_SLUG,
            )
            .order_by(workspaces.c.created_at, workspaces.c.slug)
            .limit(1)
        )
        with read(self._engine) as conn:
            row = conn.execute(query).first()
        return self._info(row) if row is not None else None

    def all(self) -> list[ProjectInfo]:
        query = (
            select(*_columns())
            .join(workspaces, workspaces.c.id == projects.c.workspace_id)
            .order_by(workspaces.c.slug, projects.c.slug)
        )
        with read(self._engine) as conn:
            return [self._info(row) for row in conn.execute(query)]

    def _load(self, ref: str) -> ProjectInfo | None:
        query = select(*_columns()).join(
            workspaces, workspaces.c.id == projects.c.workspace_id
        )
        if UUID_RE.match(ref):
            query = query.where(projects.c.id == ref.lower())
        else:
            ws, sep, slug = ref.partition(SLUG_SEPARATOR)
            if not sep or not ws or not slug:
                return None
            query = query.where(workspaces.c.slug == ws, projects.c.slug == slug)
        with read(self._engine) as conn:
            row = conn.execute(query).first()
        return None if row is None else self._info(row)

    def _info(self, row: object) -> ProjectInfo:
        repo_path = Path(row.repo_path)  # type: ignore[attr-defined]
        if not repo_path.is_absolute():
            repo_path = self._data_dir / repo_path
        if self.local_repos_dir is not None:
            repo_path = (
                self.local_repos_dir
                / row.workspace_slug  # type: ignore[attr-defined]
                / f"{row.slug}.git"  # type: ignore[attr-defined]
            )
        return ProjectInfo(
            id=row.id,  # type: ignore[attr-defined]
            workspace_id=row.workspace_id,  # type: ignore[attr-defined]
            workspace_slug=row.workspace_slug,  # type: ignore[attr-defined]
            slug=row.slug,  # type: ignore[attr-defined]
            name=row.name,  # type: ignore[attr-defined]
            default_branch=row.default_branch,  # type: ignore[attr-defined]
            repo_path=repo_path,
            workspace_kind=row.workspace_kind,  # type: ignore[attr-defined]
        )
