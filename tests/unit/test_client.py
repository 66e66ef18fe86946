"""The SDK's cache, stale-while-revalidate, ETag, fallback and error logic.

The server is an ``httpx.MockTransport`` double (a dict of prompts with ETags) so the
timing-dependent logic can be driven by a fake clock; the real server is exercised in
``tests/integration/test_sdk_live.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from dakora.client import (
    AsyncDakora,
    AuthError,
    Conflict,
    Dakora,
    DakoraAPIError,
    DakoraClientError,
    DakoraConnectionError,
    InputError,
    NotFound,
    PermissionDenied,
    RateLimited,
    RenderError,
    ServerError,
)
from dakora.client.config import link_path, load_link, resolve_remote, save_link

BASE = "http://dakora.test"
KEY = "dk_test_key"
PROJECT = "acme/web"
SEG = "/api/projects/acme~web"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _prompt(version: str = "1.0.0", text: str = "Hello {{ name }}!") -> dict[str, Any]:
    return {
        "id": "greeting",
        "version": version,
        "description": "Say hello",
        "kind": "text",
        "template": text,
        "inputs": {"name": {"type": "string"}},
        "model": None,
        "metadata": None,
        "examples": [],
    }


class FakeServer:
    """Just enough of the runtime API, with request log and an on/off switch."""

    def __init__(self) -> None:
        self.prompts: dict[str, dict[str, Any]] = {"greeting": _prompt()}
        self.requests: list[httpx.Request] = []
        self.down = False
        self.status_override: tuple[int, dict[str, Any] | str] | None = None
        self.gate: threading.Event | None = None

    def etag(self, prompt_id: str) -> str:
        p = self.prompts[prompt_id]
        return f'"{prompt_id}-{p["version"]}"'

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.gate is not None:
            self.gate.wait(10)
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if self.status_override is not None:
            status, body = self.status_override
            if isinstance(body, str):
                return httpx.Response(status, text=body)
            return httpx.Response(status, json=body)
        path = request.url.path
        if not path.startswith(SEG):
            return _error(404, "project_not_found", "project not found")
        rest = path[len(SEG) :]
        if rest == "/prompts":
            items = [
                {
                    "id": p["id"],
                    "version": p["version"],
                    "description": p["description"],
                }
                for p in self.prompts.values()
            ]
            ref = request.url.params.get("ref", "main")
            return httpx.Response(
                200, json={"prompts": items, "ref": ref, "commit": "c" * 40}
            )
        if rest == "/logs" and request.method == "POST":
            return httpx.Response(201, json={"id": 7, **json.loads(request.content)})
        parts = rest.split("/")
        if len(parts) >= 3 and parts[1] == "prompts":
            pid = parts[2]
            if pid not in self.prompts:
                return _error(404, "prompt_not_found", f"prompt {pid!r} not found")
            p = self.prompts[pid]
            if len(parts) == 4 and parts[3] == "render":
                body = json.loads(request.content)
                inputs = body["inputs"]
                if "name" not in inputs:
                    return _error(
                        422,
                        "invalid_inputs",
                        "missing required input 'name'",
                        problems=[{"input": "name", "message": "missing"}],
                    )
                rendered = p["template"].replace("{{ name }}", str(inputs["name"]))
                return httpx.Response(
                    200,
                    json={
                        "rendered": rendered,
                        "prompt_id": pid,
                        "version": p["version"],
                        "commit": "c" * 40,
                        "inputs_used": inputs,
                    },
                )
            etag = self.etag(pid)
            if request.headers.get("If-None-Match") == etag:
                return httpx.Response(304, headers={"ETag": etag})
            version = request.url.params.get("version")
            if version is not None and version != p["version"]:
                return _error(404, "ref_not_found", f"no version {version}")
            return httpx.Response(
                200,
                json={**p, "commit": "c" * 40, "ref": "refs/heads/main"},
                headers={"ETag": etag},
            )
        return _error(404, "not_found", "not found")

    def gets(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == "GET"]


def _error(status: int, code: str, message: str, **extra: Any) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"code": code, "message": message, **extra}}
    )


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_client(server: FakeServer, clock: Clock) -> Callable[..., Dakora]:
    made: list[Dakora] = []

    def make(**kw: Any) -> Dakora:
        kw.setdefault("cache_ttl", 60)
        kw.setdefault("stale_ttl", 300)
        c = Dakora(
            BASE,
            KEY,
            PROJECT,
            transport=httpx.MockTransport(server.handler),
            clock=clock,
            **kw,
        )
        made.append(c)
        return c

    yield make  # type: ignore[misc]
    for c in made:
        c.close()


# -- fetching and caching ---------------------------------------------------------


def test_get_sends_key_and_parses_prompt(
    make_client: Callable[..., Dakora], server: FakeServer
) -> None:
    p = make_client().prompts.get("greeting")
    assert (p.id, p.version, p.kind, p.source) == (
        "greeting",
        "1.0.0",
        "text",
        "network",
    )
    assert p.template == "Hello {{ name }}!"
    assert p.commit == "c" * 40 and p.ref == "refs/heads/main"
    assert p.etag == '"greeting-1.0.0"'
    req = server.requests[0]
    assert req.headers["Authorization"] == f"Bearer {KEY}"
    assert req.url.path == f"{SEG}/prompts/greeting"


def test_fresh_entry_served_from_cache(
    make_client: Callable[..., Dakora], server: FakeServer, clock: Clock
) -> None:
    c = make_client()
    c.prompts.get("greeting")
    clock.advance(59)
    assert c.prompts.get("greeting").source == "cache"
    assert len(server.requests) == 1


def test_selectors_are_separate_cache_entries(
    make_client: Callable[..., Dakora], server: FakeServer
) -> None:
    c = make_client()
    c.prompts.get("greeting")
    c.prompts.get("greeting", ref="production")
    c.prompts.get("greeting", version="1.0.0")
    assert [dict(r.url.params) for r in server.requests] == [
        {},
        {"ref": "production"},
        {"version": "1.0.0"},
    ]


def test_stale_served_then_refreshed_in_background(
    make_client: Callable[..., Dakora], server: FakeServer, clock: Clock
) -> None:
    c = make_client()
    c.prompts.get("greeting")
    server.prompts["greeting"] = _prompt("1.1.0", "Hi {{ name }}.")
    clock.advance(61)
    stale = c.prompts.get("greeting")
    assert (stale.version, stale.source) == ("1.0.0", "stale")
    c.wait_for_refreshes()
    assert server.gets()[-1].headers["If-None-Match"] == '"greeting-1.0.0"'
    fresh = c.prompts.get("greeting")
    assert (fresh.version, fresh.source) == ("1.1.0", "cache")
    assert len(server.requests) == 2


def test_background_refresh_304_makes_entry_fresh(
    make_client: Callable[..., Dakora], server: FakeServer, clock: Clock
) -> None:
    c = make_client()
    c.prompts.get("greeting")
    clock.advance(61)
    assert c.prompts.get("greeting").source == "stale"
    c.wait_for_refreshes()
    assert c.prompts.get("greeting").source == "cache"
    assert len(server.requests) == 2


def test_one_background_refresh_per_key(
    make_client: Callable[..., Dakora], server: FakeServer, clock: Clock
) -> None:
    c = make_client()
    c.prompts.get("greeting")
    clock.advance(61)
    server.gate = threading.Event()
    try:
        for _ in range(5):
            assert c.prompts.get("greeting").source == "stale"
    finally:
        server.gate.set()
    c.wait_for_refreshes()
    assert len(server.requests) == 2


def test_expired_entry_revalidated_in_foreground_with_etag(
    make_client: Callable[..., Dakora], server: FakeServer, clock: Clock
) -> None:
    c = make_client()
    c.prompts.get("greeting")
    clock.advance(60 + 300 + 1)
    p = c.prompts.get("greeting")
    assert (p.version, p.source) == ("1.0.0", "network")
    assert server.requests[-1].headers["If-None-Match"] == '"greeting-1.0.0"'
    server.prompts["greeting"] = _prompt("2.0.0")
    clock.advance(1000)
    assert c.prompts.get("greeting").version == "2.0.0"


def test_zero_ttl_always_revalidates(
    make_client: Callable[..., Dakora], server: FakeServer
) -> None:
    c = make_client(cache_ttl=0, stale_ttl=0)
    for _ in range(3):
        assert c.prompts.get("greeting").source == "network"
    assert len(server.requests) == 3
    assert all("If-None-Match" in r.headers for r in server.requests[1:])


def test_version_pinned_entries_never_go_stale(
    make_client: Callable[..., Dakora], server: FakeServer, clock: Clock
) -> None:
    c = make_client()
    c.prompts.get("greeting", version="1.0.0")
    c.prompts.get("greeting", commit="a" * 40)
    clock.advance(10**6)
    assert c.prompts.get("greeting", version="1.0.0").source == "cache"
    assert c.prompts.get("greeting", commit="a" * 40).source == "cache"
    assert len(server.requests) == 2


def test_short_commit_is_not_immutable(
    make_client: Callable[..., Dakora], server: FakeServer, clock: Clock
) -> None:
    c = make_client()
    c.prompts.get("greeting", commit="abc123")
    clock.advance(10**6)
    assert c.prompts.get("greeting", commit="abc123").source == "network"


def test_max_entries_evicts_least_recently_used(
    make_client: Callable[..., Dakora], server: FakeServer
) -> None:
    c = make_client(max_cache_entries=2)
    for ref in ("a", "b", "a", "c"):
        c.prompts.get("greeting", ref=ref)
    c.prompts.get("greeting", ref="a")
    c.prompts.get("greeting", ref="b")
    refs = [r.url.params["ref"] for r in server.requests]
    assert refs == ["a", "b", "c", "b"]


def test_more_than_one_selector_refused(make_client: Callable[..., Dakora]) -> None:
    with pytest.raises(ValueError, match="at most one"):
        make_client().prompts.get("greeting", ref="main", version="1.0.0")


def test_list_with_ref_and_cache(
    make_client: Callable[..., Dakora], server: FakeServer
) -> None:
    c = make_client()
    listing = c.prompts.list(ref="production")
    assert listing.ids() == ["greeting"] and listing.ref == "production"
    assert len(listing) == 1 and next(iter(listing)).version == "1.0.0"
    assert c.prompts.list(ref="production").source == "cache"
    assert server.requests[0].url.params["ref"] == "production"
    assert len(server.requests) == 1


def test_project_uuid_used_as_is(server: FakeServer) -> None:
    uid = "0b5f3c1e-8a7e-4c1e-9a39-3f0c2a9f7d11"
    transport = httpx.MockTransport(server.handler)
    with Dakora(BASE, KEY, uid, transport=transport) as c, pytest.raises(NotFound):
        c.prompts.get("greeting")
    assert server.requests[0].url.path == f"/api/projects/{uid}/prompts/greeting"


# -- errors -----------------------------------------------------------------------


def test_render_posts_inputs_and_selector(
    make_client: Callable[..., Dakora], server: FakeServer
) -> None:
    out = make_client().prompts.render("greeting", {"name": "Ada"}, ref="staging")
    assert (out.rendered, out.text, out.source) == (
        "Hello Ada!",
        "Hello Ada!",
        "network",
    )
    assert out.inputs_used == {"name": "Ada"} and out.prompt_id == "greeting"
    req = server.requests[0]
    assert req.method == "POST" and req.url.path == f"{SEG}/prompts/greeting/render"
    assert json.loads(req.content) == {"inputs": {"name": "Ada"}, "ref": "staging"}


def test_input_error_carries_problems(make_client: Callable[..., Dakora]) -> None:
    with pytest.raises(InputError) as info:
        make_client().prompts.render("greeting", {})
    err = info.value
    assert (err.status, err.code) == (422, "invalid_inputs")
    assert err.problems == [{"input": "name", "message": "missing"}]
    assert "missing required input 'name'" in str(err)


def test_not_found_is_typed_and_not_cached(
    make_client: Callable[..., Dakora], server: FakeServer
) -> None:
    c = make_client()
    for _ in range(2):
        with pytest.raises(NotFound) as info:
            c.prompts.get("nope")
    assert info.value.code == "prompt_not_found"
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    ("status", "body", "cls", "code"),
    [
        (
            401,
            {"error": {"code": "unauthenticated", "message": "bad key"}},
            AuthError,
            "unauthenticated",
        ),
        (
            403,
            {"error": {"code": "forbidden", "message": "read-only"}},
            PermissionDenied,
            "forbidden",
        ),
        (
            400,
            {"error": {"code": "render_error", "message": "x"}},
            RenderError,
            "render_error",
        ),
        (
            422,
            {
                "error": {
                    "code": "render_limit",
                    "message": "x",
                    "details": {"limit": "timeout_ms", "max": 2000},
                }
            },
            RenderError,
            "render_limit",
        ),
        (
            409,
            {"error": {"code": "ref_conflict", "message": "x"}},
            Conflict,
            "ref_conflict",
        ),
        (
            429,
            {"error": {"code": "quota_exceeded", "message": "quota exceeded"}},
            RateLimited,
            "quota_exceeded",
        ),
        (502, "<html>bad gateway</html>", ServerError, "http_502"),
    ],
)
def test_error_classes(
    make_client: Callable[..., Dakora],
    server: FakeServer,
    status: int,
    body: Any,
    cls: type[DakoraAPIError],
    code: str,
) -> None:
    server.status_override = (status, body)
    with pytest.raises(cls) as info:
        make_client().prompts.render("greeting", {"name": "x"})
    assert (info.value.status, info.value.code) == (status, code)
    assert type(info.value) is cls


def test_error_details_collected(
    make_client: Callable[..., Dakora], server: FakeServer
) -> None:
    server.status_override = (
        429,
        {"error": {"code": "quota_exceeded", "message": "m", "details": {"limit": 5}}},
    )
    with pytest.raises(RateLimited) as info:
        make_client().logs.create(prompt_id="greeting", tokens_in=10)
    assert info.value.details["limit"] == 5
    assert info.value.retry_after is None


def test_revalidation_404_evicts(
    make_client: Callable[..., Dakora], server: FakeServer, clock: Clock
) -> None:
    c = make_client()
    c.prompts.get("greeting")
    del server.prompts["greeting"]
    clock.advance(1000)
    with pytest.raises(NotFound):
        c.prompts.get("greeting")
    server.down = True
    with pytest.raises(DakoraConnectionError):
        c.prompts.get("greeting")  # the deleted prompt is not served stale


def test_background_401_evicts_so_next_call_raises(
    make_client: Callable[..., Dakora], server: FakeServer, clock: Clock
) -> None:
    c = make_client()
    c.prompts.get("greeting")
    clock.advance(61)
    server.status_override = (
        401,
        {"error": {"code": "unauthenticated", "message": "revoked"}},
    )
    assert c.prompts.get("greeting").source == "stale"
    c.wait_for_refreshes()
    with pytest.raises(AuthError):
        c.prompts.get("greeting")


# -- server unreachable -----------------------------------------------------------


def test_unreachable_serves_expired_entry(
    make_client: Callable[..., Dakora], server: FakeServer, clock: Clock
) -> None:
    c = make_client()
    c.prompts.get("greeting")
    clock.advance(10**6)
    server.down = True
    p = c.prompts.get("greeting")
    assert (p.version, p.source) == ("1.0.0", "stale")


def test_5xx_counts_as_unreachable(
    make_client: Callable[..., Dakora], server: FakeServer, clock: Clock
) -> None:
    c = make_client()
    c.prompts.get("greeting")
    clock.advance(10**6)
    server.status_override = (
        503,
        {"error": {"code": "storage_error", "message": "db"}},
    )
    assert c.prompts.get("greeting").source == "stale"


def test_unreachable_without_cache_or_fallback_raises(
    make_client: Callable[..., Dakora], server: FakeServer
) -> None:
    server.down = True
    c = make_client()
    with pytest.raises(DakoraConnectionError, match="cannot reach"):
        c.prompts.get("greeting")
    with pytest.raises(DakoraConnectionError):
        c.prompts.list()
    with pytest.raises(DakoraConnectionError):
        c.prompts.render("greeting", {"name": "x"})


def test_fallback_dict_when_unreachable(
    make_client: Callable[..., Dakora], server: FakeServer
) -> None:
    server.down = True
    c = make_client(fallback={"greeting": _prompt("0.9.0", "Hey {{ name }}")})
    p = c.prompts.get("greeting")
    assert (p.version, p.source, p.template) == ("0.9.0", "fallback", "Hey {{ name }}")
    assert c.prompts.list().ids() == ["greeting"]
    out = c.prompts.render("greeting", {"name": "Ada"})
    assert (out.rendered, out.source) == ("Hey Ada", "fallback")
    with pytest.raises(DakoraConnectionError):
        c.prompts.get("other")


def test_fallback_not_used_for_other_version(
    make_client: Callable[..., Dakora], server: FakeServer
) -> None:
    server.down = True
    c = make_client(fallback={"greeting": _prompt("0.9.0")})
    with pytest.raises(DakoraConnectionError):
        c.prompts.get("greeting", version="1.0.0")
    assert c.prompts.get("greeting", version="0.9.0").source == "fallback"


def test_fallback_not_used_for_api_errors(
    make_client: Callable[..., Dakora], server: FakeServer
) -> None:
    c = make_client(fallback={"nope": _prompt()})
    with pytest.raises(NotFound):
        c.prompts.get("nope")


def test_fallback_callable(
    make_client: Callable[..., Dakora], server: FakeServer
) -> None:
    server.down = True
    asked: list[str] = []

    def lookup(prompt_id: str) -> dict[str, Any] | None:
        asked.append(prompt_id)
        return _prompt("0.1.0") if prompt_id == "greeting" else None

    c = make_client(fallback=lookup)
    assert c.prompts.get("greeting").version == "0.1.0"
    with pytest.raises(DakoraConnectionError):
        c.prompts.get("missing")
    assert asked == ["greeting", "missing"]


def test_offline_render_uses_cached_prompt(
    make_client: Callable[..., Dakora], server: FakeServer
) -> None:
    c = make_client()
    c.prompts.get("greeting")
    server.down = True
    out = c.prompts.render("greeting", {"name": "Bo"})
    assert (out.rendered, out.source, out.version) == ("Hello Bo!", "stale", "1.0.0")


def test_offline_render_refuses_bad_inputs(
    make_client: Callable[..., Dakora], server: FakeServer
) -> None:
    """Offline, bad inputs get the error the server gives them: 422 invalid_inputs,
    the same problems (registry/core/inputs.py is the one coercion)."""
    server.down = True
    c = make_client(fallback={"greeting": _prompt()})
    with pytest.raises(InputError, match="missing required input 'name'") as missing:
        c.prompts.render("greeting", {})
    assert (missing.value.status, missing.value.code) == (422, "invalid_inputs")
    assert missing.value.problems == [
        {
            "input": "name",
            "message": "missing required input 'name' (string)",
            "expected": "string",
            "value": None,
        }
    ]
    with pytest.raises(InputError, match="unknown input 'nmae'"):
        c.prompts.render("greeting", {"name": "x", "nmae": "y"})


def _typed_prompt() -> dict[str, Any]:
    return {
        **_prompt(),
        "template": "{{ n + 1 }} {{ flag }} {{ tags | join(',') }} {{ tone }} "
        "{{ name }}",
        "inputs": {
            "n": {"type": "number"},
            "flag": {"type": "boolean", "default": False},
            "tags": {"type": "array<string>"},
            "tone": {"type": "string", "enum": ["warm", "dry"], "default": "warm"},
            "name": {"type": "string"},
        },
    }


def test_offline_render_coerces_like_the_server(
    make_client: Callable[..., Dakora], server: FakeServer
) -> None:
    server.down = True
    c = make_client(fallback={"greeting": _typed_prompt()})
    out = c.prompts.render(
        "greeting", {"n": "41", "flag": "yes", "tags": "solo", "name": 7}
    )
    assert out.source == "fallback"
    assert out.rendered == "42 True solo warm 7"
    assert out.inputs_used == {
        "n": 41,
        "flag": True,
        "tags": ["solo"],
        "tone": "warm",
        "name": "7",
    }


def test_offline_render_reports_every_bad_input_like_the_server(
    make_client: Callable[..., Dakora], server: FakeServer
) -> None:
    server.down = True
    c = make_client(fallback={"greeting": _typed_prompt()})
    with pytest.raises(InputError) as bad:
        c.prompts.render(
            "greeting",
            {"n": "abc", "flag": "maybe", "tags": [1], "tone": "loud", "x": 1},
        )
    assert [(p["input"], p["message"]) for p in bad.value.problems] == [
        ("x", "unknown input 'x'"),
        ("n", "input 'n': expected number, got 'abc'"),
        (
            "flag",
            "input 'flag': expected boolean, got 'maybe' "
            "(use true/false, yes/no, on/off or 1/0)",
        ),
        (
            "tags",
            "input 'tags': expected array<string>, got [1] (item 0 is 1, not a string)",
        ),
        ("tone", "input 'tone': expected one of 'warm', 'dry', got 'loud'"),
        ("name", "missing required input 'name' (string)"),
    ]


def test_offline_render_with_a_broken_input_spec_is_a_connection_error(
    make_client: Callable[..., Dakora], server: FakeServer
) -> None:
    server.down = True
    broken = {**_prompt(), "inputs": {"name": {"type": "integer"}}}
    c = make_client(fallback={"greeting": broken})
    with pytest.raises(DakoraConnectionError, match="input 'name' of the prompt"):
        c.prompts.render("greeting", {"name": "x"})


def test_fallback_repository_folder(
    make_client: Callable[..., Dakora], server: FakeServer, sample_repo_path: Path
) -> None:
    import yaml

    server.down = True
    c = make_client(fallback=sample_repo_path)
    listing = c.prompts.list()
    files = [
        *sample_repo_path.glob("prompts/**/*.yaml"),
        *sample_repo_path.glob("prompts/**/*.yml"),
    ]
    assert len(listing) == len(files) and "summarize" in listing.ids()
    assert listing.source == "fallback"
    spec = yaml.safe_load(
        (sample_repo_path / "prompts/general/summarize.yaml").read_text()
    )
    out = c.prompts.render("summarize", {"text": "Short text."})
    tone = (sample_repo_path / "parts/system/tone.md").read_text().strip()
    assert out.rendered is not None and out.version == spec["version"]
    assert tone.splitlines()[0] in out.rendered  # the include, from parts/
    assert "Short text." in out.rendered
    assert out.inputs_used["language"] == spec["inputs"]["language"]["default"]
    assert out.inputs_used["audience"] is None


def test_fallback_json_file_with_parts_and_chat(
    make_client: Callable[..., Dakora], server: FakeServer, tmp_path: Path
) -> None:
    chat = {
        "id": "chat",
        "version": "1.0.0",
        "messages": [
            {"role": "system", "content": '{% include "persona/kind" %}'},
            {"role": "user", "content": "{{ q }}"},
        ],
        "inputs": {"q": {"type": "string"}},
    }
    path = tmp_path / "fallback.json"
    path.write_text(
        json.dumps({"prompts": [chat], "parts": {"persona/kind": "Be kind."}})
    )
    server.down = True
    out = make_client(fallback=str(path)).prompts.render("chat", {"q": "Why?"})
    assert out.messages == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "Why?"},
    ]
    assert out.text == "system: Be kind.\nuser: Why?"


# -- logs -------------------------------------------------------------------------


def test_logs_create_sends_fields(
    make_client: Callable[..., Dakora], server: FakeServer
) -> None:
    rec = make_client().logs.create(
        prompt_id="greeting",
        version="1.0.0",
        inputs={"name": "Ada"},
        output="Hello Ada!",
        provider="openai",
        model="gpt-4o-mini",
        tokens_in=12,
        tokens_out=5,
        cost=0.001,
        latency_ms=420,
    )
    sent = json.loads(server.requests[0].content)
    assert sent == {
        "prompt_id": "greeting",
        "version": "1.0.0",
        "inputs": {"name": "Ada"},
        "output": "Hello Ada!",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "tokens_in": 12,
        "tokens_out": 5,
        "cost": 0.001,
        "latency_ms": 420,
    }
    assert rec["id"] == 7
    assert server.requests[0].url.path == f"{SEG}/logs"


# -- async ------------------------------------------------------------------------


def test_async_client_cache_swr_and_fallback(server: FakeServer, clock: Clock) -> None:
    async def scenario() -> None:
        transport = httpx.MockTransport(server.handler)
        async with AsyncDakora(
            BASE,
            KEY,
            PROJECT,
            transport=transport,
            clock=clock,
            fallback={"other": _prompt("0.0.1")},
        ) as c:
            p = await c.prompts.get("greeting")
            assert (p.version, p.source) == ("1.0.0", "network")
            assert (await c.prompts.get("greeting")).source == "cache"
            server.prompts["greeting"] = _prompt("1.1.0")
            clock.advance(61)
            assert (await c.prompts.get("greeting")).source == "stale"
            await c.wait_for_refreshes()
            assert (await c.prompts.get("greeting")).version == "1.1.0"
            out = await c.prompts.render("greeting", {"name": "Ada"})
            assert out.rendered == "Hello Ada!"
            with pytest.raises(InputError):
                await c.prompts.render("greeting", {})
            assert (await c.prompts.list()).ids() == ["greeting"]
            assert (await c.logs.create(prompt_id="greeting"))["id"] == 7
            server.down = True
            clock.advance(10**6)
            assert (await c.prompts.get("greeting")).source == "stale"
            assert (await c.prompts.get("other")).source == "fallback"
            with pytest.raises(DakoraConnectionError):
                await c.prompts.get("missing")

    asyncio.run(scenario())
    assert sum(1 for r in server.requests if r.method == "GET") == 6


# -- configuration ----------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("DAKORA_URL", "DAKORA_API_KEY", "DAKORA_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    link_path().unlink(missing_ok=True)
    return monkeypatch


def test_link_file_is_private(clean_env: pytest.MonkeyPatch) -> None:
    path = save_link("http://srv.test/", "dk_secret", "acme/web")
    assert path == Path.home() / ".config" / "dakora" / "link.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    link = load_link()
    assert link is not None
    assert (link.url, link.api_key, link.project) == (
        "http://srv.test",
        "dk_secret",
        "acme/web",
    )
    path.unlink()


def test_resolve_remote_precedence(clean_env: pytest.MonkeyPatch) -> None:
    assert resolve_remote() == (None, None, None)
    save_link("http://linked.test", "dk_linked", "ws/linked")
    try:
        assert resolve_remote() == ("http://linked.test", "dk_linked", "ws/linked")
        clean_env.setenv("DAKORA_PROJECT", "ws/env")
        assert resolve_remote() == ("http://linked.test", "dk_linked", "ws/env")
        assert resolve_remote(project="ws/flag")[2] == "ws/flag"
        clean_env.setenv("DAKORA_API_KEY", "dk_env")
        assert resolve_remote()[1] == "dk_env"
        assert resolve_remote(api_key="dk_flag")[1] == "dk_flag"
    finally:
        link_path().unlink()


def test_linked_key_never_sent_to_another_url(clean_env: pytest.MonkeyPatch) -> None:
    save_link("http://linked.test", "dk_linked", "ws/linked")
    try:
        assert resolve_remote("http://other.test") == ("http://other.test", None, None)
        assert resolve_remote("http://linked.test/")[1] == "dk_linked"
        clean_env.setenv("DAKORA_URL", "http://env.test")
        assert resolve_remote()[1] is None
    finally:
        link_path().unlink()


def test_client_resolves_from_environment(
    clean_env: pytest.MonkeyPatch, server: FakeServer
) -> None:
    clean_env.setenv("DAKORA_URL", BASE)
    clean_env.setenv("DAKORA_API_KEY", "dk_env")
    clean_env.setenv("DAKORA_PROJECT", PROJECT)
    with Dakora(transport=httpx.MockTransport(server.handler)) as c:
        c.prompts.get("greeting")
    assert server.requests[0].headers["Authorization"] == "Bearer dk_env"


def test_client_without_url_refused(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(DakoraClientError, match="DAKORA_URL"):
        Dakora()


def _me(default: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "kind": "key",
        "auth_mode": "keys",
        "projects": [],
        "default_project": default,
    }


def test_without_a_project_the_default_project_is_used(
    clean_env: pytest.MonkeyPatch, server: FakeServer
) -> None:
    asked: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/me":
            asked.append(request)
            return httpx.Response(
                200, json=_me({"id": "u-1", "workspace": "acme", "slug": "web"})
            )
        return server.handler(request)

    with Dakora(BASE, KEY, transport=httpx.MockTransport(handler)) as c:
        assert c.project is None
        assert c.prompts.get("greeting").version == "1.0.0"
        assert c.project == PROJECT
        assert "greeting" in c.prompts.list().ids()
    assert len(asked) == 1 and asked[0].headers["Authorization"] == f"Bearer {KEY}"
    assert all(r.url.path.startswith(SEG) for r in server.requests)

    async def scenario() -> None:
        async with AsyncDakora(BASE, KEY, transport=httpx.MockTransport(handler)) as a:
            await asyncio.gather(*(a.prompts.get("greeting") for _ in range(5)))
            assert a.project == PROJECT

    asyncio.run(scenario())
    assert len(asked) == 2  # once per client, however many calls race


def test_no_default_project_is_a_clear_error(clean_env: pytest.MonkeyPatch) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/me"
        return httpx.Response(200, json=_me(None))

    with (
        Dakora(BASE, None, transport=httpx.MockTransport(handler)) as c,
        pytest.raises(DakoraClientError, match="no project.*DAKORA_PROJECT"),
    ):
        c.prompts.get("greeting")


def test_default_project_lookup_unreachable_uses_the_fallback(
    clean_env: pytest.MonkeyPatch, server: FakeServer
) -> None:
    server.down = True
    fallback = {"greeting": _prompt("0.9.0")}
    with Dakora(
        BASE, KEY, transport=httpx.MockTransport(server.handler), fallback=fallback
    ) as c:
        assert c.prompts.get("greeting").source == "fallback"
        assert c.prompts.render("greeting", {"name": "Ada"}).rendered == "Hello Ada!"
        with pytest.raises(DakoraConnectionError):
            c.prompts.create("x", "1.0.0", template="x")


def test_sdk_imports_no_server_code() -> None:
    import subprocess
    import sys

    code = (
        "import sys, dakora.client\n"
        "heavy = ('dakora.registry', 'dakora.api', 'dakora.cli.', 'fastapi', "
        "'starlette', 'sqlalchemy', 'dulwich', 'jinja2', 'yaml')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
