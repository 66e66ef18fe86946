"""``Dakora``: the synchronous client (httpx.Client; refreshes in daemon threads)."""

from __future__ import annotations

import logging
import threading
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

log = logging.getLogger("dakora.client")


class Dakora:
    """Fetch and render prompts from a Dakora server.

    ``Dakora(base_url, api_key, project)``; any of the three left out is taken from
    ``DAKORA_URL`` / ``DAKORA_API_KEY`` / ``DAKORA_PROJECT`` or the ``dakora link``
    file. ``project`` is the project's UUID or ``"workspace/project"``; with none, the
    server's default project for the key or user is used (``GET /api/me``). Thread-safe;
    use one instance per process and ``close()`` it (or use ``with``).
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
        transport: httpx.BaseTransport | None = None,
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
        self._http = httpx.Client(
            base_url=self._core.base_url,
            headers=self._core.headers(),
            timeout=timeout,
            transport=transport,
        )
        self._refreshing: dict[Hashable, threading.Thread] = {}
        self._lock = threading.Lock()
        self._project_lock = threading.Lock()
        self._closed = False
        self.prompts = Prompts(self)
        self.parts = Parts(self)
        self.logs = Logs(self)

    @property
    def base_url(self) -> str:
        return self._core.base_url

    @property
    def project(self) -> str | None:
        """The project in use; None until the first call learns the default one."""
        return self._core.project

    def __enter__(self) -> Dakora:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Wait for background refreshes, then close the HTTP connections."""
        self._closed = True
        self.wait_for_refreshes()
        self._http.close()

    def clear_cache(self) -> None:
        self._core.cache.clear()

    def wait_for_refreshes(self, timeout: float | None = None) -> None:
        """Block until the background refreshes started so far have finished."""
        with self._lock:
            threads = list(self._refreshing.values())
        for thread in threads:
            thread.join(timeout)

    # -- transport ------------------------------------------------------------------

    def _ready(self) -> ClientCore:
        """The core, once the project is known: without one configured, the server's
        ``default_project`` for these credentials (``GET /api/me``, asked once)."""
        core = self._core
        if core.needs_project:
            with self._project_lock:
                if core.needs_project:
                    core.adopt_default_project(self._send("GET", core.me_path()))
        return core

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        try:
            return self._http.request(
                method, path, params=params, json=json, headers=headers
            )
        except httpx.TransportError as exc:
            raise DakoraConnectionError(
                f"cannot reach the Dakora server at {self._core.base_url}: "
                f"{type(exc).__name__}"
            ) from exc

    def _revalidate(self, call: Call, entry: Entry | None) -> Entry:
        response = self._send(
            "GET",
            call.path,
            params=call.params,
            headers=self._core.conditional_headers(entry),
        )
        return self._core.store(call, response, entry)

    def _refresh_in_background(self, call: Call, entry: Entry) -> None:
        with self._lock:
            if self._closed or call.key in self._refreshing:
                return
            thread = threading.Thread(
                target=self._background, args=(call, entry), daemon=True
            )
            self._refreshing[call.key] = thread
        thread.start()

    def _background(self, call: Call, entry: Entry) -> None:
        try:
            self._revalidate(call, entry)
        except DakoraClientError as exc:
            log.info("dakora background refresh of %s failed: %s", call.path, exc)
        except Exception:  # never let a refresh thread die loudly
            log.exception("dakora background refresh of %s failed", call.path)
        finally:
            with self._lock:
                self._refreshing.pop(call.key, None)

    def _cached(self, call: Call) -> tuple[Entry, str]:
        """The entry for ``call`` and its source; raises when nothing can answer."""
        entry, state = self._core.cache.lookup(call.key)
        if entry is not None and state == "fresh":
            return entry, "cache"
        if entry is not None and state == "stale":
            self._refresh_in_background(call, entry)
            return entry, "stale"
        try:
            return self._revalidate(call, entry), "network"
        except DakoraClientError as exc:
            if entry is not None and is_unreachable(exc):
                return entry, "stale"
            raise


