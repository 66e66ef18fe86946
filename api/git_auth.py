"""Who may use git smart HTTP, checked before dulwich sees a request
(docs/design.md §12).

FastAPI dependencies don't run for mounted apps, so ``GitAuthMiddleware`` (ASGI)
checks credentials itself: HTTP Basic (password = API key, username ignored),
``Bearer`` or ``X-API-Key``. None or bad → 401 with ``WWW-Authenticate: Basic
realm="dakora"`` (git then asks its credential helper); a key of another project, or
a read-only key on a push → 403 with a plain-text message git prints. The
``GitTarget`` it resolves (repository, pusher) rides in the ASGI scope.
``DatabaseAuthenticator`` answers with the server's own key checks and project cache.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs

from dakora.hooks.receive import PushContext
from dakora.registry.core import (
    AccessDenied,
    DakoraError,
    NotFound,
    ProjectNotFound,
    StorageError,
    Unauthenticated,
)

PATH_RE = re.compile(
    r"^/(?P<ws>[A-Za-z0-9][A-Za-z0-9._-]*)/(?P<project>[A-Za-z0-9][A-Za-z0-9._-]*?)(?:\.git)?(?P<rest>/.*)?$"
)
REALM = 'Basic realm="dakora"'
SCOPE_KEY = "dakora.git"

ASGIApp = Callable[..., Any]


@dataclass(frozen=True)
class GitTarget:
    """The repository a request is for, and who asks."""

    workspace: str
    project: str
    project_id: str | None
    repo_path: str
    default_branch: str = "main"
    user_id: str | None = None
    key_id: str | None = None
    can_write: bool = True

    def push_context(self) -> PushContext:
        return PushContext(
            workspace=self.workspace,
            project=self.project,
            project_id=self.project_id,
            user=self.user_id,
            user_id=self.user_id,
            key_id=self.key_id,
            default_branch=self.default_branch,
            source="git",
        )


class GitAuthenticator(Protocol):
    """Resolve (credential, workspace, project, is_push) to a ``GitTarget``.

    Raises ``Unauthenticated`` (→ 401), ``AccessDenied`` (→ 403), ``NotFound`` (→ 404).
    """

    def __call__(
        self, credential: str | None, workspace: str, project: str, push: bool
    ) -> GitTarget: ...


# -- credentials ---------------------------------------------------------------------


def credential_from_headers(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The API key of a request: Basic password, Bearer token or X-API-Key."""
    for name, value in headers:
        lname = name.lower()
        if lname == b"authorization":
            text = value.decode("latin-1").strip()
            scheme, _, rest = text.partition(" ")
            rest = rest.strip()
            if scheme.lower() == "basic":
                try:
                    decoded = base64.b64decode(rest, validate=True).decode("utf-8")
                except (binascii.Error, UnicodeDecodeError):
                    return None
                _user, sep, password = decoded.partition(":")
                return password if sep and password else None
            if scheme.lower() == "bearer":
                return rest or None
        elif lname == b"x-api-key":
            return value.decode("latin-1").strip() or None
    return None


def is_push_request(path_rest: str, query_string: bytes) -> bool:
    """Whether a request reaches receive-pack, decided on the *decoded* query the
    way dulwich reads it (``parse_qs`` of the WSGI ``QUERY_STRING``): any
    ``service`` value that decodes to ``git-receive-pack`` counts, whatever its
    percent-encoding (``git%2Dreceive%2Dpack``)."""
    if path_rest.endswith("/git-receive-pack"):
        return True
    # a2wsgi builds QUERY_STRING from the raw bytes (PEP 3333: latin-1 at worst)
    params = parse_qs(query_string.decode("latin-1"), keep_blank_values=True)
    return any(v.strip() == "git-receive-pack" for v in params.get("service", []))


# -- the ASGI auth layer ---------------------------------------------------------------


class GitAuthMiddleware:
    """Authenticates every request before it reaches the WSGI git app."""

    def __init__(self, app: ASGIApp, authenticator: GitAuthenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                return await _ignore_lifespan(receive, send)
            return
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        match = PATH_RE.match(path)
        if match is None:
            return await _plain(send, 404, "not a git repository path\n")
        ws, project, rest = match["ws"], match["project"], match["rest"] or ""
        push = is_push_request(rest, scope.get("query_string", b""))
        credential = credential_from_headers(scope.get("headers", []))
        import anyio.to_thread

        try:
            target = await anyio.to_thread.run_sync(
                self.authenticator, credential, ws, project, push
            )
        except Unauthenticated as exc:
            return await _plain(
                send, 401, f"{exc.message}\n", [(b"www-authenticate", REALM.encode())]
            )
        except AccessDenied as exc:
            return await _plain(send, 403, f"{exc.message}\n")
        except NotFound as exc:
            return await _plain(send, 404, f"{exc.message}\n")
        except DakoraError as exc:
            return await _plain(send, exc.http_status, f"{exc.message}\n")
        scope = dict(scope)
        scope[SCOPE_KEY] = target
        await self.app(scope, receive, send)


async def _ignore_lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _plain(
    send: Any,
    status: int,
    text: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = text.encode("utf-8")
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-cache"),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# -- the database-backed authenticator --------------------------------------------


class DatabaseAuthenticator:
    """API keys (and Clerk users) checked by the server's own ``Authenticator``
    (``state.auth``: verified-key cache, revocation events), projects from
    ``state.projects``. Git's rules differ from the JSON API's in one way: a key of
    another project gets 403 with a message (git shows it), not 404."""

    def __init__(self, state: Any) -> None:
        self.state = state

    def __call__(
        self, credential: str | None, workspace: str, project: str, push: bool
    ) -> GitTarget:
        auth = self.state.auth
        projects = getattr(self.state, "projects", None)
        if auth is None or projects is None:
            raise StorageError("the server is not started")
        headers = {"authorization": f"Bearer {credential}"} if credential else {}
        caller = auth.authenticate(headers)
        info = projects.get(f"{workspace}~{project}")
        full = f"{workspace}/{project}"
        if caller.kind == "key":
            key = caller.key
            if info is None or info.id != key.project_id:
                raise AccessDenied(f"this API key does not give access to {full}")
            if push and not key.allows("write"):
                raise AccessDenied(
                    "this API key is read-only; pushing needs a key with the write "
                    "scope"
                )
        else:
            if info is None:
                raise ProjectNotFound(f"project {full} not found")
            try:
                auth.authorize(caller, info.id, "write" if push else "read")
            except ProjectNotFound as exc:
                raise AccessDenied(f"you have no access to {full}") from exc
        return GitTarget(
            workspace=workspace,
            project=project,
            project_id=info.id,
            repo_path=str(info.repo_path),
            default_branch=info.default_branch or "main",
            user_id=caller.key.user_id if caller.key is not None else caller.user_id,
            key_id=caller.key_id,
            can_write=True,
        )
