"""``AsyncDakora``: the asyncio client (httpx.AsyncClient; refreshes as tasks)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import httpx

from dakora.client._cache import Entry
from dakora.client._core import (
    DEFAULT_CACHE_TTL,
    DEFAULT_STALE_TTL,
    DEFAULT_TIMEOUT,
    Call,
    ClientCore,
    is_unreachable,
    make_selector,
)
from dakora.client._errors import DakoraClientError, DakoraConnectionError, NotFound
from dakora.client._fallback import Fallback
from dakora.client._models import (
    Part,
    PartList,
    Prompt,
    PromptList,
    RenderResult,
    WriteResult,
)
from dakora.client._sync import _log_body

log = logging.getLogger("dakora.client")


class AsyncDakora:
    """The asyncio twin of :class:`~dakora.client.Dakora` (same arguments, awaitable
    methods). Background refreshes run as tasks on the running loop; ``aclose()`` (or
    ``async with``) waits for them and closes the connections.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        project: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        cache_ttl: float = DEFAULT_CACHE_TTL,
        stale_ttl: float = DEFAULT_STALE_TTL,
        fallback: Fallback | None = None,
        max_cache_entries: int = 1024,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._core = ClientCore(
            base_url,
            api_key,
            project,
            timeout=timeout,
            cache_ttl=cache_ttl,
            stale_ttl=stale_ttl,
            fallback=fallback,
            max_cache_entries=max_cache_entries,
            clock=clock,
        )
        self._http = httpx.AsyncClient(
            base_url=self._core.base_url,
            headers=self._core.headers(),
            timeout=timeout,
            transport=transport,
        )
        self._refreshing: dict[Hashable, asyncio.Task[None]] = {}
        self._project_lock = asyncio.Lock()
        self._closed = False
        self.prompts = AsyncPrompts(self)
        self.parts = AsyncParts(self)
        self.logs = AsyncLogs(self)

    @property
    def base_url(self) -> str:
        return self._core.base_url

    @property
    def project(self) -> str | None:
        """The project in use; None until the first call learns the default one."""
        return self._core.project

    async def __aenter__(self) -> AsyncDakora:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._closed = True
        await self.wait_for_refreshes()
        await self._http.aclose()

    def clear_cache(self) -> None:
        self._core.cache.clear()

    async def wait_for_refreshes(self, timeout: float | None = None) -> None:
        """Wait (at most ``timeout`` seconds) until the background refreshes started
        so far have finished."""
        tasks = list(self._refreshing.values())
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    async def _ready(self) -> ClientCore:
        """The core, once the project is known: without one configured, the server's
        ``default_project`` for these credentials (``GET /api/me``, asked once)."""
        core = self._core
        if core.needs_project:
            async with self._project_lock:
                if core.needs_project:
                    response = await self._send("GET", core.me_path())
                    core.adopt_default_project(response)
        return core

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        try:
            return await self._http.request(
                method, path, params=params, json=json, headers=headers
            )
        except httpx.TransportError as exc:
            raise DakoraConnectionError(
                f"cannot reach the Dakora server at {self._core.base_url}: "
                f"{type(exc).__name__}"
            ) from exc

    async def _revalidate(self, call: Call, entry: Entry | None) -> Entry:
        response = await self._send(
            "GET",
            call.path,
            params=call.params,
            headers=self._core.conditional_headers(entry),
        )
        return self._core.store(call, response, entry)

    def _refresh_in_background(self, call: Call, entry: Entry) -> None:
        if self._closed or call.key in self._refreshing:
            return
        task = asyncio.get_running_loop().create_task(self._background(call, entry))
        self._refreshing[call.key] = task

    async def _background(self, call: Call, entry: Entry) -> None:
        try:
            await self._revalidate(call, entry)
        except DakoraClientError as exc:
            log.info("dakora background refresh of %s failed: %s", call.path, exc)
        except Exception:
            log.exception("dakora background refresh of %s failed", call.path)
        finally:
            self._refreshing.pop(call.key, None)

    async def _cached(self, call: Call) -> tuple[Entry, str]:
        entry, state = self._core.cache.lookup(call.key)
        if entry is not None and state == "fresh":
            return entry, "cache"
        if entry is not None and state == "stale":
            self._refresh_in_background(call, entry)
            return entry, "stale"
        try:
            return await self._revalidate(call, entry), "network"
        except DakoraClientError as exc:
            if entry is not None and is_unreachable(exc):
                return entry, "stale"
            raise


