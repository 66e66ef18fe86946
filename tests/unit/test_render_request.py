"""The render body read by hand (api/render_request.py) answers what FastAPI answers.

A small FastAPI app with the API's error handlers has two routes: one declares
``body: RenderIn`` (FastAPI reads, parses and validates it), the other reads it with
``decode_body`` and ``validate_body``. Every body below gets the same status and the
same bytes from both; valid bodies give the same parsed values.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from dakora.api.errors import install_error_handlers
from dakora.api.render_request import decode_body, quick_body, validate_body
from dakora.api.schemas import RenderIn


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/framework")
    def framework(body: RenderIn) -> dict[str, Any]:
        return body.model_dump()

    @app.post("/by-hand")
    async def by_hand(request: Request) -> dict[str, Any]:
        value = decode_body(await request.body(), request.headers.get("content-type"))
        return validate_body(value).model_dump()

    return app


APP = _app()
JSON = "application/json"


def _post(path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=APP)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.post(path, content=body, headers=headers)

    return asyncio.run(send())


BODIES: list[tuple[bytes, str | None]] = [
    (b'{"inputs": {"a": 1}}', JSON),
    (b'{"inputs": {"a": [1, {"b": null}]}, "ref": "main"}', JSON),
    (b'{"version": "1.2.0"}', JSON),
    (b'{"commit": "abc1234", "inputs": {}}', JSON),
    (b'{"ref": null, "version": null, "commit": null}', JSON),
    (b"{}", JSON),
    (b'{"inputs": {"a": 1}}', "application/json; charset=utf-8"),
    (b'{"inputs": {"a": 1}}', "application/vnd.dakora+json"),
    (b'{"inputs": {"a": 1}}', "Application/JSON"),
    (b'{"inputs": {"a": 1}}', None),
    (b'{"inputs": {"a": 1}}', "text/plain"),
    (b'{"inputs": {"a": 1}}', "application/x-www-form-urlencoded"),
    (b"", JSON),
    (b"", None),
    (b"{", JSON),
    (b'{"inputs": {', JSON),
    (b'{\n  "inputs": {\n    "a": x\n  }\n}', JSON),
    (b'{"inputs": {}} trailing', JSON),
    (b"nul", JSON),
    (b'{"inputs": "\xff"}', JSON),
    (b"\xef\xbb\xbf{}", JSON),
    (b"[]", JSON),
    (b"null", JSON),
    (b'"text"', JSON),
    (b"42", JSON),
    (b'{"inputs": []}', JSON),
    (b'{"inputs": null}', JSON),
    (b'{"inputs": "a=1"}', JSON),
    (b'{"inputs": {}, "extra": 1}', JSON),
    (b'{"inputs": {}, "extra": 1, "more": 2}', JSON),
    (b'{"ref": 5}', JSON),
    (b'{"ref": ["main"]}', JSON),
    (b'{"version": 1.2}', JSON),
    (b'{"commit": true}', JSON),
    (b'{"ref": {}, "inputs": [], "x": 1}', JSON),
]


@pytest.mark.parametrize(("body", "content_type"), BODIES)
def test_the_same_answer_as_fastapi(body: bytes, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    framework = _post("/framework", body, headers)
    by_hand = _post("/by-hand", body, headers)
    assert (by_hand.status_code, by_hand.content) == (
        framework.status_code,
        framework.content,
    )


def test_bad_bodies_are_422_naming_the_field() -> None:
    got = _post("/by-hand", b'{"inputs": {}, "extra": 1}', {"content-type": JSON})
    assert got.status_code == 422
    assert got.json()["error"]["problems"] == [
        {"field": "body.extra", "message": "Extra inputs are not permitted"}
    ]


@pytest.mark.parametrize(
    "value",
    [
        {"inputs": {"a": 1}},
        {},
        {"ref": "main", "inputs": {}},
        {"version": "1.0.0"},
        {"commit": None},
    ],
)
def test_the_quick_check_agrees_with_pydantic(value: dict[str, Any]) -> None:
    quick = quick_body(json.loads(json.dumps(value)))
    assert quick is not None
    assert quick.model_dump() == RenderIn.model_validate(value).model_dump()


@pytest.mark.parametrize(
    "value",
    [[], None, "x", {"inputs": []}, {"ref": 1}, {"extra": 1}, {"inputs": None}],
)
def test_the_quick_check_leaves_the_rest_to_pydantic(value: Any) -> None:
    assert quick_body(value) is None
