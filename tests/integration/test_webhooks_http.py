"""Outgoing webhooks over HTTP and the SSRF policy, through live servers.

A server in auth mode ``none`` without ``DAKORA_WEBHOOKS_ALLOW_PRIVATE``: loopback
URLs are refused when added (HTTP and CLI), and a webhook added from a CLI that allows
them is refused again at delivery time by the server, which never connects. A server
that allows private addresses: the HTTP API's add (the secret once), list, duplicate,
delivery log and remove. A server with API keys: keys may not manage webhooks.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest

from tests.fixtures.server import LiveServer, ServerFactory, dakora_executable
from tests.integration.webhook_receiver import Receiver, wait_for

pytestmark = pytest.mark.integration

PROMPT = {
    "id": "greeting",
    "version": "1.0.0",
    "template": "Hello {{ name }}\n",
    "inputs": {"name": {"type": "string"}},
}


@pytest.fixture(scope="module")
def strict(start_live_server: ServerFactory) -> Iterator[LiveServer]:
    server = start_live_server(env={"DAKORA_AUTH_MODE": "none"})
    server.create_project("acme", "strict")
    yield server
    server.close()


@pytest.fixture(scope="module")
def lenient(start_live_server: ServerFactory) -> Iterator[LiveServer]:
    server = start_live_server(
        env={"DAKORA_AUTH_MODE": "none", "DAKORA_WEBHOOKS_ALLOW_PRIVATE": "true"}
    )
    server.create_project("acme", "open")
    yield server
    server.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://[::1]:9/hook",
        "http://[::ffff:127.0.0.1]:9/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/hook",
    ],
)
def test_private_addresses_are_refused_when_added(strict: LiveServer, url: str) -> None:
    with strict.client() as api:
        r = api.post("/api/projects/acme~strict/webhooks", json={"url": url})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "webhook_address_refused"
    assert "DAKORA_WEBHOOKS_ALLOW_PRIVATE" in error["message"]
    proc = strict.dakora("admin", "webhooks", "add", "acme/strict", url, check=False)
    assert proc.returncode != 0
    assert "non-public addresses are refused" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"url": "ftp://example.com/x"}, 400, "must be http or https, not 'ftp'"),
        ({"url": "file:///etc/passwd"}, 400, "must be http or https, not 'file'"),
        ({"url": "https://example.com", "events": ["ref.moved"]}, 422, "events"),
        ({"url": "https://example.com", "secret": "x"}, 422, "secret"),
    ],
)
def test_bad_bodies_name_the_problem(
    strict: LiveServer, body: dict[str, object], status: int, needle: str
) -> None:
    with strict.client() as api:
        r = api.post("/api/projects/acme~strict/webhooks", json=body)
    assert r.status_code == status, r.text
    assert needle in r.text


def test_a_private_address_is_refused_again_at_delivery(strict: LiveServer) -> None:
    receiver = Receiver().start()
    try:
        allowed_cli = {**strict.env, "DAKORA_WEBHOOKS_ALLOW_PRIVATE": "true"}
        proc = subprocess.run(
            [dakora_executable(), "admin", "webhooks", "add", "acme/strict"]
            + [receiver.url, "--json"],
            env=allowed_cli,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        receiver.secret = json.loads(proc.stdout)["secret"]
        with strict.client() as api:
            r = api.post("/api/projects/acme~strict/prompts", json=PROMPT)
            assert r.status_code == 201, r.text
        log = wait_for(
            lambda: [
                d
                for d in strict.admin(
                    "webhooks", "deliveries", "acme/strict", receiver.url
                )["deliveries"]
                if d["attempts"] >= 1
            ],
            message="a refused attempt in the CLI's delivery log",
        )
        assert log[0]["status"] == "pending"
        assert log[0]["last_error"].startswith("refused: ")
        assert "127.0.0.1 (loopback)" in log[0]["last_error"]
        assert receiver.got == []  # never connected
    finally:
        receiver.stop()


def test_manage_webhooks_over_http(lenient: LiveServer) -> None:
    receiver = Receiver().start()
    base = "/api/projects/acme~open/webhooks"
    try:
        with lenient.client() as api:
            r = api.post(base, json={"url": receiver.url, "events": ["ref.updated"]})
            assert r.status_code == 201, r.text
            created = r.json()
            receiver.secret = created["secret"]
            assert created["secret"].startswith("whsec_")
            assert created["events"] == ["ref.updated"]

            again = api.post(base, json={"url": receiver.url})
            assert again.status_code == 409, again.text

            listed = api.get(base)
            assert listed.status_code == 200
            assert receiver.secret not in listed.text
            assert [w["id"] for w in listed.json()["webhooks"]] == [created["id"]]

            r = api.post("/api/projects/acme~open/prompts", json=PROMPT)
            assert r.status_code == 201, r.text
            got = wait_for(lambda: receiver.deliveries())
            assert got[0].verified and got[0].json["data"]["via"] == "api"

            log_url = f"{base}/{created['id']}/deliveries"
            page = wait_for(
                lambda: [
                    d
                    for d in api.get(log_url).json()["deliveries"]
                    if d["status"] == "delivered"
                ]
            )
            assert page[0]["event"] == "ref.updated"
            assert page[0]["attempts"] == 1 and page[0]["last_status_code"] == 204
            assert page[0]["message_id"] == got[0].headers["webhook-id"]
            bad = api.get(log_url, params={"status": "lost"})
            assert bad.status_code == 422
            unknown = api.get(log_url, params={"sattus": "failed"})
            assert unknown.status_code == 400

            gone = api.delete(f"{base}/{created['id']}")
            assert gone.status_code == 200 and gone.json()["url"] == receiver.url
            missing = api.delete(f"{base}/{created['id']}")
            assert missing.status_code == 404
            assert missing.json()["error"]["code"] == "webhook_not_found"
            assert api.get(base).json()["webhooks"] == []
    finally:
        receiver.stop()


def test_api_keys_may_not_manage_webhooks(live_server: LiveServer) -> None:
    live_server.create_project("acme", "keys")
    for scope in ("read", "write"):
        key = live_server.create_key("acme/keys", scope)["key"]
        with live_server.client(key) as api:
            r = api.get("/api/projects/acme~keys/webhooks")
            assert r.status_code == 403, r.text
            assert "cannot manage webhooks" in r.json()["error"]["message"]
            r = api.post(
                "/api/projects/acme~keys/webhooks", json={"url": "https://x.example"}
            )
            assert r.status_code == 403
    with live_server.client() as anonymous:
        assert anonymous.get("/api/projects/acme~keys/webhooks").status_code == 401
