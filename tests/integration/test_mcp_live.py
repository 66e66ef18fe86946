"""MCP against a real ``dakora serve`` (SQLite and PostgreSQL), with the ``mcp`` SDK's
own client: ``prompts/list`` with typed arguments, ``prompts/get`` with ``-i``
coercion and chat roles, clear errors naming the input, ``?ref=``, key auth and
tenancy, the render budgets, and ``notifications/prompts/list_changed`` after an API
write (handshake-era session) and after a git push (2026-07-28 ``subscriptions/listen``).

Every wait is bounded (``anyio.fail_after``): a regression is a red test, never a hang.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
import yaml
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from tests.fixtures.gitrepos import GitRepoBuilder
from tests.fixtures.server import LiveServer

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("live_server", ["sqlite", "postgresql"], indirect=True),
]

SAMPLE = Path(__file__).resolve().parents[2] / "sample-repo"
PROJECT = "mcp~demo"
WAIT_S = 60  # upper bound of every wait below (never asserted on)

LOOPS = """\
id: loops
version: "1.0.0"
description: A hostile template, for the render budget
template: "{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}"
inputs:
  s: {type: string}
"""
ADDED = """\
id: added-later
version: "1.0.0"
description: Pushed while a client is connected
template: "Hello {{ who }}"
inputs:
  who: {type: string, description: Who to greet}
"""


@dataclass
class Env:
    server: LiveServer
    repo: GitRepoBuilder
    read_key: str
    write_key: str
    other_key: str
    sample_ids: set[str]

    def url(self, project: str = PROJECT, query: str = "") -> str:
        return self.server.url(f"/mcp/{project}") + query

    def git_url(self) -> str:
        return (
            f"http://git:{self.write_key}@{self.server.host}:{self.server.port}"
            "/git/mcp/demo.git"
        )


@pytest.fixture(scope="module")
def env(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Env:
    repo = GitRepoBuilder.init(tmp_path_factory.mktemp("mcprepo") / "prompts-repo")
    for item in SAMPLE.iterdir():
        target = repo.path / item.name
        if item.is_dir():
            shutil.copytree(item, target)
        else:
            shutil.copy2(item, target)
    repo.git("add", "-A")
    repo.write("prompts/loops.yaml", LOOPS)
    repo.commit("the sample prompts and a hostile template")
    repo.branch("production")
    summarize = "prompts/general/summarize.yaml"
    text = (repo.path / summarize).read_text()
    repo.write(summarize, text.replace('version: "2.2.1"', 'version: "2.3.0"'))
    repo.commit("summarize: 2.3.0 on main only")
    live_server.create_project("mcp", "demo", from_path=repo.path)
    live_server.create_project("mcp", "other")
    ids = {
        yaml.safe_load(p.read_text())["id"] for p in SAMPLE.glob("prompts/**/*.yaml")
    }
    return Env(
        live_server,
        repo,
        live_server.create_key("mcp/demo", "read")["key"],
        live_server.create_key("mcp/demo", "write")["key"],
        live_server.create_key("mcp/other", "read")["key"],
        ids,
    )


@asynccontextmanager
async def connect(
    url: str, key: str, *, mode: str = "auto", **kw: Any
) -> AsyncIterator[Client]:
    """The SDK's Client over streamable HTTP, with the key as a Bearer token."""
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        create_mcp_http_client(headers=headers) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode, **kw) as c,
    ):
        yield c


def run(fn: Callable[[], Any]) -> Any:
    return anyio.run(fn)


