"""The API's one error shape: every failure is {"error": {"code", "message", ...}}."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from dakora.api.errors import error_body, install_error_handlers
from dakora.registry.core.errors import (
    AccessDenied,
    InputError,
    InputProblem,
    InvalidPrompt,
    PromptNotFound,
    QuotaExceeded,
    StorageError,
    Unauthenticated,
)
from dakora.registry.core.findings import Finding


class Body(BaseModel):
    inputs: dict[str, Any]
    count: int = 0


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/missing")
    async def missing() -> None:
        raise PromptNotFound("prompt 'x' not found", prompt_id="x")

    @app.get("/inputs")
    async def inputs() -> None:
        raise InputError(
            [
                InputProblem("a", "missing required input 'a'", "string", None),
                InputProblem("b", "input 'b': expected number, got 'x'", "number", "x"),
            ]
        )

    @app.get("/findings")
    async def findings() -> None:
        raise InvalidPrompt(
            [Finding("prompts/a.yaml", 3, "error", "unknown key 'x'", "unknown-key")]
        )

    @app.get("/unauth")
    async def unauth() -> None:
        raise Unauthenticated("invalid API key")

    @app.get("/forbidden")
    async def forbidden() -> None:
        raise AccessDenied("read-only key")

    @app.get("/quota")
    async def quota() -> None:
        raise QuotaExceeded("quota exceeded: 10 of 10", tokens_used=10)

    @app.get("/storage")
    async def storage() -> None:
        raise StorageError("database unavailable")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    @app.get("/boom-sync")
    def boom_sync() -> None:
        raise KeyError("secret")

    @app.post("/body")
    async def body(payload: Body) -> dict[str, int]:
        return {"count": payload.count}

    @app.post("/api/body")
    async def api_body(payload: Body) -> dict[str, int]:
        return {"count": payload.count}

    return app


def _call(method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.request(method, path, **kwargs)

    return asyncio.run(go())


def _shape(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert isinstance(err["code"], str) and err["code"]
    assert isinstance(err["message"], str) and err["message"]
    return err


def test_error_body_builder() -> None:
    assert error_body("x", "y", problems=[]) == {
        "error": {"code": "x", "message": "y", "problems": []}
    }


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/missing", 404, "prompt_not_found"),
        ("/unauth", 401, "unauthenticated"),
        ("/forbidden", 403, "forbidden"),
        ("/quota", 429, "quota_exceeded"),
        ("/storage", 503, "storage_error"),
        ("/nope", 404, "not_found"),
    ],
)
def test_dakora_errors_keep_status_and_code(path: str, status: int, code: str) -> None:
    response = _call("GET", path)
    assert response.status_code == status
    assert _shape(response)["code"] == code


def test_details_findings_and_problems_are_in_the_body() -> None:
    err = _shape(_call("GET", "/missing"))
    assert err["details"] == {"prompt_id": "x"}
    err = _shape(_call("GET", "/inputs"))
    assert [p["input"] for p in err["problems"]] == ["a", "b"]
    assert err["problems"][1] == {
        "input": "b",
        "message": "input 'b': expected number, got 'x'",
        "expected": "number",
        "value": "x",
    }
    err = _shape(_call("GET", "/findings"))
    assert err["code"] == "invalid_prompt"
    assert err["findings"][0]["path"] == "prompts/a.yaml"
    assert err["findings"][0]["line"] == 3


def test_unauthenticated_asks_for_bearer() -> None:
    response = _call("GET", "/unauth")
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_method_not_allowed_has_the_shape() -> None:
    response = _call("DELETE", "/missing")
    assert response.status_code == 405
    assert _shape(response)["code"] == "method_not_allowed"


def test_validation_error_names_the_field() -> None:
    response = _call("POST", "/body", json={"inputs": [1], "count": "many"})
    assert response.status_code == 422
    err = _shape(response)
    assert err["code"] == "invalid_request"
    fields = {p["field"] for p in err["problems"]}
    assert fields == {"body.inputs", "body.count"}
    assert "body.inputs" in err["message"]


def test_malformed_json_is_422_not_500() -> None:
    response = _call(
        "POST", "/body", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert _shape(response)["code"] == "invalid_request"


def test_malformed_json_says_why_and_where() -> None:
    response = _call(
        "POST",
        "/body",
        content=b'{"inputs": {},\n  "count": 1,,}',
        headers={"content-type": "application/json"},
    )
    err = _shape(response)
    assert err["problems"] == [
        {
            "field": "body",
            "message": "request body is not valid JSON: Expecting property name "
            "enclosed in double quotes at line 2, column 14",
        }
    ]


@pytest.mark.parametrize("path", ["/boom", "/boom-sync"])
def test_unexpected_error_is_500_without_traceback(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="dakora.api"):
        response = _call("GET", path)
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "internal server error"}
    }
    text = json.dumps(response.json())
    assert "secret" not in text and "Traceback" not in text
    assert any("unhandled error" in r.getMessage() for r in caplog.records)


def test_oversized_body_is_413() -> None:
    from dakora.api.errors import MAX_API_BODY

    big = b'{"inputs": {"x": "' + b"a" * MAX_API_BODY + b'"}}'
    response = _call(
        "POST", "/api/body", content=big, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert _shape(response)["code"] == "payload_too_large"

    async def chunks():  # no content-length: counted as it arrives
        for _ in range(5):
            yield b"a" * (MAX_API_BODY // 4)

    response = _call(
        "POST",
        "/api/body",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert _shape(response)["code"] == "payload_too_large"
