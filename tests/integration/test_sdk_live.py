"""The SDK against a real ``dakora serve`` (SQLite): fetch, ETag/304, render, logs,
errors, stale-while-revalidate, offline fallback, the async twin and ``dakora link``."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from dakora.client import (
    AsyncDakora,
    AuthError,
    Dakora,
    DakoraConnectionError,
    InputError,
    NotFound,
)
from dakora.client.config import link_path, resolve_remote
from tests.fixtures.gitrepos import GitRepoBuilder
from tests.fixtures.server import LiveServer

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[2] / "sample-repo"
PROJECT = "sdk/demo"


class Recorder(httpx.BaseTransport):
    """A real HTTP transport that logs (method, path, status, If-None-Match) and can
    pretend the network is down."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.log: list[tuple[str, str, int, str | None]] = []
        self.down = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("network down", request=request)
        response = self.inner.handle_request(request)
        self.log.append(
            (
                request.method,
                request.url.path,
                response.status_code,
                request.headers.get("If-None-Match"),
            )
        )
        return response

    def close(self) -> None:
        self.inner.close()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


PROBE_V1 = """\
id: probe
version: "1.0.0"
description: SDK probe
template: |
  Probe v1 for {{ who }}.
  Max {{ n }}.
inputs:
  who: {type: string}
  n: {type: number, default: 3}
"""
PROBE_V2 = """\
id: probe
version: "1.1.0"
description: SDK probe, second version
template: |
  Probe v2 for {{ who }}.
  {% include "sdk/sig" %}
  Max {{ n }}.
inputs:
  who: {type: string}
  n: {type: number, default: 3}
"""
PROBE_CHAT = """\
id: probe-chat
version: "1.0.0"
description: SDK chat probe
messages:
  - role: system
    content: "{% include 'sdk/sig' %}"
  - role: user
    content: "Order {{ order.id }}: {{ reason | default('none given') }}"
inputs:
  order: {type: object}
  reason: {type: string, required: false}
"""
SIG = "Signed by the SDK test."  # no newline: the include is on its own line


@dataclass
class Env:
    server: LiveServer
    repo: Path
    project_id: str
    read_key: str
    write_key: str
    old_commit: str
    new_commit: str
    prompt_count: int


