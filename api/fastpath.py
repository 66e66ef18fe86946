"""The fast path: the hottest reads answered from the caches, before FastAPI.

:class:`DakoraApp` is the FastAPI app ``create_app`` returns; its ``__call__`` hands
each HTTP request to :meth:`FastPath.serve` first, which answers three kinds of
request from the caches alone and leaves everything else to the FastAPI app,
unchanged (docs/design.md §7, "The fast path"):

- ``GET /api/projects/{project}/prompts/{prompt_id}`` (optionally ``?ref=``,
  ``?version=`` or ``?commit=``): the prebuilt body and headers, or the 304 when
  ``If-None-Match`` names the ETag;
- ``POST /api/projects/{project}/prompts/{prompt_id}/render`` of a prompt rendered
  before: the body parsed and validated as the route does (``api/render_request.py``),
  the render run in a worker process (``RenderPool.render_async``: its budget and
  kill-on-overrun are the same).

It serves a request only when it can tell the answer is what the FastAPI route would
send, byte for byte, and it checks what the route and the middleware check, in the
same way: the change watcher's poll first (a revocation made anywhere applies to this
request), an API key verified before (``Authenticator.cached_key_access``: expiry, its
one project, its scope), the query string (``query_problem``, no unknown parameter),
the body limit, and the caches of the content store. Anything else falls through:
``DAKORA_METRICS`` on (the fast path is off then, so the metrics middleware sees every
request), another method (HEAD, OPTIONS), a ``root_path``, Clerk tokens, no-auth mode without a
key, a key or a project not cached yet, a selector or prompt not resolved yet, a body
that is not the common valid JSON (every error is answered by FastAPI, so its shape is
FastAPI's), ``Transfer-Encoding: chunked``. A render error (400, 422) once the render
ran is answered here with ``dakora_error_response``, the handler's own encoding.

Off switch: ``DAKORA_FAST_PATH=false`` (docs/settings.md). tests/integration/
test_fast_path.py sends the same requests with it on and off and compares status,
headers (but ``date``) and body.

Counting (one hook point): :attr:`FastPath.observe`, when set, is called after every
response the fast path sent, with the ASGI scope, a route label (``"get_prompt"`` or
``"render_prompt"``), the status and the seconds it took; a middleware added with
``app.add_middleware`` sits inside FastAPI and never sees these requests. A metrics
layer either sets ``observe`` or sets :attr:`FastPath.enabled` to False so everything
goes through the middleware stack.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.datastructures import QueryParams
from starlette.types import Message, Receive, Scope, Send

from dakora.api.auth import credentials
from dakora.api.content import prebuilt_headers
from dakora.api.errors import (
    INTERNAL_ERROR_BODY,
    MAX_API_BODY,
    _replay,
    dakora_error_response,
    error_response,
)
from dakora.api.query_guard import query_problem
from dakora.api.render_request import decode_body, quick_fields, run_job
from dakora.api.telemetry import PROJECT, PROMPT_NAME, set_prompt_attributes, span
from dakora.registry.content import DEFAULT_SELECTOR, Selector, etag_matches
from dakora.registry.core import DakoraError
from dakora.registry.tenancy import KEY_PREFIX

if TYPE_CHECKING:
    from dakora.api.state import ServerState
    from dakora.registry.content import ContentStore, RenderJob
    from dakora.registry.tenancy import Project

log = logging.getLogger("dakora.api")

GET_QUERY = frozenset({"ref", "version", "commit"})  # get_prompt's declared parameters
PREFIX = "/api/projects/"
Observer = Callable[[Scope, str, int, float], None]


class FastPath:
    """Answers the hottest reads from the caches (see the module docstring)."""

    def __init__(self, state: ServerState, *, enabled: bool = True) -> None:
        self.state = state
        self.enabled = enabled
        self.observe: Observer | None = None
        self.served = 0  # requests answered here (not through FastAPI)

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """None when the request was answered; else the ``receive`` to hand on to the
        FastAPI app (the same one, or one that replays a body read here)."""
        path: str = scope["path"]
        if not path.startswith(PREFIX) or scope.get("root_path"):
            return receive
        parts = path.split("/")
        # ['', 'api', 'projects', project, 'prompts', prompt_id(, 'render')]
        if len(parts) < 6 or parts[4] != "prompts" or not parts[3] or not parts[5]:
            return receive
        method = scope["method"]
        if method == "GET" and len(parts) == 6:
            return await self._get(scope, receive, send, parts[3], parts[5])
        if method == "POST" and len(parts) == 7 and parts[6] == "render":
            return await self._render(scope, receive, send, parts[3], parts[5])
        return receive

    # -- GET …/prompts/{id} -----------------------------------------------------------

    async def _get(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        project_ref: str,
        prompt_id: str,
    ) -> Receive | None:
        started = time.perf_counter()
        try:
            answer = self._get_answer(scope, project_ref, prompt_id)
        except Exception:  # anything unexpected: FastAPI answers it
            log.debug("fast path fell through", exc_info=True)
            return receive
        if answer is None:
            return receive
        status, headers, data = answer
        await send(
            {"type": "http.response.start", "status": status, "headers": headers}
        )
        await send({"type": "http.response.body", "body": data})
        self._served(scope, "get_prompt", status, started)
        return None

    def _get_answer(
        self, scope: Scope, project_ref: str, prompt_id: str
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        query: bytes = scope.get("query_string", b"")
        selector = DEFAULT_SELECTOR
        if query:
            selector_or_none = _get_selector(query)
            if selector_or_none is None:
                return None
            selector = selector_or_none
        found = _scan(scope, b"if-none-match")
        content = self._content(found, project_ref)
        if content is None:
            return None
        body = content[0].cached_prompt_body(content[1], prompt_id, selector)
        if body is None:
            return None
        full, not_modified = prebuilt_headers(body)
        if body.etag is not None:
            inm = found.get("if-none-match")
            if inm is not None and etag_matches(inm, body.etag):
                return 304, list(not_modified), b""
        return 200, list(full), body.data

    # -- POST …/prompts/{id}/render ---------------------------------------------------

    async def _render(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        project_ref: str,
        prompt_id: str,
    ) -> Receive | None:
        started = time.perf_counter()
        if scope.get("query_string"):
            return receive  # the route takes none: FastAPI says so
        found = _scan(scope, b"content-type", b"content-length")
        declared = found.get("content-length")
        if declared is None or not declared.isdigit() or int(declared) > MAX_API_BODY:
            return receive  # chunked, or over the limit: the middleware's answer
        body, receive, disconnected = await _read_body(receive)
        if disconnected:
            return None  # the client is gone: nobody to answer
        try:
            job = self._render_job(found, body, project_ref, prompt_id)
        except Exception:
            log.debug("fast path fell through", exc_info=True)
            job = None
        if job is None:
            return receive
        content, project, prepared = job
        # the route's dakora.render span, when a tracer provider is configured
        where = f"{project.workspace_slug}/{project.slug}"
        try:
            with span("dakora.render", {PROMPT_NAME: prompt_id, PROJECT: where}) as s:
                observe = (lambda d: set_prompt_attributes(s, d)) if s else None
                data = await run_job(content, prepared, observe)
        except DakoraError as exc:
            if exc.http_status >= 500:
                log.error("%s: %s", type(exc).__name__, exc.message, exc_info=exc)
            response = dakora_error_response(exc)
        except Exception:
            log.exception("unhandled error on POST %s", scope.get("path"))
            response = error_response(500, INTERNAL_ERROR_BODY)
        else:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-length", str(len(data)).encode()),
                        (b"content-type", b"application/json"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": data})
            self._served(scope, "render_prompt", 200, started)
            return None
        await response(scope, receive, send)
        self._served(scope, "render_prompt", response.status_code, started)
        return None

    def _render_job(
        self, found: dict[str, str], body: bytes, project_ref: str, prompt_id: str
    ) -> tuple[ContentStore, Project, RenderJob] | None:
        try:
            value = decode_body(body, found.get("content-type"))
        except Exception:
            return None  # not JSON: FastAPI's 422 (or 400)
        content = self._content(found, project_ref)
        if content is None:
            return None
        parsed = quick_fields(value)
        if parsed is None:
            return None  # not the common valid shape: FastAPI's 422
        inputs, ref, version, commit = parsed
        try:
            selector = Selector.of(ref=ref, version=version, commit=commit)
            job = content[0].cached_render_job(content[1], prompt_id, selector, inputs)
        except DakoraError:
            return None  # bad selector or inputs: the route's error
        if job is None:
            return None
        return content[0], content[1], job

    # -- shared -------------------------------------------------------------------------

    def _content(
        self, found: dict[str, str], project_ref: str
    ) -> tuple[ContentStore, Project] | None:
        """(content store, project) for a cached API key allowed to read the project,
        after the change watcher's poll; None to fall through."""
        state = self.state
        auth, content = state.auth, state.content
        if auth is None or content is None:
            return None
        if auth.before_request is not None:
            auth.before_request()  # first, as authenticate() does
        token, scheme_ok = credentials(found)
        if not scheme_ok or not token or not token.startswith(KEY_PREFIX):
            return None
        project = auth.cached_key_access(token, project_ref, "read")
        if project is None:
            return None
        return content, project

    def _served(self, scope: Scope, route: str, status: int, started: float) -> None:
        self.served += 1
        observe = self.observe
        if observe is not None:
            observe(scope, route, status, time.perf_counter() - started)