class AsyncPrompts:
    def __init__(self, client: AsyncDakora) -> None:
        self._c = client

    async def list(
        self, ref: str | None = None, *, commit: str | None = None
    ) -> PromptList:
        try:
            call = (await self._c._ready()).list_call(ref, commit)
            entry, source = await self._c._cached(call)
        except DakoraClientError as exc:
            if not is_unreachable(exc):
                raise
            return self._c._core.fallback_list(exc)
        return PromptList.from_json(entry.data, source)  # type: ignore[arg-type]

    async def get(
        self,
        prompt_id: str,
        *,
        ref: str | None = None,
        version: str | None = None,
        commit: str | None = None,
    ) -> Prompt:
        selector = make_selector(ref, version, commit)
        try:
            call = (await self._c._ready()).get_call(prompt_id, selector)
            entry, source = await self._c._cached(call)
        except DakoraClientError as exc:
            if not is_unreachable(exc):
                raise
            data = self._c._core.fallback_prompt(prompt_id, selector, exc)
            return Prompt.from_json(data, "fallback")
        return self._c._core.prompt_from(entry, source)

    async def render(
        self,
        prompt_id: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        ref: str | None = None,
        version: str | None = None,
        commit: str | None = None,
    ) -> RenderResult:
        selector = make_selector(ref, version, commit)
        core = self._c._core
        try:
            await self._c._ready()
            response = await self._c._send(
                "POST",
                core.render_path(prompt_id),
                json=core.render_body(inputs, selector),
            )
            return RenderResult.from_json(core.json_body(response), "network")
        except DakoraClientError as exc:
            if not is_unreachable(exc):
                raise
            return core.render_offline(prompt_id, inputs, selector, exc)

    async def create(
        self,
        prompt_id: str,
        version: str,
        *,
        template: str | None = None,
        messages: Sequence[Mapping[str, str]] | None = None,
        inputs: Mapping[str, Mapping[str, Any]] | None = None,
        description: str | None = None,
        model: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        examples: Sequence[Mapping[str, Any]] | None = None,
        branch: str | None = None,
        message: str | None = None,
    ) -> WriteResult:
        """Add a prompt: one commit on ``branch`` (default branch), checked like a
        push. Give exactly one of ``template`` / ``messages``."""
        core = await self._c._ready()
        body = core.create_body(
            prompt_id,
            {
                "version": version,
                "description": description,
                "template": template,
                "messages": messages,
                "inputs": inputs,
                "model": model,
                "metadata": metadata,
                "examples": examples,
            },
            {"branch": branch, "message": message},
        )
        try:
            response = await self._c._send("POST", core.prompts_path(), json=body)
        finally:
            core.forget_prompt(prompt_id)
        return core.write_result(response)

    async def update(
        self,
        prompt_id: str,
        *,
        version: str | None = None,
        template: str | None = None,
        messages: Sequence[Mapping[str, str]] | None = None,
        inputs: Mapping[str, Mapping[str, Any]] | None = None,
        description: str | None = None,
        model: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        examples: Sequence[Mapping[str, Any]] | None = None,
        branch: str | None = None,
        message: str | None = None,
        if_match: str | None = None,
    ) -> WriteResult:
        """Change a prompt: the fields given replace the current ones on ``branch``
        (fetched afresh), the rest are kept. Bump ``version``. The write is
        conditional on the content it was merged onto (412 ``PreconditionFailed``
        when someone changed it meanwhile), or on ``if_match`` (a version, blob sha
        or commit) when given."""
        core = await self._c._ready()
        current, etag = await self._current(prompt_id, branch)
        body = core.update_body(
            prompt_id,
            current,
            {
                "version": version,
                "description": description,
                "template": template,
                "messages": messages,
                "inputs": inputs,
                "model": model,
                "metadata": metadata,
                "examples": examples,
            },
            {"branch": branch, "message": message},
        )
        try:
            response = await self._c._send(
                "PUT",
                core.prompt_path(prompt_id),
                json=body,
                headers=core.if_match_headers(if_match or etag),
            )
        finally:
            core.forget_prompt(prompt_id)
        return core.write_result(response)

    async def delete(
        self,
        prompt_id: str,
        *,
        branch: str | None = None,
        message: str | None = None,
        if_match: str | None = None,
    ) -> WriteResult:
        """Remove a prompt's file: one commit on ``branch`` (its versions stay in the
        history and can still be fetched by ``version=``)."""
        core = await self._c._ready()
        try:
            response = await self._c._send(
                "DELETE",
                core.prompt_path(prompt_id),
                params=core.delete_params(branch, message),
                headers=core.if_match_headers(if_match),
            )
        finally:
            core.forget_prompt(prompt_id)
        return core.write_result(response)

    async def _current(
        self, prompt_id: str, branch: str | None
    ) -> tuple[dict[str, Any], str | None]:
        """The prompt on ``branch`` (uncached) and its ETag; a branch that does not
        exist yet starts from the default branch, as the write will."""
        core = await self._c._ready()
        path = core.prompt_path(prompt_id)
        try:
            response = await self._c._send(
                "GET", path, params=core.read_params(branch, None)
            )
            return core.json_body(response), response.headers.get("ETag")
        except NotFound as exc:
            if branch is None or exc.code != "ref_not_found":
                raise
        response = await self._c._send("GET", path)
        return core.json_body(response), response.headers.get("ETag")


