"""The FastAPI application factory: ``create_app(settings) -> FastAPI``.

No import-time singletons: every call builds a fresh app with its own
:class:`~dakora.api.state.ServerState`. The lifespan makes the engine, runs the
migrations and starts the event watcher; nothing else is warmed.

Routers owned by other modules (``routes/writes.py``, ``routes/pushes.py``,
``routes/compare.py``) are included when present, and the git smart-HTTP app
(``dakora.api.git_http.make_git_app``) is mounted at ``/git``, and the built Studio is
served at ``/studio/`` (``dakora.api.studio``; ``/`` redirects there).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from dakora.api.errors import install_error_handlers
from dakora.api.state import ServerState
from dakora.api.studio import install_studio
from dakora.api.version import VERSION
from dakora.registry.core import ConfigError, Settings

log = logging.getLogger("dakora.api")

# (module, attribute) of the routers this app includes; optional ones may be missing.
# Order matters for speed: Starlette tries routes in order, ~1.5 µs each, so the
# runtime fetch routes come first (docs/design.md §7).
CORE_ROUTERS: tuple[str, ...] = (
    "dakora.api.routes.prompts",
    "dakora.api.routes.parts",
    "dakora.api.routes.health",
    "dakora.api.routes.me",
    "dakora.api.routes.logs",
    "dakora.api.routes.webhooks",
    "dakora.api.routes.refs",
    "dakora.api.routes.check",
    "dakora.api.routes.api_keys",
)
OPTIONAL_ROUTERS: tuple[str, ...] = (
    "dakora.api.routes.writes",
    "dakora.api.routes.pushes",
    "dakora.api.routes.compare",
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

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.start()
        try:
            yield
        finally:
            state.close()

    app = FastAPI(
        title="Dakora",
        version=VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.dakora = state
    install_error_handlers(app)
    for name in CORE_ROUTERS:
        _include(app, name, required=True)
    for name in OPTIONAL_ROUTERS:
        _include(app, name, required=False)
    _mount_git(app, state)
    install_studio(app, settings)  # last: /studio/{path} must not shadow a route
    return app


def _include(app: FastAPI, module_name: str, *, required: bool) -> None:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name or required:
            raise
        return  # an optional router that is not there (yet)
    router = getattr(module, "router", None)
    if router is not None:
        app.include_router(router)


def _mount_git(app: FastAPI, state: ServerState) -> None:
    try:
        module = importlib.import_module("dakora.api.git_http")
    except ModuleNotFoundError as exc:
        if exc.name != "dakora.api.git_http":
            raise
        return
    make_git_app = getattr(module, "make_git_app", None)
    if make_git_app is not None:
        app.mount("/git", make_git_app(state))
