"""``dakora serve`` serving the built Studio at ``/studio/`` (``api/studio.py``).

A tiny fake build (``index.html`` + ``assets/app-abc123.js``) made by the test and
pointed at with ``DAKORA_STUDIO_DIR``: cache headers, deep links, 404s for missing
files, no way out of the folder, gzip, ETags; and without a build the "how to build"
page (503), which turns into the app as soon as a build appears — no restart.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import httpx
import pytest

from tests.fixtures.server import LiveServer, ServerFactory

pytestmark = pytest.mark.integration

INDEX = (
    '<!doctype html><html><head><script type="module" '
    'src="/studio/assets/app-abc123.js"></script></head>'
    '<body><div id="root"></div></body></html>\n'
)
APP_JS = "export const hello = 'studio';\n" + "console.log(hello);\n" * 200


def _fake_build(dist: Path) -> Path:
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    (dist / "assets" / "app-abc123.js").write_text(APP_JS)
    (dist / "assets" / "style-def456.css").write_text("body{margin:0}\n")
    (dist / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>\n")
    return dist


@pytest.fixture(scope="module")
def built(start_live_server: ServerFactory, tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("studio-built")
    dist = _fake_build(base / "dist")
    (base / "secret.txt").write_text("outside the build\n")
    os.symlink(base / "secret.txt", dist / "assets" / "link-000000.txt")
    server = start_live_server(base, env={"DAKORA_STUDIO_DIR": str(dist)})
    return server


def _get(server: LiveServer, path: str, **headers: str) -> httpx.Response:
    with server.client(follow_redirects=False) as c:
        return c.get(path, headers=headers)


def test_root_redirects_to_the_studio(built: LiveServer) -> None:
    for path in ("/", "/studio"):
        r = _get(built, path)
        assert r.status_code == 307, (path, r.text)
        assert r.headers["location"] == "/studio/"


def test_index_is_not_cached_and_assets_are_immutable(built: LiveServer) -> None:
    r = _get(built, "/studio/")
    assert r.status_code == 200
    assert r.text == INDEX
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-cache"

    js = _get(built, "/studio/assets/app-abc123.js", **{"Accept-Encoding": "identity"})
    assert js.status_code == 200
    assert js.text == APP_JS
    assert js.headers["content-type"].startswith("text/javascript")
    assert js.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "content-encoding" not in js.headers

    css = _get(built, "/studio/assets/style-def456.css")
    assert css.headers["content-type"].startswith("text/css")
    assert css.headers["cache-control"].endswith("immutable")
    # a file outside assets/ is not content-hashed: revalidated
    icon = _get(built, "/studio/favicon.svg")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/svg+xml"
    assert icon.headers["cache-control"] == "no-cache"


def test_gzip_and_etags(built: LiveServer) -> None:
    with built.client() as c:
        r = c.get("/studio/assets/app-abc123.js", headers={"Accept-Encoding": "gzip"})
        assert r.headers["content-encoding"] == "gzip"
        assert r.headers["vary"] == "Accept-Encoding"
        assert r.text == APP_JS  # httpx decodes
        assert int(r.headers["content-length"]) < len(APP_JS) / 5
        etag = r.headers["etag"]
        again = c.get("/studio/assets/app-abc123.js", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        index = c.get("/studio/")
        revalidated = c.get(
            "/studio/", headers={"If-None-Match": index.headers["etag"]}
        )
        assert revalidated.status_code == 304
        head = c.head(
            "/studio/assets/app-abc123.js", headers={"Accept-Encoding": "gzip"}
        )
        assert head.status_code == 200 and head.content == b""
    # the bytes on the wire are gzip of the file
    with httpx.stream(
        "GET",
        built.url("/studio/assets/app-abc123.js"),
        headers={"Accept-Encoding": "gzip"},
    ) as resp:
        wire = b"".join(resp.iter_raw())
    assert gzip.decompress(wire).decode() == APP_JS


def test_deep_links_fall_back_to_index(built: LiveServer) -> None:
    for path in (
        "/studio/projects",
        "/studio/p/demo~demo/prompts/support-reply",
        "/studio/p/demo~demo/prompts/summarize.v2/versions",
        "/studio/p/demo~demo/prompts/summarize.v2",
        "/studio/index.html",
    ):
        r = _get(built, path)
        assert r.status_code == 200, path
        assert r.text == INDEX, path
        assert r.headers["cache-control"] == "no-cache"


def test_missing_files_are_404_never_index(built: LiveServer) -> None:
    for path in (
        "/studio/assets/app-000000.js",
        "/studio/assets/nothing",
        "/studio/missing.css",
        "/studio/logo.png",
    ):
        r = _get(built, path)
        assert r.status_code == 404, (path, r.text)
        assert "<html" not in r.text
        assert r.json()["error"]["code"] == "not_found"


def test_nothing_outside_the_build_is_served(built: LiveServer) -> None:
    raw = httpx.Client(base_url=built.base_url)
    try:
        for path in (
            "/studio/..%2Fsecret.txt",
            "/studio/%2e%2e/secret.txt",
            "/studio/assets/..%2F..%2Fsecret.txt",
            "/studio/assets/link-000000.txt",  # a symlink pointing out
            "/studio/%00.js",
            "/studio/%ff",
            "/studio/assets/%ED%A0%80.js",
        ):
            r = raw.get(httpx.URL(built.base_url + path))
            assert "outside the build" not in r.text, path
            assert r.status_code in (200, 404), (path, r.text)
    finally:
        raw.close()


def test_the_api_is_not_shadowed(built: LiveServer) -> None:
    assert _get(built, "/api/health").status_code == 200
    assert _get(built, "/docs").status_code == 200
    r = _get(built, "/studio-not")
    assert r.status_code == 404
    spec = _get(built, "/openapi.json").json()
    assert not [p for p in spec["paths"] if p == "/" or p.startswith("/studio")]


def test_without_a_build_studio_says_how_to_build_it(
    start_live_server: ServerFactory, tmp_path: Path
) -> None:
    empty = tmp_path / "no-build"
    empty.mkdir()
    server = start_live_server(tmp_path, env={"DAKORA_STUDIO_DIR": str(empty)})
    for path in ("/studio/", "/studio/p/demo~demo/prompts"):
        r = _get(server, path)
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith("text/html")
        assert "make studio" in r.text
        assert (
            "npm --prefix studio ci &amp;&amp; npm --prefix studio run build" in r.text
        )
        assert "DAKORA_STUDIO_DIR" in r.text and str(empty) in r.text
    assert _get(server, "/").headers["location"] == "/studio/"
    # a build that appears is served at once, without a restart
    _fake_build(empty)
    r = _get(server, "/studio/")
    assert r.status_code == 200 and r.text == INDEX
    server.stop()
