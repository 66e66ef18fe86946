"""OpenTelemetry with the real SDK and an in-memory span exporter.

- The Python SDK sets ``gen_ai.prompt.name`` / ``gen_ai.prompt.version`` and the
  commit on the caller's span for ``get`` and ``render`` (a live ``dakora serve``;
  also offline, from the fallback).
- The server, given a tracer provider, makes ``dakora.render`` and ``dakora.push``
  spans (the app in this process, started through its lifespan by Starlette's test
  client, so the spans land in this process's exporter).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from dakora.client import Dakora
from tests.fixtures.gitrepos import GitRepoBuilder, make_prompt_yaml
from tests.fixtures.server import LiveServer

pytestmark = pytest.mark.integration

EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module")
def provider() -> TracerProvider:
    """The process's tracer provider (set once; OpenTelemetry refuses a second)."""
    current = trace.get_tracer_provider()
    if not isinstance(current, TracerProvider):
        trace.set_tracer_provider(TracerProvider())
        current = trace.get_tracer_provider()
    assert isinstance(current, TracerProvider)
    current.add_span_processor(SimpleSpanProcessor(EXPORTER))
    return current


@pytest.fixture
def spans(provider: TracerProvider) -> Iterator[InMemorySpanExporter]:
    EXPORTER.clear()
    yield EXPORTER
    EXPORTER.clear()


@pytest.fixture(scope="module")
def served(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Any:
    repo = GitRepoBuilder.init(tmp_path_factory.mktemp("trace") / "repo")
    repo.write(
        "prompts/greeting.yaml",
        make_prompt_yaml(
            id="greeting",
            version="1.2.0",
            template="Hi {{ name }} x{{ n }}\n",
            inputs={"name": {"type": "string"}, "n": {"type": "number"}},
        ),
    )
    commit = repo.commit("greeting")
    live_server.create_project("trace", "demo", from_path=repo.path)
    key = live_server.create_key("trace/demo", "read")["key"]
    return live_server, key, commit


def test_sdk_get_and_render_annotate_the_current_span(
    served: Any, spans: InMemorySpanExporter
) -> None:
    server, key, commit = served
    tracer = trace.get_tracer("app")
    with Dakora(server.base_url, key, "trace/demo") as c:
        with tracer.start_as_current_span("fetch"):
            prompt = c.prompts.get("greeting")
        with tracer.start_as_current_span("answer"):
            out = c.prompts.render("greeting", {"name": "Ada", "n": "3"})
    assert prompt.commit == commit and out.rendered == "Hi Ada x3\n"
    by_name = {s.name: dict(s.attributes or {}) for s in spans.get_finished_spans()}
    expected = {
        "gen_ai.prompt.name": "greeting",
        "gen_ai.prompt.version": "1.2.0",
        "dakora.prompt.commit": commit,
        "dakora.prompt.source": "network",
    }
    assert by_name["fetch"] == expected
    assert by_name["answer"] == expected


def test_sdk_offline_render_annotates_the_span_too(
    served: Any, spans: InMemorySpanExporter
) -> None:
    _, key, _ = served
    fallback = {
        "greeting": {
            "id": "greeting",
            "version": "1.2.0",
            "template": "Hi {{ name }}",
            "inputs": {"name": {"type": "string"}},
        }
    }
    tracer = trace.get_tracer("app")
    with (
        Dakora("http://127.0.0.1:9", key, "trace/demo", fallback=fallback) as c,
        tracer.start_as_current_span("offline"),
    ):
        assert c.prompts.render("greeting", {"name": 5}).rendered == "Hi 5"
    (span,) = spans.get_finished_spans()
    assert dict(span.attributes or {}) == {
        "gen_ai.prompt.name": "greeting",
        "gen_ai.prompt.version": "1.2.0",
        "dakora.prompt.source": "fallback",
    }


def test_sdk_without_a_span_is_a_no_op(
    served: Any, spans: InMemorySpanExporter
) -> None:
    server, key, _ = served
    with Dakora(server.base_url, key, "trace/demo") as c:
        assert c.prompts.get("greeting").version == "1.2.0"
    assert spans.get_finished_spans() == ()


@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[tuple[httpx.Client, str]]:
    """The server app run by uvicorn in a thread of this process (SQLite under
    tmp_path), and a write key of project acme/web."""
    import uvicorn

    from dakora.api.app import create_app
    from dakora.registry import tenancy
    from dakora.registry.core import AlreadyExists, Settings
    from dakora.registry.tenancy import keys
    from tests.fixtures.server import free_port

    port = free_port()
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'data' / 'dakora.db'}",
        mirror_backend="none",
        render_workers=1,
        port=port,
    )
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        ready = threading.Event()
        for _ in range(600):  # until the lifespan ran (bounded, not timed)
            if server.started:
                ready.set()
                break
            thread.join(0.05)
        assert ready.is_set(), "the in-process server did not start"
        engine = app.state.dakora.engine
        with contextlib.suppress(AlreadyExists):
            tenancy.create_workspace(engine, "acme")
        project = tenancy.create_project(engine, settings, "acme", "web")
        key = keys.create_key(
            engine, settings.pepper(), project.id, scope="write"
        ).plaintext
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client, key
    finally:
        server.should_exit = True
        thread.join(30)


def test_server_spans_for_push_and_render(
    app_client: tuple[httpx.Client, str], spans: InMemorySpanExporter
) -> None:
    client, key = app_client
    auth = {"Authorization": f"Bearer {key}"}
    base = "/api/projects/acme~web/prompts"
    written = client.post(
        base,
        json={
            "id": "greeting",
            "version": "1.0.0",
            "template": "Hi {{ name }}",
            "inputs": {"name": {"type": "string"}},
        },
        headers=auth,
    )
    assert written.status_code == 201, written.text
    commit = written.json()["commit"]
    rendered = client.post(
        f"{base}/greeting/render", json={"inputs": {"name": "Ada"}}, headers=auth
    )
    assert rendered.status_code == 200, rendered.text
    refused = client.post(f"{base}/greeting/render", json={"inputs": {}}, headers=auth)
    assert refused.status_code == 422
    finished = spans.get_finished_spans()
    pushes = [s for s in finished if s.name == "dakora.push"]
    renders = [s for s in finished if s.name == "dakora.render"]
    assert len(pushes) == 1 and len(renders) == 2
    push = dict(pushes[0].attributes or {})
    assert push["dakora.push.accepted"] is True
    assert push["dakora.push.source"] == "api"
    assert push["dakora.project"] == "acme/web"
    ok = dict(renders[0].attributes or {})
    assert ok == {
        "gen_ai.prompt.name": "greeting",
        "gen_ai.prompt.version": "1.0.0",
        "dakora.prompt.commit": commit,
        "dakora.prompt.ref": "main",
        "dakora.project": "acme/web",
    }
    failed = renders[1]
    assert failed.status.status_code == trace.StatusCode.ERROR
    assert dict(failed.attributes or {})["gen_ai.prompt.name"] == "greeting"
