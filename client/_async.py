"""``AsyncDakora``: the asyncio client (httpx.AsyncClient; refreshes as tasks)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import httpx

from dakora.client._async_parts import AsyncLogs, AsyncParts
from dakora.client._async_prompts import AsyncPrompts
from dakora.client._cache import Entry
from dakora.client._core import (
    DEFAULT_CACHE_TTL,
    DEFAULT_STALE_TTL,
    DEFAULT_TIMEOUT,
    Call,
    ClientCore,
    is_unreachable,
)
from dakora.client._errors import DakoraClientError, DakoraConnectionError
from dakora.client._fallback import Fallback

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
