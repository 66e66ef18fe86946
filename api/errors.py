"""The one error shape of the HTTP API.

Every error response body is built by :func:`error_body`::

    {"error": {"code": "prompt_not_found", "message": "…", <details|findings|problems>}}

- a :class:`~dakora.registry.core.errors.DakoraError` → its ``http_status`` and ``to_dict()``;
- FastAPI's ``RequestValidationError`` → 422 ``invalid_request`` naming each field;
- Starlette's ``HTTPException`` (unknown route, wrong method) → its status;
- anything else → logged with its traceback, answered 500 ``internal_error`` without one
  (by :class:`CatchAllMiddleware`, so nothing re-raises into the server's log twice).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dakora.api.query_guard import query_problem
from dakora.registry.core import DakoraError, LimitExceeded, Unauthenticated

log = logging.getLogger("dakora.api")

_STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The JSON error body every route and handler returns."""
    inner: dict[str, Any] = {"code": code, "message": message}
    inner.update(extra)
    return {"error": inner}


def error_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    """Encode an error body (``default=str`` so odd detail values never raise)."""
    data = json.dumps(body, default=str, ensure_ascii=False).encode()
    return Response(data, status, headers=headers, media_type="application/json")


def dakora_error_response(exc: DakoraError) -> Response:
    headers: dict[str, str] | None = None
    if isinstance(exc, Unauthenticated):
        headers = {"WWW-Authenticate": 'Bearer realm="dakora"'}
    return error_response(exc.http_status, {"error": exc.to_dict()}, headers)


async def _dakora_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DakoraError)
    if exc.http_status >= 500:
        log.error("%s: %s", type(exc).__name__, exc.message, exc_info=exc)
    return dakora_error_response(exc)


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


def _json_problem(
    err: dict[str, Any], loc: tuple[Any, ...], body: Any
) -> dict[str, Any]:
    """A body that is not JSON: say so, why, and where (line and column), instead of
    pydantic's ``body.<offset>: JSON decode error``."""
    reason = str((err.get("ctx") or {}).get("error") or "JSON decode error")
    where = ""
    offset = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
    if offset is not None:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        if isinstance(text, str):
            before = text[:offset]
            line = before.count("\n") + 1
            column = offset - (before.rfind("\n") + 1) + 1
            where = f" at line {line}, column {column}"
        else:
            where = f" at character {offset}"
    return {
        "field": "body",
        "message": f"request body is not valid JSON: {reason}{where}",
    }


async def _validation_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems: list[dict[str, Any]] = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        if err.get("type") == "json_invalid":
            problems.append(_json_problem(err, loc, getattr(exc, "body", None)))
            continue
        problems.append({"field": _field_name(loc), "message": str(err.get("msg"))})
    message = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return error_response(
        422,
        error_body("invalid_request", message or "invalid request", problems=problems),
    )


async def _http_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_response(
        exc.status_code,
        error_body(code, message),
        dict(exc.headers) if exc.headers else None,
    )


INTERNAL_ERROR_BODY = error_body("internal_error", "internal server error")

MAX_API_BODY = 4 * 1024 * 1024  # request bodies under /api/ (git pushes are elsewhere)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class PayloadTooLarge(LimitExceeded):
    code = "payload_too_large"
    http_status = 413


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        f"request body too large (the limit is {MAX_API_BODY // (1024 * 1024)} MiB)",
        limit=MAX_API_BODY,
    )


class CatchAllMiddleware:
    """Turns an unexpected exception into a 500 in the one error shape, and logs it;
    refuses ``/api/`` request bodies over :data:`MAX_API_BODY` (413).

    Sits inside Starlette's ServerErrorMiddleware; if the response had already started
    there is nothing better to do than re-raise.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        if scope["path"].startswith("/api/"):
            bad_query = query_problem(scope.get("query_string", b""))
            if bad_query is not None:
                await dakora_error_response(bad_query)(scope, receive, send)
                return
        if scope["method"] in _BODY_METHODS and scope["path"].startswith("/api/"):
            declared = _content_length(scope)
            if declared is None:  # chunked: read it here, within the limit
                body, too_large = await _buffered(receive)
                if not too_large:
                    receive = _replay(body, receive)
            else:
                too_large = declared > MAX_API_BODY
            if too_large:
                await dakora_error_response(_too_large())(scope, receive, send)
                return

        async def _send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, _send)
        except Exception as exc:
            if isinstance(exc, DakoraError):
                if exc.http_status >= 500:
                    log.error("%s: %s", type(exc).__name__, exc.message, exc_info=exc)
                response = dakora_error_response(exc)
            else:
                log.exception(
                    "unhandled error on %s %s", scope.get("method"), scope.get("path")
                )
                response = error_response(500, INTERNAL_ERROR_BODY)
            if started:
                raise
            await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _buffered(receive: Receive) -> tuple[bytes, bool]:
    """Read a body of unknown length (chunked): (body, too_large)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_API_BODY:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), False


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers and the catch-all on ``app``."""
    app.add_exception_handler(DakoraError, _dakora_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_middleware(CatchAllMiddleware)
