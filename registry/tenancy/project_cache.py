"""The server's project lookup: ``{project}`` → :class:`Project`, cached in process.

``{project}`` is the project's UUID or ``workspace~slug`` (``~`` is URL-safe, ``/`` is
not). Found projects are cached by both spellings until :meth:`ProjectCache.invalidate`
(a warm lookup is one dict read); a miss is never cached, so a project created a
moment ago is found.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sqlalchemy import Engine

from dakora.registry.core import ProjectNotFound
from dakora.registry.tenancy.projects import (
    get_project,
    list_projects,
    personal_default_project,
)
from dakora.registry.tenancy.records import SLUG_SEPARATOR, Project, is_uuid

MAX_CACHED_PROJECTS = 10_000


class ProjectCache:
    """``{project}`` path parameter → Project, one DB query per new spelling."""

    def __init__(self, engine: Engine, data_dir: Path) -> None:
        self._engine = engine
        self._data_dir = data_dir
        self._by_ref: dict[str, Project] = {}
        # replicas keep their own repositories: <local_repos_dir>/<ws>/<slug>.git
        self.local_repos_dir: Path | None = None

    def invalidate(self, project_id: str | None = None) -> None:
        if project_id is None:
            self._by_ref = {}
            return
        self._by_ref = {k: v for k, v in self._by_ref.items() if v.id != project_id}

    def get(self, ref: str) -> Project | None:
        """The project, or None when no project has this id / slug."""
        hit = self._by_ref.get(ref)
        if hit is not None:
            return hit
        project = self._load(ref)
        if project is not None:
            if len(self._by_ref) >= MAX_CACHED_PROJECTS:
                self._by_ref = {}
            self._by_ref[ref] = project
            self._by_ref[project.id] = project
        return project

    def peek(self, ref: str) -> Project | None:
        """The cached project, or None when it is not cached (no query)."""
        return self._by_ref.get(ref)

    def by_ids(self, ids: list[str]) -> list[Project]:
        """Several projects by id (for ``/api/me``), uncached."""
        if not ids:
            return []
        return [self._local(p) for p in list_projects(self._engine, ids=ids)]

    def in_workspaces(self, workspace_ids: list[str]) -> list[Project]:
        if not workspace_ids:
            return []
        found = list_projects(self._engine, workspace_ids=workspace_ids)
        return [self._local(p) for p in found]

    def personal_default(self, workspace_ids: list[str]) -> Project | None:
        """The ``default`` project of a personal workspace among ``workspace_ids``
        (for ``/api/me``'s ``default_project``), uncached."""
        found = personal_default_project(self._engine, workspace_ids)
        return self._local(found) if found is not None else None

    def all(self) -> list[Project]:
        return [self._local(p) for p in list_projects(self._engine)]

    def _load(self, ref: str) -> Project | None:
        if ref != ref.strip():
            return None
        if not is_uuid(ref):
            ws, sep, slug = ref.partition(SLUG_SEPARATOR)
            if not sep or not ws or not slug or SLUG_SEPARATOR in slug:
                return None
        try:
            return self._local(get_project(self._engine, ref))
        except ProjectNotFound:
            return None

    def _local(self, project: Project) -> Project:
        """The project with the repository path this server uses."""
        repo_path = project.repo_path
        if not repo_path.is_absolute():
            repo_path = self._data_dir / repo_path
        if self.local_repos_dir is not None:
            repo_path = (
                self.local_repos_dir / project.workspace_slug / f"{project.slug}.git"
            )
        if repo_path == project.repo_path:
            return project
        return dataclasses.replace(project, repo_path=repo_path)
