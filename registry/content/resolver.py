"""Resolution and the caches below the encoded bodies (docs/design.md §7).

(project, selector) → commit is a small per-project dict, emptied by
:meth:`Resolver.invalidate_project` (pushes, API writes, events from other
processes) but for full commit shas, which never resolve differently; a per-project
generation number stops a resolution that raced with an invalidation from being
cached. Below it: one open ``PromptRepository`` per project,
snapshots by (project, commit) and loaded prompts by (project, commit, id), all
bounded. A version is resolved through the index (one query) when there is one,
else by walking the history.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine

from dakora.registry.content.selectors import Resolved, Selector
from dakora.registry.core import BadRequest, CommitSha, DakoraError, LruCache
from dakora.registry.git import PromptRepository, Snapshot, refresh_packs, short_ref
from dakora.registry.index import version_commit
from dakora.registry.load import LoadedPrompt
from dakora.registry.tenancy import Project

log = logging.getLogger("dakora.api")

MAX_LOADED = 20_000
MAX_SNAPSHOTS = 256
MAX_REPOS = 1_000


class Resolver:
    """Selectors to commits, and the repositories, snapshots and prompts behind them."""

    def __init__(self, engine: Engine | None = None) -> None:
        self._engine = engine  # for version → commit through the index
        self._repos: dict[str, PromptRepository] = {}
        self._repo_lock = threading.Lock()
        self._resolved: dict[str, dict[tuple[str, str, str], Resolved]] = {}
        self._generation: dict[str, int] = {}
        self._snapshots: LruCache[tuple[str, str], Snapshot] = LruCache(MAX_SNAPSHOTS)
        self._loaded: LruCache[tuple[str, str, str], LoadedPrompt] = LruCache(
            MAX_LOADED
        )
        # replicas: catch the local repository up to the index (from the mirror)
        # before a ref is resolved; returns True when the repository changed.
        self.freshen: Callable[[Project], bool] | None = None

    def close(self) -> None:
        with self._repo_lock:
            repos, self._repos = self._repos, {}
        for repo in repos.values():
            repo.close()

    # -- invalidation -----------------------------------------------------------------

    def invalidate_project(self, project_id: str) -> None:
        """Forget the project's ref and version resolutions (its refs moved). A full
        commit sha names the same commit whatever moved, so those stay."""
        self._generation[project_id] = self._generation.get(project_id, 0) + 1
        per_project = self._resolved.pop(project_id, None)
        if per_project:
            kept = {
                key: hit
                for key, hit in per_project.items()
                if key[0] == "commit" and key[1] == hit.commit
            }
            if kept:
                self._resolved[project_id] = kept

    def invalidate_all(self) -> None:
        for project_id in list(self._resolved):
            self.invalidate_project(project_id)

    def forget_repo(self, project_id: str) -> None:
        """Close the cached Repo (after the repository was replaced on disk)."""
        with self._repo_lock:
            repo = self._repos.pop(project_id, None)
        self.invalidate_project(project_id)
        if repo is not None:
            repo.close()

    # -- resolution -------------------------------------------------------------------

    def repo(self, project: Project) -> PromptRepository:
        repo = self._repos.get(project.id)
        if repo is not None:
            return repo
        with self._repo_lock:
            repo = self._repos.get(project.id)
            if repo is None:
                if len(self._repos) >= MAX_REPOS:
                    self._repos.clear()
                repo = PromptRepository.open(str(project.repo_path))
                self._repos[project.id] = repo
        return repo

    def resolve(
        self, project: Project, selector: Selector, prompt_id: str | None = None
    ) -> Resolved:
        """The commit a selector names (version selection needs ``prompt_id``)."""
        kind, value = selector.cache_key
        key = (kind, value, (prompt_id or "") if kind == "version" else "")
        per_project = self._resolved.get(project.id)
        if per_project is not None:
            hit = per_project.get(key)
            if hit is not None:
                return hit
        generation = self._generation.get(project.id, 0)
        self._freshen(project)
        resolved = self._resolve(project, selector, prompt_id)
        if self._generation.get(project.id, 0) == generation:
            self._resolved.setdefault(project.id, {})[key] = resolved
        return resolved

    def cached_resolution(
        self, project: Project, selector: Selector, prompt_id: str | None = None
    ) -> Resolved | None:
        """What :meth:`resolve` would return, if it is cached (None otherwise: no
        repository, index or replica access)."""
        per_project = self._resolved.get(project.id)
        if per_project is None:
            return None
        kind, value = selector.cache_key
        return per_project.get(
            (kind, value, (prompt_id or "") if kind == "version" else "")
        )

    def _freshen(self, project: Project) -> None:
        if self.freshen is None:
            return
        try:
            changed = self.freshen(project)
        except (DakoraError, OSError) as exc:
            log.warning("could not catch up %s: %s", project.full_name, exc)
            return
        if changed:
            repo = self._repos.get(project.id)
            if repo is not None:
                refresh_packs(repo.store)

    def _resolve(
        self, project: Project, selector: Selector, prompt_id: str | None
    ) -> Resolved:
        repo = self.repo(project)
        if selector.version:
            if not prompt_id:
                raise BadRequest("selecting by version needs a prompt id")
            commit = self._indexed_version(project, prompt_id, selector.version)
            if commit is None:  # not indexed (yet): walk the history
                commit = repo.find_version(prompt_id, selector.version).commit
            return Resolved(commit, None)
        if selector.commit:
            return Resolved(repo.resolve(selector.commit), None)
        ref = selector.ref or project.default_branch
        return Resolved(repo.resolve(ref), short_ref(ref))

    def _indexed_version(
        self, project: Project, prompt_id: str, version: str
    ) -> CommitSha | None:
        """The commit that introduced ``version``, from the index (one query)."""
        if self._engine is None:
            return None
        commit = version_commit(self._engine, project.id, prompt_id, version)
        return CommitSha(commit) if commit is not None else None

    def snapshot(self, project: Project, commit: str) -> Snapshot:
        key = (project.id, commit)
        snap = self._snapshots.get(key)
        if snap is None:
            snap = self.repo(project).snapshot(commit)
            self._snapshots.put(key, snap)
        return snap

    def loaded_prompt(
        self, project: Project, commit: str, prompt_id: str
    ) -> LoadedPrompt:
        key = (project.id, commit, prompt_id)
        loaded = self._loaded.get(key)
        if loaded is None:
            loaded = self.snapshot(project, commit).find_prompt(prompt_id)
            self._loaded.put(key, loaded)
        return loaded
