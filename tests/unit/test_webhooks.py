"""Outgoing webhooks without a server: the URL rules, the address policy (SSRF), event
names, the retry schedule, and signatures checked by the ``standardwebhooks``
library's own verifier (never by Dakora's code)."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from dakora.registry.core import BadRequest, Settings
from dakora.registry.webhooks import (
    EVENT_TYPES,
    AddressRefused,
    address_problem,
    body_bytes,
    check_url,
    deliver,
    next_delay,
    parse_events,
    parse_url,
    signed_headers,
)
from dakora.registry.webhooks.endpoints import new_secret


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not global"),  # carrier-grade NAT
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback, inside IPv6"),
        ("::ffff:10.0.0.1", "private, inside IPv6"),
        ("::ffff:169.254.169.254", "link-local, inside IPv6"),
        ("2002:7f00:1::", "loopback, inside IPv6"),  # 6to4 of 127.0.0.1
        ("2002:a00:1::", "private, inside IPv6"),  # 6to4 of 10.0.0.1
    ],
)
def test_non_public_addresses_are_refused(address: str, problem: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) == problem


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:1.1.1.1"]
)
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/hook", "must be http or https, not 'ftp'"),
        ("file:///etc/passwd", "must be http or https, not 'file'"),
        ("javascript:alert(1)", "must be http or https, not 'javascript'"),
        ("example.com/hook", "must be http or https, not none"),
        ("http:///hook", "no host"),
        ("http://example.com:99999/", "Port out of range"),
        ("http://exa mple.com/", "whitespace"),
        ("", "empty"),
    ],
)
def test_bad_urls_are_refused_naming_the_problem(url: str, message: str) -> None:
    with pytest.raises(BadRequest, match=message) as err:
        parse_url(url)
    assert err.value.details.get("parameter") == "url"


def test_parsed_url_keeps_the_host_header() -> None:
    target = parse_url("HTTPS://Hooks.Example.com/in?x=1")
    assert (target.scheme, target.host, target.port) == (
        "https",
        "hooks.example.com",
        443,
    )
    assert target.host_header == "hooks.example.com"
    assert parse_url("http://[::1]:8080/x").host_header == "[::1]:8080"


def test_loopback_names_and_literals_need_allow_private() -> None:
    for url in ("http://localhost:9/hook", "http://127.0.0.1/", "http://[::1]/"):
        with pytest.raises(AddressRefused, match="DAKORA_WEBHOOKS_ALLOW_PRIVATE"):
            check_url(url, allow_private=False)
        assert check_url(url, allow_private=True).url == url


def test_an_unresolvable_host_is_refused() -> None:
    with pytest.raises(BadRequest, match="cannot resolve webhook host"):
        check_url("http://no-such-host.invalid/hook", allow_private=False)


def test_delivery_refuses_a_private_address_without_connecting() -> None:
    result = deliver(
        "http://127.0.0.1:9/hook", b"{}", {}, allow_private=False, timeout=1.0
    )
    assert not result.ok and result.status_code is None
    assert result.error is not None and result.error.startswith("refused: ")
    assert "loopback" in result.error


def test_events() -> None:
    assert parse_events(None) == EVENT_TYPES
    assert parse_events("ref.updated, push.rejected,ref.updated") == (
        "ref.updated",
        "push.rejected",
    )
    with pytest.raises(BadRequest, match="unknown webhook event 'ref.moved'"):
        parse_events("ref.moved")
    with pytest.raises(BadRequest, match="no webhook events"):
        parse_events(" , ")


def test_signatures_verify_with_the_standard_webhooks_library() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    body = body_bytes({"type": "ref.updated", "data": {"ref": "refs/heads/main"}})
    headers = signed_headers(secret, "msg_1", datetime.now(UTC), body)
    assert set(headers) >= {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert Webhook(secret).verify(body, headers)["data"]["ref"] == "refs/heads/main"
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)  # another secret
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", headers)  # another body


def test_retry_schedule() -> None:
    schedule = (5.0, 300.0)
    assert next_delay(1, schedule) is not None
    assert next_delay(1, schedule).total_seconds() == 5  # type: ignore[union-attr]
    assert next_delay(2, schedule).total_seconds() == 300  # type: ignore[union-attr]
    assert next_delay(3, schedule) is None  # three attempts, then failed


def test_retry_schedule_setting(tmp_path: object) -> None:
    assert Settings().webhooks_retry_schedule[:2] == (5, 300)
    assert Settings(webhooks_retry_schedule="1, 2.5").webhooks_retry_schedule == (
        1.0,
        2.5,
    )
    assert Settings(webhooks_retry_schedule="").webhooks_retry_schedule == ()
    with pytest.raises(ValueError, match="not a list of seconds"):
        Settings(webhooks_retry_schedule="5,soon")
    with pytest.raises(ValueError, match="between 0 and 604800"):
        Settings(webhooks_retry_schedule="-1")
