"""``GET /metrics`` of a real ``dakora serve`` with ``DAKORA_METRICS=true``, read with
prometheus_client's own text parser: the token, requests by route template and
status, render time, pushes by result (git and API writes), cache hits, the mirror
outbox backlog; and no ``/metrics`` at all when metrics are off."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dakora.client import Dakora
from tests.fixtures.gitrepos import GitRepoBuilder, make_prompt_yaml
from tests.fixtures.server import LiveServer, ServerFactory
from tests.integration.git_server_support import run_git

TOKEN = "scrape-secret-123"
PROMPT_ROUTE = "/api/projects/{project}/prompts/{prompt_id}"
RENDER_ROUTE = "/api/projects/{project}/prompts/{prompt_id}/render"

pytestmark = [pytest.mark.integration]

METRICS_ENV = {
    "DAKORA_METRICS": "true",
    "DAKORA_METRICS_TOKEN": TOKEN,
    # no mirror worker: outbox rows stay pending (the backlog test)
    "DAKORA_MIRROR_BACKEND": "none",
}


@pytest.fixture(scope="module")
def live_server(start_live_server: ServerFactory) -> Iterator[LiveServer]:
    """This module's ``dakora serve``: metrics on, a scrape token, no mirror."""
    server = start_live_server(env=METRICS_ENV)
    try:
        yield server
    finally:
        server.close()


class Project:
    def __init__(self, server: LiveServer) -> None:
        from dakora.registry import tenancy
        from dakora.registry.core import AlreadyExists
        from dakora.registry.tenancy import keys

        engine, settings = server.engine(), server.settings()
        with contextlib.suppress(AlreadyExists):
            tenancy.create_workspace(engine, "acme")
        project = tenancy.create_project(engine, settings, "acme", "web")
        self.id = project.id
        self.write_key = keys.create_key(
            engine, settings.pepper(), project.id, scope="write"
        ).plaintext
        self.server = server

    def git_url(self) -> str:
        s = self.server
        return f"http://git:{self.write_key}@{s.host}:{s.port}/git/acme/web.git"


