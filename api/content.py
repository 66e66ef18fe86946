"""Project content for the read path: the warm path is two dict lookups (docs/design.md §7).

1. (project, selector) → commit: a small per-project dict, emptied by
   :meth:`ContentStore.invalidate_project` (pushes, API writes, events from other
   processes). A per-project generation number stops a resolution that raced with an
   invalidation from being cached.
2. (project, commit, prompt id, ref label) → the **encoded response bytes** and ETag,
   in a bounded LRU. Commits are immutable, so these entries are never invalidated.

Everything else (``Repo`` objects, snapshots, loaded prompts, compiled templates by
blob sha in the shared :class:`~dakora.registry.render.renderer.Renderer`) is cached below
that. Content comes from the project's bare repository (``repo_path``) through
:class:`~dakora.registry.git.repo.PromptRepository`.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from dakora.api.projects import ProjectInfo
from dakora.registry.core import (
    BadRequest,
    DakoraError,
    LruCache,
    PartNotFound,
    RefNotFound,
    RenderError,
    coerce_inputs,
)
from dakora.registry.db import prompt_heads, prompt_versions, read
from dakora.registry.git import PromptRepository, Snapshot, VersionInfo
from dakora.registry.load import LoadedPrompt
from dakora.registry.render import Renderer

log = logging.getLogger("dakora.api")


SHA_RE = re.compile(r"^[0-9a-f]{4,64}$")
MAX_BODIES = 20_000
MAX_SNAPSHOTS = 256
MAX_REPOS = 1_000


def encode(data: Any) -> bytes:
    """Compact UTF-8 JSON (what every cached body is)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Selector:
    """Which content: at most one of ref, version, commit (none = default branch)."""

    ref: str | None = None
    version: str | None = None
    commit: str | None = None

    @classmethod
    def of(
        cls,
        ref: str | None = None,
        version: str | None = None,
        commit: str | None = None,
    ) -> Selector:
        given = [
            n for n, v in (("ref", ref), ("version", version), ("commit", commit)) if v
        ]
        if len(given) > 1:
            raise BadRequest(
                f"give at most one of ref, version, commit (got {', '.join(given)})"
            )
        if commit is not None and commit and not SHA_RE.match(commit.lower()):
            raise BadRequest(f"commit {commit!r} is not a hexadecimal commit sha")
        return cls(ref or None, version or None, commit.lower() if commit else None)

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Selector:
        if not query:
            return DEFAULT_SELECTOR
        return cls.of(query.get("ref"), query.get("version"), query.get("commit"))

    @property
    def cache_key(self) -> tuple[str, str]:
        if self.commit:
            return ("commit", self.commit)
        if self.version:
            return ("version", self.version)
        return ("ref", self.ref or "")


DEFAULT_SELECTOR = Selector()


@dataclass(frozen=True)
class Resolved:
    commit: str
    ref: str | None  # the branch/tag name served, None for commit or version selection


@dataclass(frozen=True)
class Body:
    """An encoded JSON response and its ETag (quoted, ready for the header)."""

    data: bytes
    etag: str | None = None


