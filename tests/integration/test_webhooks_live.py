"""Outgoing webhooks end to end, on SQLite and PostgreSQL: ``dakora admin webhooks``,
real ``git push``es and API writes through a live server, and a loopback receiver that
verifies every delivery with the ``standardwebhooks`` library.

Checked: accepted pushes send ``prompt.version.created`` and ``ref.updated``, refused
ones ``push.rejected`` (with the ``remote:`` lines), API writes say ``via: api``; the
payloads name who pushed as the audit log does; a receiver that is down gets the
delivery retried, survives a server restart, and gets it once it is up; redirects are
not followed; the delivery log and ``list`` tell what happened; the secret is printed
by ``add`` only.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.gitrepos import GitRepoBuilder, make_prompt_yaml
from tests.fixtures.server import LiveServer, free_port
from tests.integration.git_server_support import run_git
from tests.integration.webhook_receiver import Receiver, wait_for

FAST_RETRIES = ",".join(["0.2"] * 3 + ["0.5"] * 60)
ENV = {
    "DAKORA_WEBHOOKS_ALLOW_PRIVATE": "true",
    "DAKORA_WEBHOOKS_RETRY_SCHEDULE": FAST_RETRIES,
    "DAKORA_METRICS": "true",
}
pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize(
        "live_server",
        [{"db": "sqlite", "env": ENV}, {"db": "postgresql", "env": ENV}],
        indirect=True,
        ids=["sqlite", "postgresql"],
    ),
]


def _add(server: LiveServer, project: str, url: str, events: str) -> str:
    """``dakora admin webhooks add`` as a person runs it: the secret on stdout."""
    out = server.dakora("admin", "webhooks", "add", project, url, "--events", events)
    secret = out.stdout.strip()
    assert secret.startswith("whsec_") and "\n" not in secret, out.stdout
    assert "not shown again" in out.stderr
    return secret


def _deliveries(server: LiveServer, project: str, url: str) -> list[dict[str, Any]]:
    """The delivery log, read in-process from the server's database (cheap enough to
    poll; the CLI's rendering of it is checked once per test)."""
    from dakora.registry import tenancy
    from dakora.registry.webhooks import delivery_dict, delivery_page, get_endpoint

    engine = server.engine()
    target = tenancy.get_project(engine, project)
    endpoint = get_endpoint(engine, target.id, url)
    rows, _next = delivery_page(engine, target.id, endpoint_id=endpoint.id)
    return [delivery_dict(r) for r in rows]


def _cli_deliveries(server: LiveServer, project: str, url: str) -> Any:
    return server.admin("webhooks", "deliveries", project, url)["deliveries"]


def _deliveries_counted(server: LiveServer, result: str) -> float:
    """``dakora_webhook_deliveries_total{result=…}`` from the server's ``/metrics``."""
    from prometheus_client.parser import text_string_to_metric_families

    text = server.client().get("/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "dakora_webhook_deliveries_total"
                and sample.labels.get("result") == result
            ):
                return float(sample.value)
    return 0.0


def _push(repo: GitRepoBuilder) -> Any:
    return run_git(repo.path, "push", "origin", "HEAD:refs/heads/main")


