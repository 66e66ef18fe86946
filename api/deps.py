"""``Annotated`` dependency aliases for routes.

- ``StateDep``, ``SettingsDep``, ``EngineDep``: the app's state, settings and engine.
- ``CallerDep``: the authenticated caller (401 without valid credentials).
- ``ReadAccess`` / ``WriteAccess``: the caller *and* the ``{project}`` path parameter
  checked for reading / writing in one dependency (the warm path pays for one, not
  three): 401, then the same 404 for unknown and invisible projects, then 403.
- ``ProjectDep`` / ``WriteProjectDep``: just the :class:`Project` of those.

Routes under ``/api/projects/{project}/…`` should use these so every route checks
access the same way. Example::

    @router.get("/api/projects/{project}/things")
    async def things(access: ReadAccess) -> Response: ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query, Request

from dakora.api.auth import Authenticator, Caller, Need
from dakora.api.state import ServerState
from dakora.registry.content import ContentStore
from dakora.registry.core import BadRequest, Settings
from dakora.registry.db import Engine
from dakora.registry.tenancy import Project

PROJECT_PARAM_DOC = (
    "The project's UUID (listed by GET /api/me) or 'workspace~slug', e.g. 'demo~demo'."
)


def get_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.dakora
    return state


StateDep = Annotated[ServerState, Depends(get_state)]


def get_settings(request: Request) -> Settings:
    return get_state(request).settings


def get_engine(request: Request) -> Engine:
    return get_state(request).engine


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]


def _auth(state: ServerState) -> Authenticator:
    assert state.auth is not None, "the app is not started"
    return state.auth


async def get_caller(request: Request) -> Caller:
    """The authenticated caller (401 otherwise)."""
    state = get_state(request)
    return _auth(state).authenticate(request.headers)


CallerDep = Annotated[Caller, Depends(get_caller)]


@dataclass(frozen=True)
class Access:
    """An authenticated caller allowed on one project, and where to read it."""

    caller: Caller
    project: Project
    state: ServerState
    source: str = "api"  # push_events.source of a write: "api" or "studio"

    @property
    def content(self) -> ContentStore:
        assert self.state.content is not None
        return self.state.content


def _access(request: Request, project: str, need: Need) -> Access:
    state = get_state(request)
    auth = _auth(state)
    caller = auth.authenticate(request.headers)
    info = auth.authorize(caller, project, need)
    if request.scope.get("query_string"):
        reject_unknown_query(request)
    if need == "write":
        return Access(caller, info, state, write_source(request))
    return Access(caller, info, state)


SOURCE_HEADER = "X-Dakora-Source"
CLIENT_SOURCES = ("api", "studio")


def write_source(request: Request) -> str:
    """How a write came, for the audit log (docs/promotion.md): ``studio`` when the
    Studio says so in ``X-Dakora-Source``, else ``api``. A label, not a permission:
    it changes nothing a key may do."""
    value = request.headers.get(SOURCE_HEADER)
    if value is None:
        return "api"
    source = value.strip().lower()
    if source not in CLIENT_SOURCES:
        raise BadRequest(
            f"invalid {SOURCE_HEADER} header {value!r}: use "
            f"{' or '.join(CLIENT_SOURCES)}",
            header=SOURCE_HEADER,
        )
    return source


_ALLOWED_QUERY: dict[int, frozenset[str]] = {}


def _declared_query(route: object) -> frozenset[str]:
    """Query parameter names a route declares: through its dependencies, or by hand
    in ``openapi_extra`` (the warm routes that read their parameters themselves)."""
    names: set[str] = set()
    stack = [getattr(route, "dependant", None)]
    while stack:
        dependant = stack.pop()
        if dependant is None:
            continue
        names.update(param.alias for param in dependant.query_params)
        stack.extend(dependant.dependencies)
    extra = getattr(route, "openapi_extra", None) or {}
    names.update(
        p["name"] for p in extra.get("parameters", []) if p.get("in") == "query"
    )
    return frozenset(names)


def reject_unknown_query(request: Request) -> None:
    """A misspelt parameter (``?verison=1.2.0``) is a 400, never silently ignored:
    serving the default branch to a caller who meant to pin a version is the drift
    between caller and registry that must be loud."""
    route = request.scope.get("route")
    if route is None:
        return
    allowed = _ALLOWED_QUERY.get(id(route))
    if allowed is None:
        allowed = _ALLOWED_QUERY[id(route)] = _declared_query(route)
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        takes = ", ".join(sorted(allowed)) if allowed else "no query parameters"
        raise BadRequest(
            f"unknown query parameter {unknown[0]!r} (this route takes {takes})",
            parameters=unknown,
        )


def check_access(request: Request, need: Need) -> Access:
    """``ReadAccess``/``WriteAccess`` without FastAPI's dependency machinery.

    For the hottest routes (docs/design.md §7: per-request work is a dict lookup for the key
    and one for the content), which read ``{project}`` from the path themselves.
    """
    return _access(request, request.path_params["project"], need)


ProjectPath = Annotated[str, Path(description=PROJECT_PARAM_DOC)]


async def read_access(request: Request, project: ProjectPath) -> Access:
    return _access(request, project, "read")


async def write_access(request: Request, project: ProjectPath) -> Access:
    return _access(request, project, "write")


ReadAccess = Annotated[Access, Depends(read_access)]
WriteAccess = Annotated[Access, Depends(write_access)]


async def read_project(access: ReadAccess) -> Project:
    return access.project


async def write_project(access: WriteAccess) -> Project:
    return access.project


ProjectDep = Annotated[Project, Depends(read_project)]
WriteProjectDep = Annotated[Project, Depends(write_project)]


# The paging parameters of the newest-first lists (logs, push events).
MAX_PAGE = 500
PageLimit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page size")]
PageCursor = Annotated[
    str | None, Query(description="next_cursor of the previous page")
]
