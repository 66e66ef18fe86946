"""The remote MCP endpoint: streamable HTTP at ``/mcp/{project}`` (docs/mcp.md).

``{project}`` is spelled as in the HTTP API's prompt routes (the project's UUID or
``workspace~slug``); ``/mcp/{workspace}/{project}`` is the same endpoint. ``?ref=``
picks a branch or tag (default: the project's default branch). Every HTTP request is
authenticated and authorized like ``GET /api/projects/{project}/prompts`` (an API
key of this project or a workspace member; read scope) before the SDK's
``StreamableHTTPSessionManager`` sees it; the refusals are the API's JSON errors
(401, the same 404 for unknown and invisible projects). A session belongs to the
caller, project and ref that opened it: the SDK answers 404 to anyone else.

Renders go through ``ContentStore.render_data`` — the API's render path and render
pool, under the same budgets — with the string arguments coerced as ``dakora
render -i`` coerces them.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from dakora.api.auth import Caller
from dakora.api.errors import MAX_API_BODY, dakora_error_response
from dakora.api.mcp.changes import ListChanges, WatchKey
from dakora.api.mcp.prompts import Rendered, build_server
from dakora.api.state import ServerState
from dakora.api.version import VERSION
from dakora.registry.content import ContentStore, Selector
from dakora.registry.core import BadRequest, DakoraError, Prompt, RefNotFound
from dakora.registry.tenancy import Project

log = logging.getLogger("dakora.api.mcp")

SCOPE_KEY = "dakora.mcp"
LOOPBACK_SECURITY = TransportSecuritySettings(
    enable_dns_rebinding_protection=True,
    allowed_hosts=[
        "127.0.0.1",
        "localhost",
        "[::1]",
        "127.0.0.1:*",
        "localhost:*",
        "[::1]:*",
    ],
    allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
)


@dataclass(frozen=True)
class Target:
    """What one MCP HTTP request reads: a project at a ref (None: default branch)."""

    project: Project
    ref: str | None

    @property
    def key(self) -> WatchKey:
        return (self.project.id, self.ref or "")


def target_of(request: Any) -> Target:
    target = request.scope.get(SCOPE_KEY) if request is not None else None
    if not isinstance(target, Target):  # pragma: no cover - the endpoint sets it
        raise RuntimeError("an MCP request that did not come through the endpoint")
    return target


class ServerSource:
    """:class:`~dakora.api.mcp.prompts.PromptSource` over the server's content."""

    def __init__(self, state: ServerState) -> None:
        self._state = state

    @property
    def content(self) -> ContentStore:
        content = self._state.content
        if content is None:  # pragma: no cover - requests only arrive once started
            raise RuntimeError("the server is not started")
        return content

    def list_prompts(self, request: Any) -> list[Prompt]:
        target = target_of(request)
        _, prompts = self.content.prompts_at(
            target.project, Selector.of(ref=target.ref)
        )
        return prompts

    def render(self, request: Any, name: str, arguments: Mapping[str, str]) -> Rendered:
        target = target_of(request)
        selector = Selector.of(ref=target.ref)
        data = self.content.render_data(
            target.project, name, selector, arguments, source="cli"
        )
        prompt = self.content.loaded_prompt(target.project, data["commit"], name).prompt
        return Rendered(
            prompt=prompt,
            kind=data["kind"],
            rendered=data.get("rendered"),
            messages=list(data.get("messages") or []),
            meta={k: data[k] for k in ("prompt_id", "version", "commit", "ref")},
        )

    def commit_of(self, key: WatchKey) -> str | None:
        """The commit a watched (project, ref) is at now (for list_changed)."""
        projects = self._state.projects
        project = projects.get(key[0]) if projects is not None else None
        if project is None:
            return None
        try:
            resolved = self.content.resolve(project, Selector.of(ref=key[1] or None))
        except RefNotFound:
            return None
        return str(resolved.commit)


def _principal(caller: Caller) -> str:
    if caller.key is not None:
        return f"key:{caller.key.id}"
    if caller.kind == "user":
        return f"user:{caller.subject}"
    return "local"


def _ref_param(request: Request) -> str | None:
    unknown = sorted(set(request.query_params) - {"ref"})
    if unknown:
        raise BadRequest(
            f"unknown query parameter {unknown[0]!r} (the MCP endpoint takes ref)",
            parameters=unknown,
        )
    return request.query_params.get("ref") or None


class McpEndpoint:
    """The ASGI app behind the ``/mcp/…`` routes, and its session manager."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.source = ServerSource(state)
        self.changes = ListChanges(
            self.source.commit_of, lambda request: target_of(request).key
        )
        server = build_server(self.source, version=VERSION, list_changed=True)
        server.add_request_handler(
            "subscriptions/listen",
            types.SubscriptionsListenRequestParams,
            self.changes.listen,
        )
        server.middleware.append(self.changes.middleware)
        self.server = server
        loopback = state.settings.is_loopback_host()
        self.manager = StreamableHTTPSessionManager(
            app=server,
            security_settings=LOOPBACK_SECURITY if loopback else None,
            max_request_body_size=MAX_API_BODY,
        )
        state.change_listeners.append(self.changes.changed)

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """Run the session manager for the app's lifetime (the app's lifespan)."""
        async with self.manager.run():
            self.changes.start()
            try:
                yield
            finally:
                self.changes.stop()

    def routes(self) -> list[Route]:
        return [
            Route("/mcp/{project}", endpoint=self),
            Route("/mcp/{workspace}/{slug}", endpoint=self),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            caller, target = self._authorize(request)
        except DakoraError as exc:
            await dakora_error_response(exc)(scope, receive, send)
            return
        scope[SCOPE_KEY] = target
        scope["user"] = _session_owner(caller, target)
        await self.manager.handle_request(scope, receive, send)

    def _authorize(self, request: Request) -> tuple[Caller, Target]:
        params = request.path_params
        project_ref = params.get("project") or f"{params['workspace']}~{params['slug']}"
        auth = self.state.auth
        if auth is None:  # pragma: no cover - requests only arrive once started
            raise RuntimeError("the server is not started")
        caller = auth.authenticate(request.headers)
        project = auth.authorize(caller, project_ref, "read")
        return caller, Target(project, _ref_param(request))


def _session_owner(caller: Caller, target: Target) -> AuthenticatedUser:
    """Who opened a session, as the SDK compares it on every request of the
    session: the caller, and the project and ref it reads."""
    token = AccessToken(
        token="-",
        client_id=_principal(caller),
        scopes=["read"],
        subject=f"{target.project.id}@{target.ref or ''}",
    )
    return AuthenticatedUser(token)
