"""The SDK's write surface without a server: sync/async parity (by inspection), the
update merge, and the typed errors built from the server's error bodies.

The writes themselves run against a real server in
``tests/integration/test_sdk_live.py``.
"""

from __future__ import annotations

import inspect
from typing import Any

import httpx
import pytest

from dakora.client import (
    AsyncDakora,
    AuthError,
    Conflict,
    Dakora,
    DakoraAPIError,
    Finding,
    InputError,
    InvalidPrompt,
    PermissionDenied,
    PreconditionFailed,
)
from dakora.client import _writes as writes
from dakora.client._async_parts import AsyncLogs, AsyncParts
from dakora.client._async_prompts import AsyncPrompts
from dakora.client._errors import error_from_response
from dakora.client._sync_parts import Logs, Parts
from dakora.client._sync_prompts import Prompts

# The only names that differ between the twins, by design.
RENAMED = {"close": "aclose", "__enter__": "__aenter__", "__exit__": "__aexit__"}
# Annotations that name the sync/async flavour of the same thing.
FLAVOURS = [
    ("httpx.AsyncBaseTransport", "httpx.BaseTransport"),
    ("AsyncDakora", "Dakora"),
]
# Methods of the async client that do no I/O and so stay plain functions.
SYNC_ON_BOTH = {"__init__", "clear_cache"}
PAIRS = [
    (Dakora, AsyncDakora),
    (Prompts, AsyncPrompts),
    (Parts, AsyncParts),
    (Logs, AsyncLogs),
]


def _members(cls: type) -> dict[str, Any]:
    out = {}
    for name, value in vars(cls).items():
        public = not name.startswith("_") or name in {*RENAMED, *RENAMED.values()}
        if name == "__init__" or (public and (callable(value) or _is_prop(value))):
            out[name] = value
    return out


def _is_prop(value: Any) -> bool:
    return isinstance(value, property)


def _normal(annotation: Any) -> str:
    text = str(annotation)
    for async_name, sync_name in FLAVOURS:
        text = text.replace(async_name, sync_name)
    return text


def _shape(func: Any) -> list[tuple[str, Any, Any, str]]:
    sig = inspect.signature(func)
    params = [
        (p.name, p.kind, p.default, _normal(p.annotation))
        for p in sig.parameters.values()
    ]
    return [*params, ("->", None, None, _normal(sig.return_annotation))]


@pytest.mark.parametrize(("sync_cls", "async_cls"), PAIRS, ids=lambda c: c.__name__)
def test_sync_and_async_expose_the_same_methods(
    sync_cls: type, async_cls: type
) -> None:
    sync = _members(sync_cls)
    asyn = _members(async_cls)
    assert {RENAMED.get(n, n) for n in sync} == set(asyn)
    for name, func in sync.items():
        twin = asyn[RENAMED.get(name, name)]
        if _is_prop(func):
            assert _is_prop(twin), name
            assert _shape(func.fget) == _shape(twin.fget), name
            continue
        assert _shape(func) == _shape(twin), f"{sync_cls.__name__}.{name}"
        assert not inspect.iscoroutinefunction(func), name
        if name in SYNC_ON_BOTH:
            assert not inspect.iscoroutinefunction(twin), name
        else:
            assert inspect.iscoroutinefunction(twin), f"{async_cls.__name__}.{name}"


def test_the_twins_carry_the_same_sub_apis() -> None:
    sync = Dakora("http://127.0.0.1:9", "dk_x", "ws/p")
    asyn = AsyncDakora("http://127.0.0.1:9", "dk_x", "ws/p")
    try:
        for attr, (s_cls, a_cls) in {
            "prompts": (Prompts, AsyncPrompts),
            "parts": (Parts, AsyncParts),
            "logs": (Logs, AsyncLogs),
        }.items():
            assert type(getattr(sync, attr)) is s_cls
            assert type(getattr(asyn, attr)) is a_cls
    finally:
        sync.close()