def _dump(result: Any) -> dict[str, Any]:
    data: dict[str, Any] = result.model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    return data


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_list_prompts_has_typed_arguments(env: Env, mode: str) -> None:
    async def go() -> types.ListPromptsResult:
        async with connect(env.url(), env.read_key, mode=mode) as c:
            return await c.list_prompts()

    result = run(go)
    if os.environ.get("MCP_LIST_DUMP"):  # the report's sample response
        Path(os.environ["MCP_LIST_DUMP"]).write_text(
            json.dumps(_dump(result), indent=2)
        )
    by_name = {p.name: p for p in result.prompts}
    assert env.sample_ids <= set(by_name)
    refund = by_name["refund-decision"]
    assert refund.description == (
        "Decide whether an order qualifies for a refund under the refund policy."
    )
    args = {a.name: a for a in refund.arguments or []}
    assert list(args) == ["order", "policy_days", "reason"]
    assert (args["order"].required, args["policy_days"].required) == (True, False)
    assert args["reason"].required is False
    assert args["order"].description is not None
    assert args["order"].description.startswith("The order as stored")
    assert "Type: object" in args["order"].description
    assert "Default: 30." in (args["policy_days"].description or "")
    assert refund.meta is not None
    assert refund.meta["dakora/prompt"]["inputs"]["policy_days"] == {
        "type": "number",
        "default": 30,
        "description": "Length of the refund window",
    }


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_get_prompt_coerces_and_keeps_roles(env: Env, mode: str) -> None:
    async def go() -> tuple[types.GetPromptResult, types.GetPromptResult]:
        async with connect(env.url("mcp/demo"), env.read_key, mode=mode) as c:
            chat = await c.get_prompt(
                "refund-decision",
                {"order": '{"id": "ord_1", "total": 49}', "policy_days": "14"},
            )
            text = await c.get_prompt(
                "summarize", {"text": "The launch moved.", "max_sentences": "2"}
            )
            return chat, text

    chat, text = run(go)
    roles = [(m.role, (m.content.meta or {}).get("dakora/role")) for m in chat.messages]
    assert roles == [("user", "system"), ("user", None)]
    system, user = (m.content for m in chat.messages)
    assert isinstance(system, types.TextContent) and "14-day" in system.text
    assert isinstance(user, types.TextContent)
    assert "id: ord_1" in user.text and "total: 49" in user.text
    assert chat.meta is not None and chat.meta["dakora/prompt"]["version"] == "1.0.0"
    assert len(text.messages) == 1 and text.messages[0].role == "user"
    body = text.messages[0].content
    assert isinstance(body, types.TextContent)
    assert "Use 2 sentences or fewer." in body.text
    assert text.meta is not None and text.meta["dakora/prompt"]["version"] == "2.3.0"


def test_bad_arguments_are_mcp_errors_naming_the_input(env: Env) -> None:
    async def go() -> list[MCPError]:
        errors = []
        async with connect(env.url(), env.read_key) as c:
            for name, args in [
                ("refund-decision", {"order": "[1]", "policy_days": "two weeks"}),
                ("refund-decision", {}),
                ("summarize", {"text": "x", "colour": "red"}),
                ("no-such-prompt", {}),
            ]:
                with pytest.raises(MCPError) as caught:
                    await c.get_prompt(name, args)
                errors.append(caught.value)
        return errors

    bad_type, missing, unknown, no_prompt = run(go)
    assert bad_type.code == types.INVALID_PARAMS
    assert "input 'order': expected object" in bad_type.message
    assert "input 'policy_days': expected number, got 'two weeks'" in bad_type.message
    assert [p["input"] for p in bad_type.data["problems"]] == ["order", "policy_days"]
    assert "missing required input 'order' (object)" in missing.message
    assert unknown.code == types.INVALID_PARAMS
    assert "unknown input 'colour'" in unknown.message
    assert no_prompt.code == types.INVALID_PARAMS
    assert no_prompt.data["code"] == "prompt_not_found"


def test_render_budget_applies(env: Env) -> None:
    async def go() -> MCPError:
        async with connect(env.url(), env.read_key) as c:
            with pytest.raises(MCPError) as caught:
                await c.get_prompt("loops", {"s": "x" * 20000})
            # the server is fine afterwards
            ok = await c.get_prompt("loops", {"s": "ab"})
            assert ok.messages[0].role == "user"
            return caught.value

    error = run(go)
    assert error.code == types.INTERNAL_ERROR
    assert error.data["code"] == "render_limit"
    assert error.data["details"]["limit"]


def test_ref_query_serves_that_branch(env: Env) -> None:
    async def go() -> tuple[types.ListPromptsResult, types.GetPromptResult]:
        async with connect(env.url(query="?ref=production"), env.read_key) as c:
            return await c.list_prompts(), await c.get_prompt(
                "summarize", {"text": "x"}
            )

    listing, got = run(go)
    summarize = next(p for p in listing.prompts if p.name == "summarize")
    assert summarize.meta is not None
    assert summarize.meta["dakora/prompt"]["version"] == "2.2.1"
    assert got.meta is not None and got.meta["dakora/prompt"]["ref"] == "production"

    async def bad_ref() -> MCPError:
        async with connect(env.url(query="?ref=nope"), env.read_key) as c:
            with pytest.raises(MCPError) as caught:
                await c.list_prompts()
            return caught.value

    error = run(bad_ref)
    assert error.code == types.INVALID_PARAMS and "nope" in error.message


