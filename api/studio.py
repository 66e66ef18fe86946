"""The built Studio (``studio/dist``), served by ``dakora serve`` at ``/studio/``.

Where the assets are read from — the one place that decides (:func:`find_studio_dir`):

1. ``DAKORA_STUDIO_DIR`` when set (and only there: a wrong folder is reported, not
   silently replaced by another build);
2. the copy inside the installed package, ``dakora/api/studio_dist/`` (a wheel built
   after ``make studio`` ships it: ``setup.py`` copies ``studio/dist`` there);
3. ``studio/dist`` of the source tree (an editable install, ``make run``).

A folder counts when it holds ``index.html``. It is looked up on every request (two
or three ``stat`` calls), so a build finished while the server runs is served at once.

Caching: files under ``assets/`` carry a content hash in their names (Vite), so they
are ``Cache-Control: public, max-age=31536000, immutable``; ``index.html`` and any
other file are ``no-cache`` (revalidated with the ETag on each load, so a new build is
picked up). A path without a file extension is a deep link of the single-page app and
gets ``index.html`` — also one whose last segment has a dot that is no known file type
(prompt ids may contain dots); a missing file under ``assets/`` or with a known file
extension (``.js``, ``.css``, ``.svg``, …) is a 404 (a missing script must not come
back as HTML). Text assets are gzip-compressed once and kept in memory.

Without a build, ``/studio/`` answers **503** with a small HTML page saying how to build
it (``make studio``); ``/`` redirects (307) to ``/studio/``.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dakora.registry.core import Settings

MOUNT = "/studio"
PACKAGED_DIR = Path(__file__).resolve().parent / "studio_dist"
SOURCE_DIR = Path(__file__).resolve().parents[1] / "studio" / "dist"
INDEX = "index.html"
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
BUILD_COMMAND = "make studio"
BUILD_COMMAND_NPM = "npm --prefix studio ci && npm --prefix studio run build"

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".wasm": "application/wasm",
    ".txt": "text/plain; charset=utf-8",
}
COMPRESSIBLE = frozenset(
    {".html", ".js", ".mjs", ".css", ".json", ".map", ".svg", ".txt", ".webmanifest"}
)
MIN_GZIP_BYTES = 1024
MAX_CACHED_FILE = 16 * 1024 * 1024
MAX_CACHED_FILES = 512


def find_studio_dir(settings: Settings) -> Path | None:
    """The folder the Studio is served from, or None when there is no build."""
    for candidate in studio_candidates(settings):
        if (candidate / INDEX).is_file():
            return candidate
    return None


def studio_candidates(settings: Settings) -> list[Path]:
    """Where :func:`find_studio_dir` looks, in order."""
    if settings.studio_dir is not None:
        return [settings.studio_dir.expanduser()]
    return [PACKAGED_DIR, SOURCE_DIR]


def studio_url(base_url: str) -> str:
    return base_url.rstrip("/") + MOUNT + "/"


@dataclass(frozen=True)
class _File:
    mtime_ns: int
    size: int
    body: bytes
    gzipped: bytes | None
    etag: str


class _FileCache:
    """File bytes (and their gzip) by real path, re-read when mtime or size change."""

    def __init__(self) -> None:
        self._files: dict[str, _File] = {}
        self._lock = threading.Lock()

    def get(self, path: str, st: os.stat_result) -> _File:
        hit = self._files.get(path)
        if hit is not None and (hit.mtime_ns, hit.size) == (st.st_mtime_ns, st.st_size):
            return hit
        with open(path, "rb") as fh:
            body = fh.read()
        suffix = os.path.splitext(path)[1].lower()
        gzipped = None
        if suffix in COMPRESSIBLE and len(body) >= MIN_GZIP_BYTES:
            packed = gzip.compress(body, compresslevel=9, mtime=0)
            gzipped = packed if len(packed) < len(body) else None
        entry = _File(
            st.st_mtime_ns,
            st.st_size,
            body,
            gzipped,
            '"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        )
        if len(body) <= MAX_CACHED_FILE:
            with self._lock:
                if len(self._files) >= MAX_CACHED_FILES:
                    self._files.clear()
                self._files[path] = entry
        return entry


def _inside(root: Path, rel: str) -> str | None:
    """The real path of ``rel`` under ``root`` when it is a file there, else None."""
    parts = rel.split("/")
    if any(p in ("", ".", "..") or "\\" in p or "\x00" in p for p in parts):
        return None
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, *parts))
    if os.path.commonpath([real_root, real]) != real_root or not os.path.isfile(real):
        return None
    return real


def _not_built_page(settings: Settings) -> HTMLResponse:
    where = ", ".join(str(p) for p in studio_candidates(settings))
    configured = (
        f"<p><code>DAKORA_STUDIO_DIR</code> is set to "
        f"<code>{html.escape(str(settings.studio_dir))}</code>, which holds no "
        "<code>index.html</code>.</p>"
        if settings.studio_dir is not None
        else ""
    )
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Dakora Studio is not built</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;
padding:0 1rem;line-height:1.5}}code,pre{{background:#8881;padding:.1rem .3rem;
border-radius:4px}}pre{{padding:.6rem}}</style></head>
<body><h1>Dakora Studio is not built</h1>
<p>This server has no built Studio to serve. Build it from the root of the Dakora
source tree (needs Node.js and npm):</p>
<pre>{BUILD_COMMAND}</pre>
<p>or, without make:</p>
<pre>{html.escape(BUILD_COMMAND_NPM)}</pre>
<p>then reload this page (no restart needed). <code>make run</code> builds it for
you.</p>
{configured}<p>Looked in: <code>{html.escape(where)}</code>.</p>
<p>The HTTP API works without it: <a href="/docs">/docs</a>.</p>
</body></html>
"""
    return HTMLResponse(body, status_code=503, headers={"Cache-Control": "no-store"})


