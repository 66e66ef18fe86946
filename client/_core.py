"""What the sync and async clients share: configuration, request shapes, results.

No I/O here: the clients send the requests this module describes and hand the
responses back to it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from dakora.client._cache import Entry, ResponseCache
from dakora.client._errors import (
    DakoraAPIError,
    DakoraClientError,
    DakoraConnectionError,
    InputError,
    ServerError,
    error_from_response,
)
from dakora.client._fallback import (
    Fallback,
    FallbackInputError,
    FallbackSource,
    FallbackUnavailable,
    render_locally,
)
from dakora.client._models import (
    Part,
    PartList,
    Prompt,
    PromptList,
    RenderResult,
    WriteResult,
)
from dakora.client.config import resolve_remote

log = logging.getLogger("dakora.client")

ME_PATH = "/api/me"
DEFAULT_TIMEOUT = 10.0
DEFAULT_CACHE_TTL = 60.0
DEFAULT_STALE_TTL = 300.0


def _user_agent() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"dakora-python-sdk/{version('dakora')}"
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "dakora-python-sdk"


FULL_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
# Statuses after which a cached entry must not be served again.
EVICTING_STATUSES = frozenset({401, 403, 404, 410})

Selector = tuple[str, str] | None

# The fields of a prompt file (DESIGN order) that the write routes take as JSON.
PROMPT_FIELDS = (
    "id",
    "version",
    "description",
    "template",
    "messages",
    "inputs",
    "model",
    "metadata",
    "examples",
)


def make_selector(
    ref: str | None = None, version: str | None = None, commit: str | None = None
) -> Selector:
    given = [
        (k, v) for k, v in (("ref", ref), ("version", version), ("commit", commit))
    ]
    chosen = [(k, v) for k, v in given if v is not None]
    if len(chosen) > 1:
        raise ValueError("give at most one of ref=, version=, commit=")
    return chosen[0] if chosen else None


def is_immutable(selector: Selector) -> bool:
    if selector is None:
        return False
    kind, value = selector
    return kind == "version" or (kind == "commit" and bool(FULL_SHA.match(value)))


def project_segment(project: str) -> str:
    """The ``{project}`` path segment: a UUID, or ``workspace~slug`` (``ws/slug`` ok)."""
    value = project.strip().strip("/")
    if "/" in value:
        workspace, _, slug = value.partition("/")
        value = f"{workspace}~{slug}"
    return quote(value, safe="~")


@dataclass(frozen=True)
class Call:
    """One cacheable GET: its cache key, path and query."""

    key: Hashable
    path: str
    params: dict[str, str]
    immutable: bool


def is_unreachable(exc: BaseException) -> bool:
    """Errors after which the cache or the fallback may answer instead."""
    return isinstance(exc, DakoraConnectionError | ServerError)


class ClientCore:
    """Configuration and sans-I/O logic shared by ``Dakora`` and ``AsyncDakora``."""

    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        project: str | None,
        *,
        timeout: float,
        cache_ttl: float,
        stale_ttl: float,
        fallback: Fallback | None,
        max_cache_entries: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        base_url, api_key, project = resolve_remote(base_url, api_key, project)
        if not base_url:
            raise DakoraClientError(
                "no server URL: pass base_url, set DAKORA_URL or run `dakora link URL`"
            )
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        # None: learnt from GET /api/me (``default_project``) before the first call
        self.project: str | None = project or None
        self.timeout = timeout
        self.cache = ResponseCache(
            cache_ttl, stale_ttl, max_entries=max_cache_entries, clock=clock
        )
        self.fallback = FallbackSource(fallback) if fallback is not None else None

    @property
    def _prefix(self) -> str:
        if self.project is None:  # the clients call adopt_default_project first
            raise DakoraClientError("no project configured")
        return f"/api/projects/{project_segment(self.project)}"

    # -- the default project ----------------------------------------------------------

    @property
    def needs_project(self) -> bool:
        return self.project is None

    @staticmethod
    def me_path() -> str:
        return ME_PATH

    def adopt_default_project(self, response: httpx.Response) -> str:
        """Take the project from ``GET /api/me``'s ``default_project`` (the key's
        project, or a user's personal ``default`` project); raise when there is none."""
        data = self.json_body(response)
        default = data.get("default_project")
        if isinstance(default, dict):
            workspace, slug = default.get("workspace"), default.get("slug")
            if isinstance(workspace, str) and isinstance(slug, str):
                self.project = f"{workspace}/{slug}"
                return self.project
            if isinstance(default.get("id"), str):
                self.project = default["id"]
                return self.project
        raise DakoraClientError(
            "no project: the server names no default project for these credentials; "
            "pass one (its UUID or 'workspace/project'; --project on the command "
            "line), set DAKORA_PROJECT or run `dakora link URL --project P`"
        )

    # -- request shapes -------------------------------------------------------------

    def headers(self) -> dict[str, str]:
        headers = {"User-Agent": _user_agent(), "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def list_call(self, ref: str | None, commit: str | None = None) -> Call:
        selector = make_selector(ref=ref, commit=commit)
        params = {selector[0]: selector[1]} if selector else {}
        return Call(
            ("list", selector),
            f"{self._prefix}/prompts",
            params,
            is_immutable(selector),
        )

    @staticmethod
    def prompt_key(prompt_id: str, selector: Selector) -> Hashable:
        return ("prompt", prompt_id, selector)

    def get_call(self, prompt_id: str, selector: Selector) -> Call:
        params = {selector[0]: selector[1]} if selector else {}
        return Call(
            self.prompt_key(prompt_id, selector),
            f"{self._prefix}/prompts/{quote(prompt_id, safe='')}",
            params,
            is_immutable(selector),
        )

    def render_path(self, prompt_id: str) -> str:
        return f"{self._prefix}/prompts/{quote(prompt_id, safe='')}/render"

    def render_body(
        self, inputs: Mapping[str, Any] | None, selector: Selector
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"inputs": dict(inputs or {})}
        if selector:
            body[selector[0]] = selector[1]
        return body

    def logs_path(self) -> str:
        return f"{self._prefix}/logs"

    # -- writes ---------------------------------------------------------------------

    def prompts_path(self) -> str:
        return f"{self._prefix}/prompts"

    def prompt_path(self, prompt_id: str) -> str:
        return f"{self._prefix}/prompts/{quote(prompt_id, safe='')}"

    def parts_path(self) -> str:
        return f"{self._prefix}/parts"

    def part_path(self, category: str, name: str) -> str:
        return f"{self._prefix}/parts/{quote(category, safe='')}/{quote(name, safe='')}"

    def forget_prompt(self, prompt_id: str) -> None:
        """Drop the cached entries a write of ``prompt_id`` makes stale: the prompt
        under every selector, and every listing."""

        def stale(key: Hashable) -> bool:
            return isinstance(key, tuple) and (
                key[0] == "list" or (key[0] == "prompt" and key[1] == prompt_id)
            )

        self.cache.drop_where(stale)

    def write_result(self, response: httpx.Response) -> WriteResult:
        return WriteResult.from_json(self.json_body(response))

    def part_from(self, response: httpx.Response) -> Part:
        return Part.from_json(self.json_body(response), response.headers.get("ETag"))

    def part_list_from(self, response: httpx.Response) -> PartList:
        return PartList.from_json(self.json_body(response))

    @staticmethod
    def query(filters: Mapping[str, Any]) -> dict[str, str]:
        """Query parameters: None dropped, datetimes as ISO 8601, the rest as str."""
        out: dict[str, str] = {}
        for key, value in filters.items():
            if value is None:
                continue
            if isinstance(value, datetime):
                value = value.isoformat()
            out[key] = str(value)
        return out

    # -- responses ------------------------------------------------------------------

    @staticmethod
    def json_body(response: httpx.Response) -> dict[str, Any]:
        """The JSON object of a 2xx response; raises the typed error otherwise."""
        if response.status_code >= 400:
            raise error_from_response(response)
        try:
            data = response.json()
        except ValueError as exc:
            raise DakoraAPIError(
                response.status_code,
                "invalid_response",
                "the server's response is not JSON",
            ) from exc
        if not isinstance(data, dict):
            raise DakoraAPIError(
                response.status_code,
                "invalid_response",
                "the server's response is not a JSON object",
            )
        return data

    def conditional_headers(self, entry: Entry | None) -> dict[str, str]:
        if entry is not None and entry.etag:
            return {"If-None-Match": entry.etag}
        return {}

    def store(self, call: Call, response: httpx.Response, entry: Entry | None) -> Entry:
        """Update the cache from a (conditional) response and return the entry."""
        if response.status_code == 304 and entry is not None:
            return self.cache.touch(call.key, entry)
        if response.status_code in EVICTING_STATUSES:
            self.cache.pop(call.key)
        data = self.json_body(response)
        return self.cache.put(
            call.key, data, response.headers.get("ETag"), call.immutable
        )

    # -- fallback -------------------------------------------------------------------

    def fallback_prompt(
        self, prompt_id: str, selector: Selector, exc: DakoraClientError
    ) -> dict[str, Any]:
        """A prompt from the fallback, or re-raise ``exc`` when it has none."""
        if self.fallback is None:
            raise exc
        try:
            data = self.fallback.prompt(prompt_id)
        except Exception as fb_exc:  # a user callable or a broken file
            log.warning("dakora fallback failed for %r: %s", prompt_id, fb_exc)
            raise exc from fb_exc
        if data is None:
            raise exc
        if (
            selector is not None
            and selector[0] == "version"
            and str(data.get("version")) != selector[1]
        ):
            raise exc
        data.setdefault("id", prompt_id)
        return data

    def fallback_list(self, exc: DakoraClientError) -> PromptList:
        if self.fallback is None:
            raise exc
        try:
            prompts = self.fallback.prompts()
        except Exception as fb_exc:
            raise exc from fb_exc
        return PromptList.from_json(
            {"prompts": prompts, "ref": None, "commit": None}, "fallback"
        )

    def render_offline(
        self,
        prompt_id: str,
        inputs: Mapping[str, Any] | None,
        selector: Selector,
        exc: DakoraClientError,
    ) -> RenderResult:
        """Render from the cached prompt, else the fallback; re-raise ``exc`` if neither."""
        cached = self.cache.peek(self.prompt_key(prompt_id, selector))
        prompt = cached.data if cached is not None else None
        source = "stale"
        if prompt is None:
            prompt = self.fallback_prompt(prompt_id, selector, exc)
            source = "fallback"

        def part(name: str) -> str | None:
            return self.fallback.part(name) if self.fallback is not None else None

        try:
            data = render_locally(prompt, inputs or {}, part)
        except FallbackInputError as fb_exc:
            # what the server answers these inputs with: 422 invalid_inputs
            error = fb_exc.error
            raise InputError(
                422,
                str(error.get("code", "invalid_inputs")),
                str(error.get("message", "invalid inputs")),
                {k: v for k, v in error.items() if k not in ("code", "message")},
                body={"error": error},
            ) from exc
        except FallbackUnavailable as fb_exc:
            raise DakoraConnectionError(
                f"{exc.message} (and rendering offline failed: {fb_exc})"
            ) from exc
        return RenderResult.from_json(data, source)  # type: ignore[arg-type]

    @staticmethod
    def prompt_from(entry: Entry, source: str) -> Prompt:
        return Prompt.from_json(entry.data, source, entry.etag)  # type: ignore[arg-type]