def test_auth_and_tenancy_are_the_apis(env: Env) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    with httpx.Client(base_url=env.server.base_url, timeout=30) as http:
        anon = http.post(f"/mcp/{PROJECT}", json=body)
        assert anon.status_code == 401
        assert anon.json()["error"]["code"] == "unauthenticated"
        other = http.post(
            f"/mcp/{PROJECT}",
            json=body,
            headers={"Authorization": f"Bearer {env.other_key}"},
        )
        assert other.status_code == 404
        assert other.json()["error"]["code"] == "project_not_found"
        typo = http.post(
            f"/mcp/{PROJECT}?rev=main",
            json=body,
            headers={"Authorization": f"Bearer {env.read_key}"},
        )
        assert typo.status_code == 400 and "'rev'" in typo.json()["error"]["message"]
        rebound = http.post(  # DNS rebinding: a loopback server wants a loopback Host
            f"/mcp/{PROJECT}",
            json=body,
            headers={
                "Authorization": f"Bearer {env.read_key}",
                "Host": "evil.example",
            },
        )
        assert rebound.status_code == 421

    async def other_project() -> list[str]:
        async with connect(env.url("mcp~other"), env.other_key) as c:
            return [p.name for p in (await c.list_prompts()).prompts]

    assert run(other_project) == []  # its own (empty) project, never mcp/demo's


def _api_write(env: Env, prompt_id: str, text: str) -> None:
    with env.server.client(env.write_key) as http:
        r = http.post("/api/projects/mcp~demo/prompts", json={"yaml": text})
    assert r.status_code == 201, r.text


def test_list_changed_after_an_api_write(env: Env) -> None:
    """A handshake-era session hears it on its standalone stream."""
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.PromptListChangedNotification):
            changed.set()

    async def go() -> list[str]:
        async with connect(
            env.url(), env.read_key, mode="legacy", message_handler=on_message
        ) as c:
            before = [p.name for p in (await c.list_prompts()).prompts]
            assert "added-later" not in before
            await anyio.to_thread.run_sync(_api_write, env, "added-later", ADDED)
            with anyio.fail_after(WAIT_S):
                await changed.wait()
            return [p.name for p in (await c.list_prompts()).prompts]

    assert "added-later" in run(go)


def test_list_changed_after_a_git_push_on_a_listen_stream(env: Env) -> None:
    """A 2026-07-28 client hears it on its ``subscriptions/listen`` stream."""
    env.repo.git("pull", "-q", env.git_url(), "main")
    env.repo.write(
        "prompts/pushed.yaml",
        ADDED.replace("added-later", "pushed").replace("Hello", "Hi"),
    )
    env.repo.commit("a prompt pushed while a client listens")

    def push() -> None:
        env.repo.git("push", "-q", env.git_url(), "HEAD:main")

    async def go() -> list[str]:
        async with connect(env.url(), env.read_key, mode="auto") as c:
            before = [p.name for p in (await c.list_prompts()).prompts]
            assert "pushed" not in before
            async with c.listen(prompts_list_changed=True) as sub:
                await anyio.to_thread.run_sync(push)
                with anyio.fail_after(WAIT_S):
                    async for _event in sub:
                        break
            return [p.name for p in (await c.list_prompts()).prompts]

    assert "pushed" in run(go)


def test_a_session_belongs_to_its_caller_project_and_ref(env: Env) -> None:
    """The SDK refuses a session id presented by another key or for another ref (the
    endpoint names the owner); raw HTTP here, only to replay the session id."""
    second_key = env.server.create_key("mcp/demo", "read")["key"]
    accept = {"Accept": "application/json, text/event-stream"}
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "replay", "version": "0"},
        },
    }
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}

    def auth(key: str) -> dict[str, str]:
        return {**accept, "Authorization": f"Bearer {key}"}

    with httpx.Client(base_url=env.server.base_url, timeout=30) as http:
        opened = http.post(f"/mcp/{PROJECT}", json=init, headers=auth(env.read_key))
        assert opened.status_code == 200, opened.text
        session = {"Mcp-Session-Id": opened.headers["mcp-session-id"]}
        for path, key in [
            (f"/mcp/{PROJECT}", second_key),
            (f"/mcp/{PROJECT}?ref=production", env.read_key),
        ]:
            r = http.post(path, json=ping, headers={**auth(key), **session})
            assert r.status_code == 404, (path, r.text)
        own = http.post(
            f"/mcp/{PROJECT}", json=ping, headers={**auth(env.read_key), **session}
        )
        assert own.status_code == 200, own.text
