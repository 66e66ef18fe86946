"""Turning cached bodies into responses: ETag, ``If-None-Match`` → 304."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from dakora.api.content import Body

JSON = "application/json"
CACHE_CONTROL = "no-cache"  # clients may keep a copy but must revalidate (ETag)


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison against an ``If-None-Match`` list (or ``*``)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        if candidate.strip().removeprefix("W/") == bare:
            return True
    return False


def respond(request: Request, body: Body) -> Response:
    """The body as JSON with its ETag, or 304 when the client already has it."""
    if body.etag is None:
        return Response(body.data, media_type=JSON)
    headers = {"ETag": body.etag, "Cache-Control": CACHE_CONTROL}
    if etag_matches(request.headers.get("if-none-match"), body.etag):
        return Response(status_code=304, headers=headers)
    return Response(body.data, media_type=JSON, headers=headers)


def json_bytes(data: bytes, status_code: int = 200) -> Response:
    return Response(data, status_code=status_code, media_type=JSON)
