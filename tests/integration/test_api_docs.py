"""``/docs`` works offline: the real server serves Swagger UI's files itself.

The page and every file it references are fetched from the running ``dakora serve``;
none may point at another host (a CDN would leave the page blank offline).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest

pytestmark = pytest.mark.integration

# src="…" / href="…" attributes and the spec's url: '…' in Swagger UI's init script
REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|\burl:\s*['"]([^'"]+)""")


def test_docs_and_every_asset_come_from_this_server(live_server: Any) -> None:
    base = live_server.base_url
    with live_server.client() as client:
        page = client.get("/docs")
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        html = page.text
        refs = [a or b for a, b in REFERENCE.findall(html)]
        # the script, the stylesheet, the favicon and the OpenAPI document
        assert len(refs) >= 4, html
        assert not re.search(r"https?://|//[a-z]", html, re.IGNORECASE), html
        host = urlsplit(base).netloc
        fetched = {}
        for ref in refs:
            url = urljoin(f"{base}/docs", ref)
            assert urlsplit(url).netloc == host, f"{ref} points off-host"
            r = client.get(url)
            assert r.status_code == 200, (ref, r.status_code)
            assert r.content, ref
            fetched[urlsplit(url).path] = r
    js = next(r for p, r in fetched.items() if p.endswith("swagger-ui-bundle.js"))
    assert "javascript" in js.headers["content-type"]
    assert b"SwaggerUIBundle" in js.content
    css = next(r for p, r in fetched.items() if p.endswith(".css"))
    assert css.headers["content-type"].startswith("text/css")
    spec = fetched["/openapi.json"].json()
    assert spec["info"]["title"] == "Dakora"
    # the validator badge would call an outside service
    assert '"validatorUrl": null' in html


def test_redoc_is_not_served(live_server: Any) -> None:
    with live_server.client() as client:
        assert client.get("/redoc").status_code == 404