class Prompts:
    def __init__(self, client: Dakora) -> None:
        self._c = client

    def list(self, ref: str | None = None, *, commit: str | None = None) -> PromptList:
        """Every prompt (id, version, description) on ``ref`` (default branch)."""
        try:
            call = self._c._ready().list_call(ref, commit)
            entry, source = self._c._cached(call)
        except DakoraClientError as exc:
            if not is_unreachable(exc):
                raise
            return self._c._core.fallback_list(exc)
        return PromptList.from_json(entry.data, source)  # type: ignore[arg-type]

    def get(
        self,
        prompt_id: str,
        *,
        ref: str | None = None,
        version: str | None = None,
        commit: str | None = None,
    ) -> Prompt:
        """The prompt on the default branch, or by ``ref``, ``version`` or ``commit``."""
        selector = make_selector(ref, version, commit)
        try:
            call = self._c._ready().get_call(prompt_id, selector)
            entry, source = self._c._cached(call)
        except DakoraClientError as exc:
            if not is_unreachable(exc):
                raise
            data = self._c._core.fallback_prompt(prompt_id, selector, exc)
            return Prompt.from_json(data, "fallback")
        return self._c._core.prompt_from(entry, source)

    def render(
        self,
        prompt_id: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        ref: str | None = None,
        version: str | None = None,
        commit: str | None = None,
    ) -> RenderResult:
        """Render on the server; offline, from the cached prompt or the fallback."""
        selector = make_selector(ref, version, commit)
        core = self._c._core
        try:
            self._c._ready()
            response = self._c._send(
                "POST",
                core.render_path(prompt_id),
                json=core.render_body(inputs, selector),
            )
            return RenderResult.from_json(core.json_body(response), "network")
        except DakoraClientError as exc:
            if not is_unreachable(exc):
                raise
            return core.render_offline(prompt_id, inputs, selector, exc)

    def create(
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
        core = self._c._ready()
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
            response = self._c._send("POST", core.prompts_path(), json=body)
        finally:
            core.forget_prompt(prompt_id)
        return core.write_result(response)

    def update(
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
        core = self._c._ready()
        current, etag = self._current(prompt_id, branch)
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
            response = self._c._send(
                "PUT",
                core.prompt_path(prompt_id),
                json=body,
                headers=core.if_match_headers(if_match or etag),
            )
        finally:
            core.forget_prompt(prompt_id)
        return core.write_result(response)

    def delete(
        self,
        prompt_id: str,
        *,
        branch: str | None = None,
        message: str | None = None,
        if_match: str | None = None,
    ) -> WriteResult:
        """Remove a prompt's file: one commit on ``branch`` (its versions stay in the
        history and can still be fetched by ``version=``)."""
        core = self._c._ready()
        try:
            response = self._c._send(
                "DELETE",
                core.prompt_path(prompt_id),
                params=core.delete_params(branch, message),
                headers=core.if_match_headers(if_match),
            )
        finally:
            core.forget_prompt(prompt_id)
        return core.write_result(response)

    def _current(
        self, prompt_id: str, branch: str | None
    ) -> tuple[dict[str, Any], str | None]:
        """The prompt on ``branch`` (uncached) and its ETag; a branch that does not
        exist yet starts from the default branch, as the write will."""
        core = self._c._ready()
        path = core.prompt_path(prompt_id)
        try:
            response = self._c._send("GET", path, params=core.read_params(branch, None))
            return core.json_body(response), response.headers.get("ETag")
        except NotFound as exc:
            if branch is None or exc.code != "ref_not_found":
                raise
        response = self._c._send("GET", path)
        return core.json_body(response), response.headers.get("ETag")


class Parts:
    """The snippets prompts include (``parts/<category>/<name>.<ext>``)."""

    def __init__(self, client: Dakora) -> None:
        self._c = client

    def list(self, ref: str | None = None, *, commit: str | None = None) -> PartList:
        """Every part at ``ref`` (default branch) or ``commit``."""
        core = self._c._ready()
        response = self._c._send(
            "GET", core.parts_path(), params=core.read_params(ref, commit)
        )
        return core.part_list_from(response)

    def get(
        self,
        category: str,
        name: str,
        *,
        ref: str | None = None,
        commit: str | None = None,
    ) -> Part:
        """One part's source (``name`` with or without its extension)."""
        core = self._c._ready()
        response = self._c._send(
            "GET", core.part_path(category, name), params=core.read_params(ref, commit)
        )
        return core.part_from(response)

    def create(
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
        core = self._c._ready()
        body = core.part_body(
            content, ext, branch, message, category=category, name=name
        )
        response = self._c._send("POST", core.parts_path(), json=body)
        return core.write_result(response)

    def update(
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
        core = self._c._ready()
        response = self._c._send(
            "PUT",
            core.part_path(category, name),
            json=core.part_body(content, ext, branch, message),
            headers=core.if_match_headers(if_match),
        )
        return core.write_result(response)

    def delete(
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
        core = self._c._ready()
        response = self._c._send(
            "DELETE",
            core.part_path(category, name),
            params=core.delete_params(branch, message),
            headers=core.if_match_headers(if_match),
        )
        return core.write_result(response)


class Logs:
    def __init__(self, client: Dakora) -> None:
        self._c = client

    def create(
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
        """Record one execution of a prompt; returns the server's log record."""
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
        core = self._c._ready()
        response = self._c._send("POST", core.logs_path(), json=body)
        return core.json_body(response)

    def list(self, **filters: Any) -> dict[str, Any]:
        """The project's logs (filters and paging as the server accepts them)."""
        core = self._c._ready()
        params = core.query(filters)
        response = self._c._send("GET", core.logs_path(), params=params)
        return core.json_body(response)


def _log_body(**fields: Any) -> dict[str, Any]:
    body = {k: v for k, v in fields.items() if v is not None}
    if "inputs" in body:
        body["inputs"] = dict(body["inputs"])
    return body