def test_pushes_and_api_writes_are_delivered_signed(
    live_server: LiveServer, tmp_path: Path
) -> None:
    server = live_server
    project = server.create_project("acme", "hooks")
    key = server.create_key("acme/hooks", "write", name="ci-bot")
    receiver = Receiver().start()
    try:
        receiver.secret = _add(
            server,
            "acme/hooks",
            receiver.url,
            "prompt.version.created,ref.updated,push.rejected",
        )
        redirect_url = receiver.url.replace("/hook", "/redirect")
        server.dakora(
            "admin", "webhooks", "add", "acme/hooks", redirect_url, "--events",
            "ref.updated",
        )  # fmt: skip
        url = f"http://git:{key['key']}@{server.host}:{server.port}/git/acme/hooks.git"
        assert run_git(tmp_path, "clone", "-q", url, "w").returncode == 0
        repo = GitRepoBuilder(tmp_path / "w")
        repo.write("prompts/greeting.yaml", make_prompt_yaml(id="greeting"))
        commit = repo.commit("add greeting")
        assert _push(repo).returncode == 0

        got = wait_for(
            lambda: len(receiver.deliveries()) >= 2 and receiver.deliveries()
        )
        assert all(d.verified for d in got), [d.error for d in got]
        by_type = {d.json["type"]: d.json["data"] for d in got}
        created = by_type["prompt.version.created"]
        assert (created["id"], created["version"], created["commit"]) == (
            "greeting",
            "1.0.0",
            commit,
        )
        assert created["ref"] == "refs/heads/main"
        assert created["author"].startswith("Test Author")
        moved = by_type["ref.updated"]
        assert (moved["ref"], moved["old"], moved["new"], moved["via"]) == (
            "refs/heads/main",
            None,
            commit,
            "git",
        )
        assert moved["who"]["key"] == {"id": key["id"], "name": "ci-bot"}
        assert moved["source"] == created["source"] == "git"
        assert moved["project"]["name"] == "acme/hooks"
        assert moved["project"]["id"] == project["id"]
        first = got[0]
        assert first.headers["webhook-id"].startswith("msg_")
        assert first.headers["webhook-signature"].startswith("v1,")
        print("\nCAPTURED DELIVERY:", json.dumps(first.headers), first.body.decode())

        # a refused push: push.rejected with what the pusher saw
        repo.write(
            "prompts/greeting.yaml",
            make_prompt_yaml(
                id="greeting", version="1.1.0", template="Hi {{ nmae }}\n"
            ),
        )
        repo.commit("typo")
        assert _push(repo).returncode != 0
        rejected = wait_for(
            lambda: [
                d for d in receiver.deliveries() if d.json["type"] == "push.rejected"
            ]
        )[0]
        assert rejected.verified
        data = rejected.json["data"]
        assert data["ref"] == "refs/heads/main" and data["via"] == "git"
        assert any("nmae" in line for line in data["messages"]), data["messages"]

        # an API write: via api
        with server.client(key["key"]) as api:
            r = api.put(
                f"/api/projects/{project['id']}/prompts/greeting",
                json={
                    "id": "greeting",
                    "version": "1.2.0",
                    "template": "Hey {{ name }}\n",
                    "inputs": {"name": {"type": "string"}},
                },
            )
            assert r.status_code == 200, r.text
        api_events = wait_for(
            lambda: (
                [
                    d.json["data"]
                    for d in receiver.deliveries()
                    if d.json["data"].get("version") == "1.2.0"
                    or (
                        d.json["type"] == "ref.updated"
                        and d.json["data"]["via"] == "api"
                    )
                ]
                if len(receiver.deliveries()) >= 5
                else None
            )
        )
        assert {(e["via"], e["source"]) for e in api_events} == {("api", "api")}

        # the redirecting receiver: never followed, logged as a failure
        log = wait_for(
            lambda: [
                d
                for d in _deliveries(server, "acme/hooks", redirect_url)
                if d["attempts"] >= 1
            ]
        )
        assert log[-1]["last_status_code"] == 302
        assert "redirects are not followed" in log[-1]["last_error"]
        assert all(d.path in ("/hook", "/redirect") for d in receiver.got)

        # the log and the list: delivered once each, never the secret
        delivered = _cli_deliveries(server, "acme/hooks", receiver.url)
        assert {d["status"] for d in delivered} == {"delivered"}
        lags = sorted(
            (
                dt.datetime.fromisoformat(d["delivered_at"])
                - dt.datetime.fromisoformat(d["created_at"])
            ).total_seconds()
            for d in delivered
        )
        print("commit-to-delivered seconds:", lags)  # reported, never asserted
        assert {d["attempts"] for d in delivered} == {1}
        listed = server.admin("webhooks", "list", "acme/hooks")
        assert receiver.secret not in json.dumps(listed)
        mine = next(w for w in listed["webhooks"] if w["url"] == receiver.url)
        assert mine["deliveries"]["delivered"] == len(delivered) >= 5
    finally:
        receiver.stop()


def test_a_receiver_that_is_down_then_up_gets_it_after_a_restart(
    live_server: LiveServer, tmp_path: Path
) -> None:
    server = live_server
    server.create_project("acme", "down")
    key = server.create_key("acme/down", "write")
    receiver = Receiver(port=free_port())  # nothing listens there yet
    receiver.secret = _add(server, "acme/down", receiver.url, "ref.updated")
    url = f"http://git:{key['key']}@{server.host}:{server.port}/git/acme/down.git"
    assert run_git(tmp_path, "clone", "-q", url, "w").returncode == 0
    repo = GitRepoBuilder(tmp_path / "w")
    repo.write("prompts/a.yaml", make_prompt_yaml(id="a"))
    commit = repo.commit("a")
    pushed = _push(repo)
    assert pushed.returncode == 0, pushed.stderr  # the push does not wait on it

    failing = wait_for(
        lambda: [
            d
            for d in _deliveries(server, "acme/down", receiver.url)
            if d["attempts"] >= 2
        ]
    )[0]
    assert failing["status"] == "pending"
    assert "cannot connect" in failing["last_error"]
    assert failing["last_status_code"] is None
    assert _deliveries_counted(server, "failed") >= 2

    server.stop()  # pending rows stay in the database
    receiver.start()
    try:
        server.start()
        got = wait_for(lambda: receiver.deliveries(), message="the retried delivery")
        assert got[0].verified, got[0].error
        assert got[0].json["data"]["new"] == commit
        assert got[0].headers["webhook-id"] == failing["message_id"]  # same message
        wait_for(
            lambda: [
                d
                for d in _deliveries(server, "acme/down", receiver.url)
                if d["status"] == "delivered"
            ]
        )
        assert _deliveries_counted(server, "delivered") >= 1
        done = _cli_deliveries(server, "acme/down", receiver.url)[0]
        assert done["status"] == "delivered"
        assert done["attempts"] >= 3 and done["last_error"] is None
    finally:
        receiver.stop()