class ContentStore:
    """Caches and reads project content; one per app."""

    def __init__(
        self, engine: Engine | None = None, renderer: Renderer | None = None
    ) -> None:
        self._engine = engine  # for version → commit through the index
        # the server passes a RenderPool (render_pool.py): same interface
        self.renderer = renderer or Renderer()
        self._repos: dict[str, PromptRepository] = {}
        self._repo_lock = threading.Lock()
        self._resolved: dict[str, dict[tuple[str, str, str], Resolved]] = {}
        self._generation: dict[str, int] = {}
        self._snapshots: LruCache[tuple[str, str], Snapshot] = LruCache(MAX_SNAPSHOTS)
        self._bodies: LruCache[tuple[Hashable, ...], Body] = LruCache(MAX_BODIES)
        self._loaded: LruCache[tuple[str, str, str], LoadedPrompt] = LruCache(
            MAX_BODIES
        )
        # replicas: catch the local repository up to the index (from the mirror)
        # before a ref is resolved; returns True when the repository changed.
        self.freshen: Callable[[ProjectInfo], bool] | None = None

    def close(self) -> None:
        with self._repo_lock:
            repos, self._repos = self._repos, {}
        for repo in repos.values():
            close = getattr(repo, "close", None)
            if close is not None:
                close()

    # -- invalidation -----------------------------------------------------------------

    def invalidate_project(self, project_id: str) -> None:
        self._generation[project_id] = self._generation.get(project_id, 0) + 1
        self._resolved.pop(project_id, None)

    def invalidate_all(self) -> None:
        for project_id in list(self._resolved):
            self.invalidate_project(project_id)

    def forget_repo(self, project_id: str) -> None:
        """Close the cached Repo (after the repository was replaced on disk)."""
        with self._repo_lock:
            repo = self._repos.pop(project_id, None)
        self.invalidate_project(project_id)
        close = getattr(repo, "close", None)
        if close is not None:
            close()

    # -- resolution -------------------------------------------------------------------

    def repo(self, project: ProjectInfo) -> PromptRepository:
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
        self, project: ProjectInfo, selector: Selector, prompt_id: str | None = None
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

    def _freshen(self, project: ProjectInfo) -> None:
        if self.freshen is None:
            return
        try:
            changed = self.freshen(project)
        except (DakoraError, OSError) as exc:
            log.warning("could not catch up %s: %s", project.full_slug, exc)
            return
        if changed:
            repo = self._repos.get(project.id)
            if repo is not None:
                repo.store._update_pack_cache()  # type: ignore[attr-defined]

    def _resolve(
        self, project: ProjectInfo, selector: Selector, prompt_id: str | None
    ) -> Resolved:
        repo = self.repo(project)
        if selector.version:
            if not prompt_id:
                raise BadRequest("selecting by version needs a prompt id")
            commit = self._indexed_version(project, prompt_id, selector.version)
            if commit is None:  # not indexed (yet): walk the history
                commit = str(repo.find_version(prompt_id, selector.version).commit)
            return Resolved(commit, None)
        if selector.commit:
            return Resolved(str(repo.resolve(selector.commit)), None)
        ref = selector.ref or project.default_branch
        return Resolved(str(repo.resolve(ref)), _short_ref(ref))

    def _indexed_version(
        self, project: ProjectInfo, prompt_id: str, version: str
    ) -> str | None:
        """The commit that introduced ``version``, from the index (one query)."""
        if self._engine is None:
            return None
        query = select(prompt_versions.c.commit_sha).where(
            prompt_versions.c.project_id == project.id,
            prompt_versions.c.prompt_id == prompt_id,
            prompt_versions.c.version == version,
        )
        with read(self._engine) as conn:
            commit = conn.execute(query).scalar_one_or_none()
        return str(commit) if commit else None

    def snapshot(self, project: ProjectInfo, commit: str) -> Snapshot:
        key = (project.id, commit)
        snap = self._snapshots.get(key)
        if snap is None:
            snap = self.repo(project).snapshot(commit)
            self._snapshots.put(key, snap)
        return snap

    def loaded_prompt(
        self, project: ProjectInfo, commit: str, prompt_id: str
    ) -> LoadedPrompt:
        key = (project.id, commit, prompt_id)
        loaded = self._loaded.get(key)
        if loaded is None:
            loaded = self.snapshot(project, commit).find_prompt(prompt_id)
            self._loaded.put(key, loaded)
        return loaded

    # -- bodies -----------------------------------------------------------------------

    def prompt_body(
        self, project: ProjectInfo, prompt_id: str, selector: Selector
    ) -> Body:
        """``GET …/prompts/{id}``: the prompt plus commit and ref, encoded once."""
        resolved = self.resolve(project, selector, prompt_id)
        key = ("prompt", project.id, resolved.commit, prompt_id, resolved.ref)
        body = self._bodies.get(key)
        if body is not None:
            return body
        loaded = self.loaded_prompt(project, resolved.commit, prompt_id)
        blob = loaded.blob_sha or self.snapshot(project, resolved.commit).blob_sha(
            loaded.path
        )
        data = loaded.prompt.public_dict()
        data.update(
            commit=resolved.commit, ref=resolved.ref, path=loaded.path, blob_sha=blob
        )
        body = Body(encode(data), f'"{blob}"')
        self._bodies.put(key, body)
        return body

    def list_body(self, project: ProjectInfo, selector: Selector) -> Body:
        """``GET …/prompts``: every prompt at the commit (id, version, description)."""
        if selector.version:
            raise BadRequest("list prompts by ref or commit, not by version")
        try:
            resolved = self.resolve(project, selector)
        except RefNotFound:
            if selector.ref or selector.commit or self._has_refs(project):
                raise
            # A project nothing was pushed to yet: an empty list, not a 404.
            return Body(
                encode({"prompts": [], "ref": project.default_branch, "commit": None})
            )
        key = ("list", project.id, resolved.commit, resolved.ref)
        body = self._bodies.get(key)
        if body is not None:
            return body
        items = self._indexed_heads(project, resolved)
        if items is None:  # by commit, or the index is behind: read the commit
            snap = self.snapshot(project, resolved.commit)
            items = [
                {
                    "id": lp.prompt.id,
                    "version": lp.prompt.version,
                    "description": lp.prompt.description,
                    "path": lp.path,
                    "blob_sha": lp.blob_sha,
                }
                for lp in sorted(snap.prompts(), key=lambda lp: lp.prompt.id)
            ]
        data = {"prompts": items, "ref": resolved.ref, "commit": resolved.commit}
        body = Body(encode(data), f'"{resolved.commit}"')
        self._bodies.put(key, body)
        return body

    def _indexed_heads(
        self, project: ProjectInfo, resolved: Resolved
    ) -> list[dict[str, Any]] | None:
        """The prompts of a branch or tag from the index (``prompt_heads``), when the
        index has that ref at the commit just resolved; None otherwise."""
        if self._engine is None or resolved.ref is None:
            return None
        names = [resolved.ref]
        if not resolved.ref.startswith("refs/"):
            names = [f"refs/heads/{resolved.ref}", f"refs/tags/{resolved.ref}"]
        query = (
            select(
                prompt_heads.c.ref,
                prompt_heads.c.prompt_id,
                prompt_heads.c.version,
                prompt_heads.c.description,
                prompt_heads.c.path,
                prompt_heads.c.blob_sha,
            )
            .where(
                prompt_heads.c.project_id == project.id,
                prompt_heads.c.ref.in_(names),
                prompt_heads.c.commit_sha == resolved.commit,
            )
            .order_by(prompt_heads.c.ref, prompt_heads.c.prompt_id)
        )
        with read(self._engine) as conn:
            rows = conn.execute(query).fetchall()
        if not rows:
            return None
        first = rows[0].ref
        return [
            {
                "id": r.prompt_id,
                "version": r.version,
                "description": r.description,
                "path": r.path,
                "blob_sha": r.blob_sha,
            }
            for r in rows
            if r.ref == first
        ]

    def _has_refs(self, project: ProjectInfo) -> bool:
        try:
            return bool(self.repo(project).refs())
        except DakoraError:
            return False

    def render_body(
        self,
        project: ProjectInfo,
        prompt_id: str,
        selector: Selector,
        inputs: Mapping[str, Any],
    ) -> bytes:
        """``POST …/render``: coerce (422 listing every bad input), render (400)."""
        resolved = self.resolve(project, selector, prompt_id)
        loaded = self.loaded_prompt(project, resolved.commit, prompt_id)
        prompt = loaded.prompt
        coerced = coerce_inputs(prompt.inputs, inputs, source="json")
        parts = self.snapshot(project, resolved.commit).parts
        blob = loaded.blob_sha or ""
        try:
            result = self.renderer.render(
                prompt, coerced, parts, cache_key=f"{blob}:{parts.key}"
            )
        except DakoraError:
            raise
        except Exception as exc:  # a template must never turn into a 500
            log.warning("render of %s failed unexpectedly", prompt_id, exc_info=True)
            raise RenderError(f"template failed: {type(exc).__name__}: {exc}") from exc
        data: dict[str, Any] = {
            "prompt_id": prompt.id,
            "version": prompt.version,
            "commit": resolved.commit,
            "ref": resolved.ref,
            "kind": result.kind,
        }
        if result.kind == "chat":
            data["messages"] = result.messages
        else:
            data["rendered"] = result.rendered
        data["inputs_used"] = result.inputs_used
        try:
            return encode(data)
        except (TypeError, ValueError) as exc:
            raise RenderError(f"the rendered result is not JSON: {exc}") from exc

    def versions_body(
        self, project: ProjectInfo, prompt_id: str, selector: Selector
    ) -> bytes:
        """``GET …/versions``: versions reachable from the selected ref, newest first."""
        if selector.version:
            raise BadRequest("list versions by ref or commit, not by version")
        resolved = self.resolve(project, selector)
        key = ("versions", project.id, resolved.commit, prompt_id, resolved.ref)
        body = self._bodies.get(key)
        if body is not None:
            return body.data
        # 404 when the prompt does not exist at this commit nor in its history.
        history = self.repo(project).history(prompt_id, resolved.commit)
        if not history:
            self.loaded_prompt(project, resolved.commit, prompt_id)
        data = {
            "prompt_id": prompt_id,
            "ref": resolved.ref,
            "commit": resolved.commit,
            "versions": [_version_dict(v) for v in history],
        }
        encoded = encode(data)
        self._bodies.put(key, Body(encoded))
        return encoded

    def diff_body(
        self, project: ProjectInfo, prompt_id: str, from_: str, to: str | None
    ) -> bytes:
        """``GET …/diff?from=&to=``: unified diff between two versions or revisions."""
        target = to or project.default_branch
        text = self.repo(project).diff(prompt_id, from_, target)
        return encode(
            {"prompt_id": prompt_id, "from": from_, "to": target, "diff": text}
        )

    def parts_body(self, project: ProjectInfo, selector: Selector) -> Body:
        if selector.version:
            raise BadRequest("list parts by ref or commit, not by version")
        resolved = self.resolve(project, selector)
        key = ("parts", project.id, resolved.commit, resolved.ref)
        body = self._bodies.get(key)
        if body is not None:
            return body
        parts = self.snapshot(project, resolved.commit).parts
        items = []
        for name in parts.names():
            found = parts.get_source(name)
            category, _, short = name.partition("/")
            items.append(
                {
                    "name": name,
                    "category": category,
                    "part": short,
                    "path": found[1] if found else None,
                }
            )
        data = {"parts": items, "ref": resolved.ref, "commit": resolved.commit}
        body = Body(encode(data), f'"{parts.key}"')
        self._bodies.put(key, body)
        return body

    def part_body(
        self, project: ProjectInfo, category: str, name: str, selector: Selector
    ) -> Body:
        if selector.version:
            raise BadRequest("fetch parts by ref or commit, not by version")
        resolved = self.resolve(project, selector)
        full = f"{category}/{name}"
        key = ("part", project.id, resolved.commit, full, resolved.ref)
        body = self._bodies.get(key)
        if body is not None:
            return body
        snap = self.snapshot(project, resolved.commit)
        found = snap.parts.get_source(full)
        if found is None:
            raise PartNotFound(f"part {full!r} not found at {resolved.commit[:12]}")
        source, path = found
        data = {
            "name": full.rsplit(".", 1)[0] if "." in name else full,
            "category": category,
            "path": path,
            "source": source,
            "ref": resolved.ref,
            "commit": resolved.commit,
        }
        blob = snap.blob_sha(path)
        body = Body(encode(data), f'"{blob}"')
        self._bodies.put(key, body)
        return body


def _short_ref(ref: str) -> str:
    for prefix in ("refs/heads/", "refs/tags/"):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref


def _version_dict(v: VersionInfo) -> dict[str, Any]:
    return {
        "version": v.version,
        "commit": str(v.commit),
        "path": v.path,
        "blob_sha": v.blob_sha,
        "author": v.author,
        "committed_at": v.committed_at.isoformat(),
        "message": v.message,
    }