class AsyncParts:
    """The snippets prompts include (``parts/<category>/<name>.<ext>``)."""

    def __init__(self, client: AsyncDakora) -> None:
        self._c = client

    async def list(
        self, ref: str | None = None, *, commit: str | None = None
    ) -> PartList:
        """Every part at ``ref`` (default branch) or ``commit``."""
        core = await self._c._ready()
        response = await self._c._send(
            "GET", core.parts_path(), params=core.read_params(ref, commit)
        )
        return core.part_list_from(response)

    async def get(
        self,
        category: str,
        name: str,
        *,
        ref: str | None = None,
        commit: str | None = None,
    ) -> Part:
        """One part's source (``name`` with or without its extension)."""
        core = await self._c._ready()
        response = await self._c._send(
            "GET", core.part_path(category, name), params=core.read_params(ref, commit)
        )
        return core.part_from(response)

    async def create(
        self,
        category: str,
        name: str,
        content: str,
        *,
        ext: str | None = None,
        branch: str | None = None,
        message: str | None = None,
    ) -> WriteResult:
        """Add ``parts/<category>/<name>.<ext>`` (ext ``md`` by default, or ``txt``,
        ``j2``): one commit on ``branch``, checked like a push."""
        core = await self._c._ready()
        body = core.part_body(
            content, ext, branch, message, category=category, name=name
        )
        response = await self._c._send("POST", core.parts_path(), json=body)
        return core.write_result(response)

    async def update(
        self,
        category: str,
        name: str,
        content: str,
        *,
        ext: str | None = None,
        branch: str | None = None,
        message: str | None = None,
        if_match: str | None = None,
    ) -> WriteResult:
        """Replace a part's content (a new ``ext`` renames its file); conditional
        on ``if_match`` (its blob sha, ``Part.etag``, or a commit) when given."""
        core = await self._c._ready()
        response = await self._c._send(
            "PUT",
            core.part_path(category, name),
            json=core.part_body(content, ext, branch, message),
            headers=core.if_match_headers(if_match),
        )
        return core.write_result(response)

    async def delete(
        self,
        category: str,
        name: str,
        *,
        branch: str | None = None,
        message: str | None = None,
        if_match: str | None = None,
    ) -> WriteResult:
        """Remove a part (refused with ``InvalidPrompt`` while a prompt includes
        it)."""
        core = await self._c._ready()
        response = await self._c._send(
            "DELETE",
            core.part_path(category, name),
            params=core.delete_params(branch, message),
            headers=core.if_match_headers(if_match),
        )
        return core.write_result(response)


class AsyncLogs:
    def __init__(self, client: AsyncDakora) -> None:
        self._c = client

    async def create(
        self,
        *,
        prompt_id: str | None = None,
        version: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        output: str | None = None,
        provider: str | None = None,
        model: str | None = None,
        tokens_in: int = 0,
        tokens_out: int = 0,
        cost: float | None = None,
        latency_ms: int | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        body = _log_body(
            prompt_id=prompt_id,
            version=version,
            inputs=inputs,
            output=output,
            provider=provider,
            model=model,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost=cost,
            latency_ms=latency_ms,
            **extra,
        )
        core = await self._c._ready()
        response = await self._c._send("POST", core.logs_path(), json=body)
        return core.json_body(response)

    async def list(self, **filters: Any) -> dict[str, Any]:
        core = await self._c._ready()
        params = core.query(filters)
        response = await self._c._send("GET", core.logs_path(), params=params)
        return core.json_body(response)
