"""Git smart HTTP at ``/git/{workspace}/{project}.git`` (clone, fetch, ls-remote, push).

The stack, outermost first (docs/design.md §12 says why each piece is there):

``GitAuthMiddleware`` (ASGI)
    FastAPI dependencies don't run for mounted apps, so credentials are checked here:
    HTTP Basic (password = API key, username ignored), ``Bearer`` or ``X-API-Key``.
    None or bad → 401 with ``WWW-Authenticate: Basic realm="dakora"`` (git then asks
    its credential helper); a key of another project, or a read-only key on a push →
    403 with a plain-text message git prints.
``a2wsgi.WSGIMiddleware``
    Starlette's WSGI adapter gives dulwich no ``write`` callable; a2wsgi does.
``GitWSGIApp``
    Drops ``HTTP_TRANSFER_ENCODING`` (uvicorn already de-chunked the body; dulwich
    would de-chunk it again and fail on pushes > 1 MiB), then runs dulwich's
    ``make_wsgi_chain`` with a per-request backend that carries who is pushing, and
    ``DakoraReceivePackHandler`` (the receive pipeline) for ``git-receive-pack``.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs

from a2wsgi import WSGIMiddleware
from dulwich.errors import NotGitRepository
from dulwich.repo import Repo
from dulwich.server import Backend, UploadPackHandler
from dulwich.web import make_wsgi_chain

from dakora.hooks.push_checks import PushLimits
from dakora.hooks.receive import (
    DakoraReceivePackHandler,
    PushContext,
    PushResult,
    ReceivePipeline,
)
from dakora.hooks.repack import DEFAULT_PACK_LIMIT
from dakora.registry.core import (
    AccessDenied,
    DakoraError,
    NotFound,
    ProjectNotFound,
    StorageError,
    Unauthenticated,
)

logger = logging.getLogger("dakora.api.git")

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
    # a2wsgi builds QUERY_STRING from the raw bytes as latin-1, as PEP 3333 says
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


# -- the WSGI git layer ----------------------------------------------------------------


class RepoCache:
    """One open ``Repo`` per path (opening one per request leaks file descriptors)."""

    # replicas: bring the local repository up to the index before serving it
    freshen: Callable[[GitTarget], None] | None = None

    def __init__(self) -> None:
        self._repos: dict[str, Repo] = {}
        self._lock = threading.Lock()

    def get(self, path: str) -> Repo:
        key = os.path.abspath(path)
        with self._lock:
            repo = self._repos.get(key)
            if repo is None:
                if not os.path.isdir(key):
                    raise NotGitRepository(f"no repository at {path}")
                repo = self._repos[key] = Repo(key)
            return repo

    def close(self) -> None:
        with self._lock:
            for repo in self._repos.values():
                repo.close()
            self._repos.clear()


class RequestBackend(Backend):
    """A dulwich backend for one request: one repository, one pusher."""

    def __init__(
        self, target: GitTarget, cache: RepoCache, pipeline: ReceivePipeline
    ) -> None:
        self.target = target
        self.cache = cache
        self.pipeline = pipeline
        self.push_context = target.push_context()

    def open_repository(self, path: str) -> Repo:  # type: ignore[override]
        if self.cache.freshen is not None:
            self.cache.freshen(self.target)
        try:
            return self.cache.get(self.target.repo_path)
        except (NotGitRepository, OSError) as exc:
            raise NotGitRepository(
                f"{self.target.workspace}/{self.target.project}.git has no repository"
            ) from exc


class GitWSGIApp:
    """dulwich's WSGI chain with our handlers, per request."""

    def __init__(self, cache: RepoCache, pipeline: ReceivePipeline) -> None:
        self.cache = cache
        self.pipeline = pipeline
        self.handlers: dict[bytes, Any] = {
            b"git-receive-pack": DakoraReceivePackHandler,
            b"git-upload-pack": UploadPackHandler,
        }

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        # uvicorn has already de-chunked the body (docs/design.md §12).
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        target = environ.get("asgi.scope", {}).get(SCOPE_KEY)
        if not isinstance(target, GitTarget):
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"unauthenticated git request\n"]
        backend = RequestBackend(target, self.cache, self.pipeline)
        chain = make_wsgi_chain(backend, handlers=self.handlers)
        return chain(environ, start_response)


# -- wiring against the server's database ----------------------------------------------


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


def make_index_hooks(
    engine: Callable[[], Any],
) -> tuple[Callable[[Repo, PushResult], None], Callable[[Repo, PushResult], None]]:
    """``on_accepted`` / ``on_rejected`` writing the index and the push audit log."""
    from dakora.hooks.recorder import record_accepted, record_rejected

    def accepted(repo: Repo, result: PushResult) -> None:
        record_accepted(engine(), repo, result)
        if result.context.project_id is not None:
            from dakora.api.state import invalidate_project

            invalidate_project(str(result.context.project_id))

    def rejected(repo: Repo, result: PushResult) -> None:
        record_rejected(engine(), repo, result)

    return accepted, rejected