def test_the_write_methods_take_what_the_issue_names() -> None:
    create = inspect.signature(Prompts.create).parameters
    assert list(create)[1:3] == ["prompt_id", "version"]
    assert {"template", "messages", "inputs", "branch", "message"} <= set(create)
    assert "if_match" in inspect.signature(Prompts.update).parameters
    delete = inspect.signature(Prompts.delete).parameters
    assert {"branch", "message", "if_match"} <= set(delete)
    for name in ("create", "update", "delete", "get", "list"):
        assert callable(getattr(Parts, name))


CURRENT = {
    "id": "probe",
    "version": "1.0.0",
    "description": "A probe",
    "kind": "text",
    "template": "Hi {{ who }}",
    "inputs": {"who": {"type": "string"}},
    "model": None,
    "metadata": None,
    "examples": [],
    "commit": "c" * 40,
    "ref": "main",
}


def test_update_merges_the_given_fields_over_the_current_prompt() -> None:
    body = writes.update_body(
        "probe",
        CURRENT,
        {"version": "1.1.0", "template": None, "metadata": {"tags": ("a",)}},
        {"branch": None, "message": "bump"},
    )
    assert body == {
        "id": "probe",
        "version": "1.1.0",
        "description": "A probe",
        "template": "Hi {{ who }}",
        "inputs": {"who": {"type": "string"}},
        "metadata": {"tags": ["a"]},
        "message": "bump",
    }


def test_update_swaps_template_and_messages() -> None:
    chat = writes.update_body(
        "probe",
        CURRENT,
        {"version": "2.0.0", "messages": [{"role": "user", "content": "Hi"}]},
        {},
    )
    assert "template" not in chat and chat["messages"][0]["role"] == "user"
    back = writes.update_body("probe", chat, {"template": "T"}, {})
    assert "messages" not in back and back["template"] == "T"


def _response(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, json=body)


def test_a_refused_write_carries_its_findings() -> None:
    err = error_from_response(
        _response(
            422,
            {
                "error": {
                    "code": "invalid_prompt",
                    "message": "prompts/probe.yaml:5: error: … [undeclared-variable]",
                    "findings": [
                        {
                            "path": "prompts/probe.yaml",
                            "line": 5,
                            "severity": "error",
                            "message": "variable 'x' is not declared",
                            "rule": "undeclared-variable",
                        }
                    ],
                }
            },
        )
    )
    assert isinstance(err, InvalidPrompt) and isinstance(err, InputError)
    assert err.findings == [
        Finding(
            "prompts/probe.yaml",
            5,
            "undeclared-variable",
            "variable 'x' is not declared",
        )
    ]
    assert str(err.findings[0]) == (
        "prompts/probe.yaml:5: error: variable 'x' is not declared "
        "[undeclared-variable]"
    )


def test_inputs_errors_stay_input_errors() -> None:
    err = error_from_response(
        _response(422, {"error": {"code": "invalid_inputs", "message": "m"}})
    )
    assert type(err) is InputError


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (403, "forbidden", PermissionDenied),
        (401, "unauthenticated", AuthError),
        (409, "already_exists", Conflict),
        (409, "ref_conflict", Conflict),
        (412, "precondition_failed", PreconditionFailed),
        (400, "bad_request", DakoraAPIError),
    ],
)
def test_status_to_type(status: int, code: str, cls: type) -> None:
    err = error_from_response(
        _response(
            status,
            {
                "error": {
                    "code": code,
                    "message": "m",
                    "details": {"current_version": "1.0.0", "current_blob": "b" * 40},
                }
            },
        )
    )
    assert type(err) is cls and err.status == status and err.code == code
    if isinstance(err, PreconditionFailed):
        assert isinstance(err, Conflict)
        assert (err.current_version, err.current_blob) == ("1.0.0", "b" * 40)
    if isinstance(err, PermissionDenied):
        assert isinstance(err, AuthError)
