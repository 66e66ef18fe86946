"""Project content for the read path: the warm path is two dict lookups (docs/design.md §7).

1. (project, selector) → commit: :class:`~dakora.registry.content.resolver.Resolver`.
2. (project, commit, prompt id, ref label) → the **encoded response bytes** and ETag,
   in a bounded LRU. Commits are immutable, so these entries are never invalidated.

Everything else (``Repo`` objects, snapshots, loaded prompts, compiled templates by
blob sha in the shared :class:`~dakora.registry.render.Renderer`) is cached below
that. Content comes from the project's bare repository (``repo_path``) through
:class:`~dakora.registry.git.PromptRepository`. No web framework here: the HTTP edge
(``api/content.py``) turns a :class:`Body` into a response.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine

from dakora.registry.content.etags import etag
from dakora.registry.content.resolver import Resolver
from dakora.registry.content.selectors import Resolved, Selector
from dakora.registry.core import (
    BadRequest,
    DakoraError,
    LruCache,
    PartNotFound,
    Prompt,
    RefNotFound,
    RenderError,
    coerce_inputs,
)
from dakora.registry.git import VersionInfo
from dakora.registry.index import heads_at
from dakora.registry.render import Renderer, Renders
from dakora.registry.tenancy import Project

log = logging.getLogger("dakora.api")

MAX_BODIES = 20_000


def encode(data: Any) -> bytes:
    """Compact UTF-8 JSON (what every cached body is)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Body:
    """An encoded JSON response and its ETag (quoted, ready for the header)."""

    data: bytes
    etag: str | None = None


class ContentStore(Resolver):
    """Caches and reads project content; one per app."""

    def __init__(
        self, engine: Engine | None = None, renderer: Renders | None = None
    ) -> None:
        super().__init__(engine)
        # the server passes its pool of render worker processes (api/render_pool.py)
        self.renderer: Renders = renderer or Renderer()
        self._bodies: LruCache[tuple[Hashable, ...], Body] = LruCache(MAX_BODIES)

    def cache_stats(self) -> tuple[int, int]:
        """(hits, misses) of the encoded-response cache since start (``/metrics``)."""
        return self._bodies.hits, self._bodies.misses

    def prompt_body(self, project: Project, prompt_id: str, selector: Selector) -> Body:
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
        source = self.snapshot(project, resolved.commit).read(loaded.path)
        data.update(
            commit=resolved.commit,
            ref=resolved.ref,
            path=loaded.path,
            blob_sha=blob,
            source=source.decode("utf-8", "replace"),
        )
        body = Body(encode(data), etag(blob))
        self._bodies.put(key, body)
        return body

    def list_body(
        self, project: Project, selector: Selector, *, detail: bool = False
    ) -> Body:
        """``GET …/prompts``: every prompt at the commit (id, version, description).

        ``detail`` adds each prompt's ``kind`` and ``tags`` (``metadata.tags``), read
        from the commit rather than the index (the Studio's list and its filters);
        encoded once per commit like the plain list."""
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
        key = ("list", project.id, resolved.commit, resolved.ref, detail)
        body = self._bodies.get(key)
        if body is not None:
            return body
        items = None if detail else self._indexed_heads(project, resolved)
        if items is None:  # by commit, or the index is behind: read the commit
            snap = self.snapshot(project, resolved.commit)
            items = [
                {
                    "id": lp.prompt.id,
                    "version": lp.prompt.version,
                    "description": lp.prompt.description,
                    "path": lp.path,
                    "blob_sha": lp.blob_sha,
                    **(_detail(lp.prompt) if detail else {}),
                }
                for lp in sorted(snap.prompts(), key=lambda lp: lp.prompt.id)
            ]
        data = {"prompts": items, "ref": resolved.ref, "commit": resolved.commit}
        body = Body(encode(data), etag(resolved.commit))
        self._bodies.put(key, body)
        return body

    def _indexed_heads(
        self, project: Project, resolved: Resolved
    ) -> list[dict[str, Any]] | None:
        """The prompts of a branch or tag from the index (``prompt_heads``), when the
        index has that ref at the commit just resolved; None otherwise."""
        if self._engine is None or resolved.ref is None:
            return None
        return heads_at(self._engine, project.id, resolved.ref, resolved.commit)

    def _has_refs(self, project: Project) -> bool:
        try:
            return bool(self.repo(project).refs())
        except DakoraError:
            return False

    def render_body(
        self,
        project: Project,
        prompt_id: str,
        selector: Selector,
        inputs: Mapping[str, Any],
        observe: Callable[[Mapping[str, Any]], None] | None = None,
    ) -> bytes:
        """``POST …/render``: coerce (422 listing every bad input), render (400).

        ``observe`` sees the result before it is encoded (the server's trace span
        takes the prompt's version and commit from it, docs/telemetry.md)."""
        data = self.render_data(project, prompt_id, selector, inputs)
        if observe is not None:
            observe(data)
        try:
            return encode(data)
        except (TypeError, ValueError) as exc:
            raise RenderError(f"the rendered result is not JSON: {exc}") from exc

    def render_data(
        self,
        project: Project,
        prompt_id: str,
        selector: Selector,
        inputs: Mapping[str, Any],
        *,
        source: Literal["json", "cli"] = "json",
    ) -> dict[str, Any]:
        """The render of ``POST …/render`` (and of MCP ``prompts/get``) as data:
        inputs coerced by their declared types (``source="cli"``: strings, by the
        rules of ``dakora render -i``), rendered by this store's renderer (the
        server's render pool, under its budgets)."""
        resolved = self.resolve(project, selector, prompt_id)
        loaded = self.loaded_prompt(project, resolved.commit, prompt_id)
        prompt = loaded.prompt
        coerced = coerce_inputs(prompt.inputs, inputs, source=source)
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
        return data

    def prompts_at(
        self, project: Project, selector: Selector
    ) -> tuple[Resolved | None, list[Prompt]]:
        """Every prompt (the full model, inputs included) at the selected ref or
        commit, sorted by id; ``(None, [])`` for a project nothing was pushed to."""
        if selector.version:
            raise BadRequest("list prompts by ref or commit, not by version")
        try:
            resolved = self.resolve(project, selector)
        except RefNotFound:
            if selector.ref or selector.commit or self._has_refs(project):
                raise
            return None, []
        snap = self.snapshot(project, resolved.commit)
        prompts = sorted((lp.prompt for lp in snap.prompts()), key=lambda p: p.id)
        return resolved, prompts

    def versions_body(
        self, project: Project, prompt_id: str, selector: Selector
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
        self, project: Project, prompt_id: str, from_: str, to: str | None
    ) -> bytes:
        """``GET …/diff?from=&to=``: unified diff between two versions or revisions."""
        target = to or project.default_branch
        text = self.repo(project).diff(prompt_id, from_, target)
        return encode(
            {"prompt_id": prompt_id, "from": from_, "to": target, "diff": text}
        )

    def parts_body(self, project: Project, selector: Selector) -> Body:
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
        body = Body(encode(data), etag(parts.key))
        self._bodies.put(key, body)
        return body

    def part_body(
        self, project: Project, category: str, name: str, selector: Selector
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
        body = Body(encode(data), etag(blob))
        self._bodies.put(key, body)
        return body


def _detail(prompt: Prompt) -> dict[str, Any]:
    tags = (prompt.metadata or {}).get("tags")
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list):
        tags = []
    return {"kind": prompt.kind, "tags": [str(t) for t in tags]}


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
