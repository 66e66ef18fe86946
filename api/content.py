"""The HTTP edge of the read path: cached bodies of
:class:`~dakora.registry.content.ContentStore` into responses (ETag, ``If-None-Match``
→ 304).

The raw header lists of a cached :class:`~dakora.registry.content.Body` are built once
and kept with it (:class:`PrebuiltResponse` skips Starlette's per-response header
building): per request, a cached fetch costs two dict lookups and this.
"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from dakora.registry.content import Body, etag_matches

JSON = "application/json"
CACHE_CONTROL = "no-cache"  # clients may keep a copy but must revalidate (ETag)

RawHeaders = list[tuple[bytes, bytes]]


class PrebuiltResponse(Response):
    """A response whose body and raw headers were prepared once, ahead of time."""

    def __init__(self, body: bytes, raw_headers: RawHeaders, status_code: int = 200):
        self.status_code = status_code
        self.background = None
        self.body = body
        self.raw_headers = list(raw_headers)  # a copy: middleware may add headers


def prebuilt_headers(body: Body) -> tuple[RawHeaders, RawHeaders]:
    """(200 headers, 304 headers) of a body, built on first use and kept with it."""
    cached: tuple[RawHeaders, RawHeaders] | None = body.__dict__.get("_raw")
    if cached is None:
        common: RawHeaders = []
        if body.etag is not None:
            common = [
                (b"etag", body.etag.encode("latin-1")),
                (b"cache-control", CACHE_CONTROL.encode()),
            ]
        full = [
            (b"content-length", str(len(body.data)).encode()),
            (b"content-type", JSON.encode()),
            *common,
        ]
        cached = (full, common)
        object.__setattr__(body, "_raw", cached)  # Body is frozen; this is a cache
    return cached


def respond(request: Request, body: Body) -> Response:
    """The body as JSON with its ETag, or 304 when the client already has it."""
    full, not_modified = prebuilt_headers(body)
    if body.etag is not None and etag_matches(
        request.headers.get("if-none-match"), body.etag
    ):
        return PrebuiltResponse(b"", not_modified, 304)
    return PrebuiltResponse(body.data, full)


def json_bytes(data: bytes, status_code: int = 200) -> Response:
    return Response(data, status_code=status_code, media_type=JSON)