@pytest.fixture(scope="module")
def project(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Any:
    p = Project(live_server)
    work = tmp_path_factory.mktemp("metrics-repo")
    out = run_git(work, "clone", "-q", p.git_url(), "w")
    assert out.returncode == 0, out.stderr
    repo = GitRepoBuilder(work / "w")
    repo.write(
        "prompts/greeting.yaml",
        make_prompt_yaml(
            id="greeting",
            version="1.0.0",
            template="Hi {{ name }} x{{ n }}\n",
            inputs={"name": {"type": "string"}, "n": {"type": "number"}},
        ),
    )
    repo.commit("greeting")
    pushed = run_git(repo.path, "push", "origin", "HEAD:main")
    assert pushed.returncode == 0, pushed.stderr
    p.repo = repo
    return p


def scrape(server: LiveServer, token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(server.url("/metrics"), headers=headers, timeout=10)


def samples(server: LiveServer) -> dict[tuple[str, frozenset[Any]], float]:
    response = scrape(server)
    assert response.status_code == 200, response.text
    out: dict[tuple[str, frozenset[Any]], float] = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(
    found: dict[tuple[str, frozenset[Any]], float], name: str, **labels: str
) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_scrape_needs_the_bearer_token(live_server: LiveServer) -> None:
    assert scrape(live_server, None).status_code == 401
    assert scrape(live_server, "wrong").status_code == 401
    basic = httpx.get(
        live_server.url("/metrics"), headers={"Authorization": f"Basic {TOKEN}"}
    )
    assert basic.status_code == 401
    denied = scrape(live_server, "nope")
    assert denied.json()["error"]["code"] == "unauthenticated"
    ok = scrape(live_server)
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith("text/plain; version=")
    assert "# TYPE dakora_http_requests_total counter" in ok.text


def test_requests_by_route_template_and_status(
    live_server: LiveServer, project: Any
) -> None:
    before = samples(live_server)
    with Dakora(live_server.base_url, project.write_key, "acme/web") as c:
        c.prompts.get("greeting")
    auth = {"Authorization": f"Bearer {project.write_key}"}
    prompt_url = live_server.url("/api/projects/acme~web/prompts/greeting")
    assert httpx.get(prompt_url, headers=auth).status_code == 200
    missing = live_server.url("/api/projects/acme~web/prompts/nope-1")
    assert httpx.get(missing, headers=auth).status_code == 404
    assert httpx.get(live_server.url("/no/such/thing/42")).status_code == 404
    after = samples(live_server)

    def grew(route: str, status: str) -> float:
        key = {"route": route, "method": "GET", "status": status}
        return value(after, "dakora_http_requests_total", **key) - value(
            before, "dakora_http_requests_total", **key
        )

    assert grew(PROMPT_ROUTE, "200") == 2
    assert grew(PROMPT_ROUTE, "404") == 1
    assert grew("unmatched", "404") == 1
    hist = {"route": PROMPT_ROUTE, "method": "GET"}
    count = value(after, "dakora_http_request_duration_seconds_count", **hist)
    inf = value(after, "dakora_http_request_duration_seconds_bucket", **hist, le="+Inf")
    assert count >= 3 and inf == count
    routes = {dict(labels).get("route") for _, labels in after}
    assert not [r for r in routes if r and ("acme" in r or "greeting" in r)], routes


def test_render_time_and_the_cache(live_server: LiveServer, project: Any) -> None:
    before = samples(live_server)
    with Dakora(live_server.base_url, project.write_key, "acme/web", cache_ttl=0) as c:
        out = c.prompts.render("greeting", {"name": "Ada", "n": "2"})
        assert out.rendered == "Hi Ada x2\n"
        c.prompts.get("greeting")
        c.prompts.get("greeting")
    after = samples(live_server)
    renders = value(after, "dakora_render_duration_seconds_count") - value(
        before, "dakora_render_duration_seconds_count"
    )
    assert renders == 1
    key = {"route": RENDER_ROUTE, "method": "POST", "status": "200"}
    assert value(after, "dakora_http_requests_total", **key) >= 1
    hits = value(after, "dakora_cache_hits_total")
    assert hits > value(before, "dakora_cache_hits_total")
    misses = value(after, "dakora_cache_misses_total")
    assert value(after, "dakora_cache_hit_ratio") == pytest.approx(
        hits / (hits + misses)
    )


def test_pushes_by_result(live_server: LiveServer, project: Any) -> None:
    before = samples(live_server)
    repo = project.repo
    run_git(repo.path, "pull", "-q", "--rebase", "origin", "main")
    repo.write(
        "prompts/greeting.yaml",
        make_prompt_yaml(
            id="greeting",
            version="1.1.0",
            template="Hello {{ name }} x{{ n }}\n",
            inputs={"name": {"type": "string"}, "n": {"type": "number"}},
        ),
    )
    repo.commit("greeting: hello")
    assert run_git(repo.path, "push", "origin", "HEAD:main").returncode == 0
    repo.write(
        "prompts/bad.yaml",
        make_prompt_yaml(id="bad", version="1.0.0", template="Hi {{ nmae }}\n"),
    )
    repo.commit("a typo")
    assert run_git(repo.path, "push", "origin", "HEAD:main").returncode != 0
    with Dakora(live_server.base_url, project.write_key, "acme/web") as c:
        c.prompts.create("fresh", "1.0.0", template="Fresh\n")  # an API write
    after = samples(live_server)

    def grew(result: str) -> float:
        return value(after, "dakora_pushes_total", result=result) - value(
            before, "dakora_pushes_total", result=result
        )

    assert (grew("accepted"), grew("rejected")) == (2, 1)


def test_mirror_outbox_backlog_and_lag(live_server: LiveServer, project: Any) -> None:
    from dakora.registry.db import mirror_outbox, transaction, utcnow

    an_hour_ago = utcnow() - timedelta(hours=1)
    engine = live_server.engine()
    before = samples(live_server)
    with transaction(engine) as conn:
        conn.execute(
            mirror_outbox.insert().values(
                project_id=project.id,
                kind="sync",
                payload={"versions": []},
                attempts=0,
                next_attempt_at=an_hour_ago,
                created_at=an_hour_ago,
            )
        )
    after = samples(live_server)
    assert value(after, "dakora_mirror_outbox_pending") == (
        value(before, "dakora_mirror_outbox_pending") + 1
    )
    assert value(after, "dakora_mirror_lag_seconds") >= 3600


def test_webhook_delivery_series_exist(live_server: LiveServer) -> None:
    found = samples(live_server)
    for result in ("delivered", "failed", "gave_up"):
        assert ("dakora_webhook_deliveries_total", frozenset({("result", result)})) in (
            found
        )


def test_no_metrics_route_when_off(
    start_live_server: ServerFactory, tmp_path: Path
) -> None:
    server = start_live_server(tmp_path / "off")
    try:
        assert httpx.get(server.url("/metrics")).status_code == 404
    finally:
        server.close()