@pytest.fixture(scope="module")
def env(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Env:
    repo = GitRepoBuilder.init(tmp_path_factory.mktemp("sdkrepo") / "prompts-repo")
    for item in SAMPLE.iterdir():
        target = repo.path / item.name
        if item.is_dir():
            shutil.copytree(item, target)
        else:
            shutil.copy2(item, target)
    repo.git("add", "-A")
    repo.write("prompts/sdk/probe.yaml", PROBE_V1)
    repo.write("prompts/sdk/probe-chat.yaml", PROBE_CHAT)
    repo.write("parts/sdk/sig.txt", SIG)
    old = repo.commit("sample prompts and the SDK probes")
    repo.branch("production")
    repo.write("prompts/sdk/probe.yaml", PROBE_V2)
    new = repo.commit("probe: second version")
    count = len(
        [*repo.path.glob("prompts/**/*.yaml"), *repo.path.glob("prompts/**/*.yml")]
    )
    project = live_server.create_project("sdk", "demo", from_path=repo.path)
    read_key = live_server.create_key(PROJECT, "read")["key"]
    write_key = live_server.create_key(PROJECT, "write")["key"]
    return Env(
        live_server, repo.path, project["id"], read_key, write_key, old, new, count
    )


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()
    yield rec
    rec.close()


def _client(env: Env, recorder: Recorder, **kw: Any) -> Dakora:
    kw.setdefault("project", PROJECT)
    kw.setdefault("api_key", env.read_key)
    return Dakora(env.server.base_url, transport=recorder, **kw)


def test_list_and_get_by_selector(env: Env, recorder: Recorder) -> None:
    with _client(env, recorder) as c:
        listing = c.prompts.list()
        assert {"probe", "probe-chat"} <= set(listing.ids())
        assert len(listing) == env.prompt_count
        assert listing.commit == env.new_commit
        assert c.prompts.list(ref="production").commit == env.old_commit

        latest = c.prompts.get("probe")
        assert (latest.version, latest.commit) == ("1.1.0", env.new_commit)
        assert latest.template is not None and "Probe v2" in latest.template
        assert latest.inputs["n"] == {"type": "number", "default": 3}
        assert latest.kind == "text" and latest.etag
        assert c.prompts.get("probe", ref="production").version == "1.0.0"
        assert c.prompts.get("probe", version="1.0.0").commit == env.old_commit
        assert c.prompts.get("probe", commit=env.old_commit).version == "1.0.0"
        chat = c.prompts.get("probe-chat")
        assert chat.kind == "chat" and chat.messages is not None


def test_project_uuid_works_too(env: Env, recorder: Recorder) -> None:
    with _client(env, recorder, project=env.project_id) as c:
        assert c.prompts.get("probe").version == "1.1.0"


def test_etag_revalidation_gets_304(env: Env, recorder: Recorder) -> None:
    with _client(env, recorder, cache_ttl=0, stale_ttl=0) as c:
        first = c.prompts.get("probe")
        second = c.prompts.get("probe")
    assert second == first
    gets = [entry for entry in recorder.log if entry[1].endswith("/probe")]
    assert [(status, inm) for _, _, status, inm in gets] == [
        (200, None),
        (304, first.etag),
    ]


def test_stale_while_revalidate_against_server(env: Env, recorder: Recorder) -> None:
    clock = Clock()
    with _client(env, recorder, cache_ttl=60, stale_ttl=300, clock=clock) as c:
        assert c.prompts.get("probe-chat").source == "network"
        assert c.prompts.get("probe-chat").source == "cache"
        clock.now = 100
        assert c.prompts.get("probe-chat").source == "stale"
        c.wait_for_refreshes()
        assert c.prompts.get("probe-chat").source == "cache"
    statuses = [s for _, path, s, _ in recorder.log if path.endswith("/probe-chat")]
    assert statuses == [200, 304]


def test_render_text_and_chat(env: Env, recorder: Recorder) -> None:
    with _client(env, recorder) as c:
        out = c.prompts.render("probe", {"who": "Ada", "n": "2"})
        assert out.rendered == "Probe v2 for Ada.\n" + SIG + "\nMax 2.\n"
        assert out.inputs_used == {"who": "Ada", "n": 2}
        assert (out.version, out.commit) == ("1.1.0", env.new_commit)
        old = c.prompts.render("probe", {"who": "Bo"}, version="1.0.0")
        assert old.rendered == "Probe v1 for Bo.\nMax 3.\n"
        chat = c.prompts.render(
            "probe-chat", {"order": {"id": "ord_1"}}, ref="production"
        )
        assert chat.messages == [
            {"role": "system", "content": SIG},
            {"role": "user", "content": "Order ord_1: none given"},
        ]


def test_input_errors_list_every_problem(env: Env, recorder: Recorder) -> None:
    with _client(env, recorder) as c, pytest.raises(InputError) as info:
        c.prompts.render("probe", {"n": "many", "woh": "typo"})
    err = info.value
    assert err.status == 422 and err.code == "invalid_inputs"
    assert {"n", "woh", "who"} <= {p["input"] for p in err.problems}


def test_not_found_and_auth_errors(env: Env, recorder: Recorder) -> None:
    with _client(env, recorder) as c:
        with pytest.raises(NotFound) as info:
            c.prompts.get("no-such-prompt")
        assert info.value.code == "prompt_not_found"
        with pytest.raises(NotFound):
            c.prompts.get("probe", version="9.9.9")
    with _client(env, recorder, api_key="dk_not_a_real_key") as c:
        with pytest.raises(AuthError) as auth:
            c.prompts.get("probe")
        assert auth.value.status == 401
    with _client(env, recorder, project="sdk/other") as c, pytest.raises(NotFound):
        c.prompts.list()


def test_logs_need_a_write_key(env: Env, recorder: Recorder) -> None:
    with _client(env, recorder, api_key=env.write_key) as c:
        created = c.logs.create(
            prompt_id="probe",
            version="1.1.0",
            inputs={"who": "Ada"},
            output="A summary.",
            provider="openai",
            model="gpt-4o-mini",
            tokens_in=12,
            tokens_out=4,
            cost=0.0001,
            latency_ms=321,
        )
        assert created["log"]["tokens_in"] == 12
        assert created["quota"]["tokens_used"] >= 16
        page = c.logs.list(prompt_id="probe")
        assert any(log["output"] == "A summary." for log in page["logs"])
    with _client(env, recorder) as c, pytest.raises(AuthError) as info:
        c.logs.create(prompt_id="probe", tokens_in=1)
    assert info.value.status == 403


def test_network_down_serves_cache_then_fallback(env: Env, recorder: Recorder) -> None:
    clock = Clock()
    with _client(env, recorder, clock=clock, fallback=env.repo) as c:
        fetched = c.prompts.get("probe", ref="production")
        recorder.down = True
        clock.now = 10**6
        stale = c.prompts.get("probe", ref="production")
        assert (stale.version, stale.source) == (fetched.version, "stale")
        offline = c.prompts.render("probe", {"who": "Cy"}, ref="production")
        assert offline.source == "stale"  # rendered from the cached 1.0.0
        assert offline.rendered == "Probe v1 for Cy.\nMax 3.\n"
        assert c.prompts.get("probe-chat").source == "fallback"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_server_uses_fallback_folder(env: Env) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    with Dakora(url, "dk_x", PROJECT, timeout=2, fallback=env.repo) as c:
        out = c.prompts.render("probe", {"who": "Di", "n": 1})
        assert out.source == "fallback" and out.version == "1.1.0"
        assert out.rendered == "Probe v2 for Di.\n" + SIG + "\nMax 1.\n"
    with (
        Dakora(url, "dk_x", PROJECT, timeout=2) as c,
        pytest.raises(DakoraConnectionError),
    ):
        c.prompts.get("probe")


def test_async_client(env: Env) -> None:
    async def scenario() -> None:
        async with AsyncDakora(env.server.base_url, env.read_key, PROJECT) as c:
            listing = await c.prompts.list()
            assert "probe" in listing.ids()
            p = await c.prompts.get("probe", ref="production")
            assert p.version == "1.0.0"
            again = await c.prompts.get("probe", ref="production")
            assert again.source == "cache"
            out = await c.prompts.render("probe", {"who": "Async"})
            assert out.rendered is not None and "Probe v2 for Async." in out.rendered
            with pytest.raises(InputError):
                await c.prompts.render("probe", {})

    asyncio.run(scenario())


def test_dakora_link_then_resolve_and_render_remote(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dakora.cli import commands  # noqa: F401  (registers the commands)
    from dakora.cli.link import render_remote
    from dakora.cli.main import app

    for name in ("DAKORA_URL", "DAKORA_API_KEY", "DAKORA_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    result = runner.invoke(
        app, ["link", env.server.base_url, "--api-key", env.read_key, "--json"]
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["project"] == PROJECT  # learned from the key via /api/me
    assert env.read_key not in result.stdout
    path = link_path()
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert resolve_remote() == (env.server.base_url, env.read_key, PROJECT)
        text = render_remote("probe", cli_values={"who": "Linked", "n": "1"})
        assert text == "Probe v2 for Linked.\n" + SIG + "\nMax 1.\n"
        chat = render_remote(
            "probe-chat",
            file_values={"reason": "broken"},
            cli_values={"order": '{"id": "ord_9"}'},
            ref="production",
        )
        assert chat == [
            {"role": "system", "content": SIG},
            {"role": "user", "content": "Order ord_9: broken"},
        ]

        bad = runner.invoke(app, ["link", env.server.base_url, "--api-key", "dk_bad"])
        assert bad.exit_code == 1 and "invalid" in bad.output.lower()
        shown_again = runner.invoke(app, ["link"])
        assert env.read_key[-4:] in shown_again.stdout
        assert env.read_key not in shown_again.stdout
    finally:
        removed = runner.invoke(app, ["link", "--remove"])
        assert removed.exit_code == 0
    assert not path.exists()
