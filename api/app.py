"""The FastAPI application factory: ``create_app(settings) -> FastAPI``.

No import-time singletons: every call builds a fresh app with its own
:class:`~dakora.api.state.ServerState`. The lifespan makes the engine, runs the
migrations and starts the event watcher; nothing else is warmed.

Every router of ``api/routes`` is included (a missing one fails the import, loudly),
the git smart-HTTP app (``dakora.api.git_http.make_git_app``) is mounted at ``/git``,
the MCP endpoint (``dakora.api.mcp.http``) answers at ``/mcp/{project}``, and the
built Studio is served at ``/studio/`` (``dakora.api.studio``; ``/`` redirects there).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from dakora.api.docs import install_docs
from dakora.api.errors import install_error_handlers
from dakora.api.git_http import make_git_app
from dakora.api.mcp.http import McpEndpoint
from dakora.api.routes import (
    api_keys,
    check,
    compare,
    health,
    logs,
    me,
    outgoing_webhooks,
    parts,
    promote,
    prompts,
    pushes,
    ref_history,
    refs,
    webhooks,
    writes,
)
from dakora.api.state import ServerState
from dakora.api.studio import install_studio
from dakora.api.version import VERSION
from dakora.registry.core import ConfigError, Settings

log = logging.getLogger("dakora.api")

# Order matters for speed: Starlette tries routes in order, ~1.5 µs each, so the
# runtime fetch routes come first (docs/design.md §7).
ROUTERS: tuple[APIRouter, ...] = (
    prompts.router,
    parts.router,
    health.router,
    me.router,
    logs.router,
    webhooks.router,
    writes.router,
    pushes.router,
    compare.router,
    refs.router,
    ref_history.router,
    promote.router,
    check.router,
    api_keys.router,
    outgoing_webhooks.router,
)

DESCRIPTION = """\
Runtime API of the Dakora prompt registry: fetch and render prompts, read versions,
diffs and parts, write execution logs. Authenticate with an API key
(`Authorization: Bearer dk_…` or `X-API-Key: dk_…`) or a Clerk session token.
`{project}` is the project's UUID (see `GET /api/me`) or `workspace~slug`.
"""


def check_settings(settings: Settings) -> None:
    """Refuse unsafe settings before anything starts."""
    if settings.auth_mode == "none" and not settings.is_loopback_host():
        raise ConfigError(
            f"DAKORA_AUTH_MODE=none is for local development only: it is refused when "
            f"the server binds {settings.host!r}. Bind 127.0.0.1 (or ::1), or use "
            f"auth mode 'keys' or 'clerk'."
        )
    from dakora.registry.mirror import check_store_settings

    check_store_settings(settings)  # a misconfigured mirror, opening nothing
    if settings.auth_mode == "clerk" and not settings.clerk_issuer:
        raise ConfigError(
            "DAKORA_AUTH_MODE=clerk needs DAKORA_CLERK_ISSUER (your Clerk Frontend API "
            "URL, e.g. https://your-app.clerk.accounts.dev)"
        )


def create_app(settings: Settings) -> FastAPI:
    """Build the Dakora API app for these settings (nothing is opened until startup)."""
    check_settings(settings)
    state = ServerState(settings)
    mcp = McpEndpoint(state)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.start()
        try:
            async with mcp.run():
                yield
        finally:
            state.close()

    app = FastAPI(
        title="Dakora",
        version=VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from local files by api/docs.py
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.dakora = state
    install_error_handlers(app)
    install_docs(app)
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/git", make_git_app(state))
    app.router.routes.extend(mcp.routes())  # MCP over streamable HTTP (docs/mcp.md)
    if settings.metrics:  # else no middleware and no /metrics (api/metrics.py)
        from dakora.api.metrics import install_metrics

        install_metrics(app, state)
    install_studio(app, settings)  # last: /studio/{path} must not shadow a route
    return app