def make_auto_repack(
    project_lock: Any,
    get_engine: Callable[[], Any],
    pack_limit: int,
    *,
    notify: Callable[[], None] | None = None,
) -> Callable[[Repo, PushResult], None]:
    """The pipeline's ``after_accepted``: repack in the background past
    ``pack_limit`` packs, then queue a mirror sync of the project."""
    from dakora.hooks.repack import AutoRepack

    def queue_sync(project_id: str | None) -> None:
        if project_id is None:
            return
        from dakora.registry.db import transaction
        from dakora.registry.mirror import enqueue

        with transaction(get_engine()) as conn:
            enqueue(conn, project_id)
        if notify is not None:
            notify()

    auto = AutoRepack(pack_limit)

    def after(repo: Repo, result: PushResult) -> None:
        path = os.path.abspath(repo.controldir())
        key = project_lock.key(repo, result.context)
        project_id = result.context.project_id
        auto.maybe_repack(
            path,
            lambda: project_lock.hold(key),
            key,
            after=lambda _result: queue_sync(
                None if project_id is None else str(project_id)
            ),
        )

    return after


_PIPELINES: weakref.WeakKeyDictionary[Any, ReceivePipeline] = (
    weakref.WeakKeyDictionary()
)
_PIPELINES_LOCK = threading.Lock()


def server_pipeline(
    state: Any, engine: Any = None, *, limits: PushLimits | None = None
) -> ReceivePipeline:
    """The receive pipeline of one server: checks, project lock (advisory on
    PostgreSQL), ref guard, index + audit writer, cache invalidation. Shared by git
    pushes and API writes (``hooks/commit_writer.py``); one per ``state`` unless
    ``engine`` or ``limits`` are given."""

    def get_engine() -> Any:
        return engine if engine is not None else state.engine

    shared = engine is None and limits is None and state is not None
    if shared:
        with _PIPELINES_LOCK:
            cached = _PIPELINES.get(state)
        if cached is not None:
            return cached
    from dakora.hooks.advisory_lock import ServerProjectLock, ref_guard
    from dakora.hooks.recorder import index_version_lookup

    on_accepted, on_rejected = make_index_hooks(get_engine)
    project_lock = ServerProjectLock(get_engine)  # advisory on PostgreSQL
    settings = getattr(state, "settings", None)
    auto_repack = make_auto_repack(
        project_lock,
        get_engine,
        getattr(settings, "gc_pack_limit", DEFAULT_PACK_LIMIT),
        notify=getattr(state, "notify_mirror", None),
    )
    pipeline = ReceivePipeline(
        after_accepted=auto_repack,
        lock=project_lock,
        lock_key=project_lock.key,
        before_apply=ref_guard(get_engine, lambda: getattr(state, "replica", None)),
        limits=limits,
        on_accepted=on_accepted,
        on_rejected=on_rejected,
        version_lookup_factory=lambda repo, ctx: index_version_lookup(
            get_engine(), str(ctx.project_id)
        ),
    )
    if shared:
        with _PIPELINES_LOCK:
            pipeline = _PIPELINES.setdefault(state, pipeline)
    return pipeline


def make_git_app(
    state: Any,
    engine: Any = None,
    *,
    authenticator: GitAuthenticator | None = None,
    pipeline: ReceivePipeline | None = None,
    limits: PushLimits | None = None,
    workers: int = 16,
) -> ASGIApp:
    """The ASGI app to mount at ``/git``.

    ``state``: the server's ``ServerState`` (engine, authenticator and project cache
    are read on each request, so mounting before start-up is fine). ``engine``
    overrides ``state.engine``. Tests may pass their own ``authenticator`` and
    ``pipeline`` (then ``state`` may be None).
    """

    if pipeline is None:
        pipeline = server_pipeline(state, engine, limits=limits)
    authenticator = authenticator or DatabaseAuthenticator(state)
    cache = RepoCache()
    cache.freshen = _replica_freshener(state, cache)
    wsgi = WSGIMiddleware(GitWSGIApp(cache, pipeline), workers=workers)  # type: ignore[arg-type]
    return GitAuthMiddleware(wsgi, authenticator)


def _replica_freshener(state: Any, cache: RepoCache) -> Callable[[GitTarget], None]:
    """Catch a replica's repository up to the index (``state.replica``) before a
    git request; a failure is logged and the request served from what is here (a
    push is still checked against the index under the project lock)."""

    def freshen(target: GitTarget) -> None:
        replica = getattr(state, "replica", None)
        if replica is None or target.project_id is None:
            return
        try:
            changed = replica.ensure_fresh(
                str(target.project_id),
                f"{target.workspace}/{target.project}/",
                target.repo_path,
                default_branch=target.default_branch,
            )
        except (DakoraError, OSError) as exc:
            logger.warning("could not catch up %s: %s", target.repo_path, exc)
            return
        if changed:
            key = os.path.abspath(target.repo_path)
            with cache._lock:
                repo = cache._repos.get(key)
            if repo is not None:
                repo.object_store._update_pack_cache()  # type: ignore[attr-defined]

    return freshen