def _has_file_suffix(path: str) -> bool:
    """True for a path that names a file type the Studio could ship (``app.js``,
    ``logo.svg``); a deep link such as ``/studio/prompts/summarize.v2`` is not one."""
    return os.path.splitext(path.rsplit("/", 1)[-1])[1].lower() in MEDIA_TYPES


def _accepts_gzip(request: Request) -> bool:
    accept = request.headers.get("accept-encoding", "")
    return any(
        part.split(";")[0].strip().lower() == "gzip"
        and "q=0" not in part.replace(" ", "")
        for part in accept.split(",")
    )


def _file_response(
    request: Request, cache: _FileCache, real: str, cache_control: str
) -> Response:
    st = os.stat(real)
    entry = cache.get(real, st)
    suffix = os.path.splitext(real)[1].lower()
    headers = {"Cache-Control": cache_control, "ETag": entry.etag}
    if entry.gzipped is not None:
        headers["Vary"] = "Accept-Encoding"
    media_type = MEDIA_TYPES.get(suffix, "application/octet-stream")
    match = request.headers.get("if-none-match")
    if match and entry.etag in [v.strip().removeprefix("W/") for v in match.split(",")]:
        return Response(status_code=304, headers=headers)
    body = entry.body
    if entry.gzipped is not None and _accepts_gzip(request):
        body = entry.gzipped
        headers["Content-Encoding"] = "gzip"
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(status_code=200, headers=headers, media_type=media_type)
    return Response(body, headers=headers, media_type=media_type)


def install_studio(app: FastAPI, settings: Settings) -> None:
    """Add ``/`` (307 to ``/studio/``), ``/studio`` and ``/studio/{path}`` to ``app``."""
    cache = _FileCache()

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def root() -> Response:
        return RedirectResponse(MOUNT + "/", status_code=307)

    @app.api_route(MOUNT, methods=["GET", "HEAD"], include_in_schema=False)
    async def studio_bare() -> Response:
        return RedirectResponse(MOUNT + "/", status_code=307)

    @app.api_route(
        MOUNT + "/{path:path}", methods=["GET", "HEAD"], include_in_schema=False
    )
    def studio(request: Request, path: str) -> Response:
        # sync: file reads and gzip run in the thread pool, off the event loop
        root_dir = find_studio_dir(settings)
        if root_dir is None:
            return _not_built_page(settings)
        if path in ("", INDEX):
            real = _inside(root_dir, INDEX)
            assert real is not None  # find_studio_dir saw it
            return _file_response(request, cache, real, NO_CACHE)
        real = _inside(root_dir, path)
        if real is None:
            if path.startswith("assets/") or _has_file_suffix(path):
                raise StarletteHTTPException(
                    404, f"no such Studio file: /studio/{path}"
                )
            real = _inside(root_dir, INDEX)  # a deep link: the app routes it
            assert real is not None
            return _file_response(request, cache, real, NO_CACHE)
        immutable = path.startswith("assets/")
        return _file_response(
            request, cache, real, IMMUTABLE if immutable else NO_CACHE
        )
