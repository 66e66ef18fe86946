"""``notifications/prompts/list_changed`` for the connected MCP clients (docs/mcp.md).

The server learns of pushes and API writes the way its caches do
(``ServerState.invalidate_project`` in this process, the database event channel of
``dakora.api.events`` from other processes and replicas) and calls
:meth:`ListChanges.changed` from whatever thread that happens on. The check then runs
on the event loop: for every (project, ref) a client watches, the ref is resolved
again, and the clients are told only when its commit moved (a push to another branch,
a key being used, an unrelated database write say nothing).

Two kinds of clients, one per MCP protocol era:

- handshake-era sessions (protocol 2025-11-25 and before): the notification goes on
  the session's standalone stream (``Connection.send_prompt_list_changed``);
- 2026-07-28 clients open a ``subscriptions/listen`` stream: one SDK
  ``ListenHandler`` and ``InMemorySubscriptionBus`` per (project, ref) carries the
  ``PromptsListChanged`` event to the streams of that project and ref only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
import mcp_types as types
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    ListenHandler,
    PromptsListChanged,
)
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

log = logging.getLogger("dakora.api.mcp")

# (project id, ref or "" for the default branch)
WatchKey = tuple[str, str]
# resolves a watched key to its commit now (blocking; None: nothing there)
CommitOf = Callable[[WatchKey], str | None]
# the watched key of an MCP request (from the HTTP request the endpoint checked)
KeyOf = Callable[[Any], WatchKey | None]


@dataclass
class _Watch:
    commit: str | None
    connections: weakref.WeakSet[Any] = field(default_factory=weakref.WeakSet)
    bus: InMemorySubscriptionBus = field(default_factory=InMemorySubscriptionBus)
    listen: ListenHandler | None = None
    listeners: int = 0

    def idle(self) -> bool:
        return self.listeners == 0 and not len(self.connections)


class ListChanges:
    """Who watches which (project, ref), and telling them when its commit moves."""

    def __init__(self, commit_of: CommitOf, key_of: KeyOf) -> None:
        self._commit_of = commit_of
        self._key_of = key_of
        self._watches: dict[WatchKey, _Watch] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: set[str | None] = set()  # project ids; None = every project
        self._task: asyncio.Task[None] | None = None
        self.sent = 0  # notifications sent (handshake sessions + listen streams)

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    def stop(self) -> None:
        self._loop = None
        for watch in self._watches.values():
            if watch.listen is not None:
                watch.listen.close()
        if self._task is not None:
            self._task.cancel()

    # -- who watches ------------------------------------------------------------------

    async def _watch(self, key: WatchKey) -> _Watch:
        watch = self._watches.get(key)
        if watch is None:
            commit = await anyio.to_thread.run_sync(self._commit_of, key)
            watch = self._watches.setdefault(key, _Watch(commit))
        return watch

    async def middleware(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        """Remember the connection of every handshake-era session (its standalone
        stream is where the notification goes)."""
        if ctx.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS:
            key = self._key_of(ctx.request)
            # the SDK's per-request ServerSession proxies the connection (the
            # session's state between requests); the notification is sent on it
            connection = getattr(ctx.session, "_connection", None)
            if key is not None and connection is not None:
                watch = await self._watch(key)
                watch.connections.add(connection)
        return await call_next(ctx)

    async def listen(
        self,
        ctx: ServerRequestContext[Any, Any],
        params: types.SubscriptionsListenRequestParams,
    ) -> types.SubscriptionsListenResult:
        """``subscriptions/listen`` (2026-07-28): the SDK's handler on this
        (project, ref)'s own bus."""
        key = self._key_of(ctx.request)
        if key is None:
            raise RuntimeError("subscriptions/listen outside an MCP endpoint request")
        watch = await self._watch(key)
        if watch.listen is None:
            watch.listen = ListenHandler(watch.bus, max_subscriptions=256)
        watch.listeners += 1
        try:
            return await watch.listen(ctx, params)
        finally:
            watch.listeners -= 1

    # -- telling them -----------------------------------------------------------------

    def changed(self, project_id: str | None) -> None:
        """A project's refs (None: maybe any project's) may have moved. Any thread."""
        loop = self._loop
        if loop is None or not self._watches:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: shutting down
            loop.call_soon_threadsafe(self._schedule, project_id)

    def _schedule(self, project_id: str | None) -> None:
        self._pending.add(project_id)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while self._pending:
            pending, self._pending = self._pending, set()
            keys = [
                key
                for key in list(self._watches)
                if None in pending or key[0] in pending
            ]
            for key in keys:
                try:
                    await self._check(key)
                except Exception:  # one bad project must not stop the others
                    log.warning(
                        "MCP list_changed check of %s failed", key, exc_info=True
                    )

    async def _check(self, key: WatchKey) -> None:
        watch = self._watches.get(key)
        if watch is None:
            return
        if watch.idle():
            self._watches.pop(key, None)
            return
        commit = await anyio.to_thread.run_sync(self._commit_of, key)
        if commit == watch.commit:
            return
        watch.commit = commit
        for connection in list(watch.connections):
            await connection.send_prompt_list_changed()
            self.sent += 1
        if watch.listeners:
            await watch.bus.publish(PromptsListChanged())
            self.sent += watch.listeners
