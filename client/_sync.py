"""``Dakora``: the synchronous client (httpx.Client; refreshes in daemon threads)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Mapping
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
)
from dakora.client._errors import DakoraClientError, DakoraConnectionError
from dakora.client._fallback import Fallback
from dakora.client._sync_parts import Logs, Parts
from dakora.client._sync_prompts import Prompts

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