def _scan(scope: Scope, *extra: bytes) -> dict[str, str]:
    """The first value of the credential headers and of ``extra`` (latin-1, as
    Starlette's ``Headers.get``)."""
    wanted = (b"x-api-key", b"authorization", *extra)
    found: dict[str, str] = {}
    for name, value in scope["headers"]:
        if name in wanted:
            key = name.decode("latin-1")
            if key not in found:
                found[key] = value.decode("latin-1")
    return found


def _get_selector(query: bytes) -> Selector | None:
    """The selector of ``get_prompt``'s query string; None when the route would
    answer an error (the middleware's query check, an unknown parameter, a bad
    selector)."""
    if query_problem(query) is not None:
        return None
    params = QueryParams(query)
    if not GET_QUERY.issuperset(params.keys()):
        return None
    try:
        return Selector.from_query(params)
    except DakoraError:
        return None


async def _read_body(receive: Receive) -> tuple[bytes, Receive, bool]:
    """(body, a receive that replays it, disconnected)."""
    chunks: list[bytes] = []
    while True:
        message: Message = await receive()
        if message["type"] != "http.request":
            return b"", receive, True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    return body, _replay(body, receive), False


class DakoraApp(FastAPI):
    """The FastAPI app with the fast path in front (see the module docstring)."""

    fast_path: FastPath | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self.fast_path
        if fast is not None and fast.enabled and scope["type"] == "http":
            handed_on = await fast.serve(scope, receive, send)
            if handed_on is None:
                return
            receive = handed_on
        await super().__call__(scope, receive, send)
