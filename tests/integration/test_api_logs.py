"""Execution logs: write, filter, page; the workspace's monthly token quota (429) and
its rollover into a new month — on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from tests.fixtures.server import LiveServer
from tests.integration.api_support import import_project, new_key

LIMIT = 1000

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize(
        "live_server",
        [
            {"db": "sqlite", "env": {"DAKORA_QUOTA_TIERS": f'{{"free": {LIMIT}}}'}},
            {"db": "postgresql", "env": {"DAKORA_QUOTA_TIERS": f'{{"free": {LIMIT}}}'}},
        ],
        indirect=True,
        ids=["sqlite", "postgresql"],
    ),
]


@dataclass(frozen=True)
class Logs:
    server: LiveServer
    project: str
    sibling: str  # another project of the same workspace (shares the quota)
    write_key: str
    read_key: str
    sibling_key: str


@pytest.fixture(scope="module")
def setup(live_server: LiveServer) -> Logs:
    project = import_project(live_server, "quota", "one", None)
    sibling = import_project(live_server, "quota", "two", None)
    write_key, _ = new_key(live_server, project, "write")
    read_key, _ = new_key(live_server, project, "read")
    sibling_key, _ = new_key(live_server, sibling, "write")
    return Logs(live_server, project, sibling, write_key, read_key, sibling_key)


@pytest.fixture
def c(setup: Logs) -> Iterator[httpx.Client]:
    with setup.server.client(setup.write_key) as client:
        yield client


def _post(client: httpx.Client, project: str, **fields: Any) -> httpx.Response:
    return client.post(f"/api/projects/{project}/logs", json=fields)


def _reset_quota(setup: Logs) -> None:
    from dakora.registry.db import projects, workspace_quotas

    engine = setup.server.engine()
    with engine.begin() as conn:
        ws = conn.execute(
            select(projects.c.workspace_id).where(projects.c.id == setup.project)
        ).scalar_one()
        conn.execute(
            update(workspace_quotas)
            .where(workspace_quotas.c.workspace_id == ws)
            .values(tokens_used=0)
        )


def test_create_log_returns_it_with_the_quota(setup: Logs, c: httpx.Client) -> None:
    _reset_quota(setup)
    r = _post(
        c,
        setup.project,
        prompt_id="support-reply",
        version="1.2.0",
        inputs={"customer": "Ada"},
        output="Hello Ada",
        provider="openai",
        model="gpt-4o-mini",
        tokens_in=12,
        tokens_out=30,
        cost=0.0004,
        latency_ms=812,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    log = body["log"]
    assert log["project_id"] == setup.project
    assert (log["prompt_id"], log["version"]) == ("support-reply", "1.2.0")
    assert log["inputs"] == {"customer": "Ada"}
    assert (log["tokens_in"], log["tokens_out"], log["latency_ms"]) == (12, 30, 812)
    assert body["quota"]["tokens_used"] == 42
    assert body["quota"]["tokens_limit"] == LIMIT
    assert body["quota"]["tier"] == "free"
    created = datetime.fromisoformat(log["created_at"])
    assert created.tzinfo is not None


def test_log_validation(setup: Logs, c: httpx.Client) -> None:
    for bad in (
        {"tokens_in": -1},
        {"tokens_out": "many"},
        {"cost": -0.5},
        {"unknown_field": 1},
        {"inputs": [1, 2]},
    ):
        r = _post(c, setup.project, **bad)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["error"]["code"] == "invalid_request"


def test_writing_needs_a_write_key(setup: Logs) -> None:
    with setup.server.client(setup.read_key) as client:
        r = _post(client, setup.project, tokens_in=1)
        assert r.status_code == 403
        assert client.get(f"/api/projects/{setup.project}/logs").status_code == 200


def test_quota_exceeded_is_429_and_writes_nothing(setup: Logs, c: httpx.Client) -> None:
    _reset_quota(setup)
    assert _post(c, setup.project, prompt_id="q", tokens_in=600).status_code == 201
    before = c.get(f"/api/projects/{setup.project}/logs", params={"prompt_id": "q"})
    r = _post(c, setup.project, prompt_id="q", tokens_in=300, tokens_out=200)
    assert r.status_code == 429, r.text
    err = r.json()["error"]
    assert err["code"] == "quota_exceeded"
    assert err["message"].startswith("quota exceeded")
    after = c.get(f"/api/projects/{setup.project}/logs", params={"prompt_id": "q"})
    assert after.json()["logs"] == before.json()["logs"]
    # Exactly up to the limit is fine; one more token is not.
    ok = _post(c, setup.project, prompt_id="q", tokens_in=400)
    assert ok.status_code == 201
    assert ok.json()["quota"]["tokens_used"] == LIMIT
    assert _post(c, setup.project, prompt_id="q", tokens_in=1).status_code == 429
    # The quota is the workspace's: the sibling project is out of tokens too.
    with setup.server.client(setup.sibling_key) as sibling:
        r = _post(sibling, setup.sibling, tokens_in=1)
        assert r.status_code == 429
        # A log that counts no tokens is still accepted.
        assert _post(sibling, setup.sibling, prompt_id="free").status_code == 201


def test_the_period_rolls_over_on_its_own(setup: Logs, c: httpx.Client) -> None:
    from dakora.registry.db import projects, workspace_quotas

    _reset_quota(setup)
    assert _post(c, setup.project, tokens_in=LIMIT).status_code == 201
    assert _post(c, setup.project, tokens_in=1).status_code == 429
    # Pretend the usage was counted last month.
    engine = setup.server.engine()
    now = datetime.now(UTC)
    last_month = (now.replace(day=1) - timedelta(days=1)).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    with engine.begin() as conn:
        ws = conn.execute(
            select(projects.c.workspace_id).where(projects.c.id == setup.project)
        ).scalar_one()
        conn.execute(
            update(workspace_quotas)
            .where(workspace_quotas.c.workspace_id == ws)
            .values(period_start=last_month)
        )
    r = _post(c, setup.project, tokens_in=7)
    assert r.status_code == 201, r.text
    quota = r.json()["quota"]
    assert quota["tokens_used"] == 7
    period = datetime.fromisoformat(quota["period_start"])
    assert (period.year, period.month, period.day) == (now.year, now.month, 1)


def test_filters_and_cursor_paging(setup: Logs, c: httpx.Client) -> None:
    _reset_quota(setup)
    ids = []
    for i in range(7):
        r = _post(
            c,
            setup.project,
            prompt_id="paged" if i % 2 == 0 else "paged-other",
            version=f"1.0.{i % 3}",
            tokens_in=1,
        )
        assert r.status_code == 201
        ids.append(r.json()["log"]["id"])
    url = f"/api/projects/{setup.project}/logs"

    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"prompt_id": "paged", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = c.get(url, params=params).json()
        seen += [log["id"] for log in body["logs"]]
        assert all(log["prompt_id"] == "paged" for log in body["logs"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    expected = [i for n, i in enumerate(ids) if n % 2 == 0]
    assert seen == sorted(expected, reverse=True)  # newest first, no gaps, no repeats
    assert pages == 2

    by_version = c.get(url, params={"prompt_id": "paged", "version": "1.0.0"}).json()
    assert [log["id"] for log in by_version["logs"]] == [ids[6], ids[0]]

    all_logs = c.get(url, params={"limit": 500}).json()["logs"]
    middle = next(log for log in all_logs if log["id"] == ids[3])
    since = c.get(
        url, params={"since": middle["created_at"], "prompt_id": "paged-other"}
    ).json()["logs"]
    assert ids[3] in [log["id"] for log in since]
    assert ids[1] not in [log["id"] for log in since] or (
        # equal timestamps are possible on a fast machine; then both are "since"
        next(log for log in all_logs if log["id"] == ids[1])["created_at"]
        == middle["created_at"]
    )
    until = c.get(url, params={"until": "2000-01-01T00:00:00Z"}).json()["logs"]
    assert until == []

    assert c.get(url, params={"cursor": "abc"}).status_code == 400
    assert c.get(url, params={"limit": 0}).status_code == 422
    assert c.get(url, params={"limit": 501}).status_code == 422
    assert c.get(url, params={"since": "yesterday"}).status_code == 422


def test_logs_are_per_project(setup: Logs) -> None:
    with setup.server.client(setup.sibling_key) as sibling:
        logs = sibling.get(f"/api/projects/{setup.sibling}/logs").json()["logs"]
    assert all(log["project_id"] == setup.sibling for log in logs)
