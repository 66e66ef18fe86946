"""Svix webhook verification with signatures computed here, independently."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from dakora.registry.core.errors import BadRequest, ConfigError, Unauthenticated
from dakora.registry.tenancy.svix import SvixVerifier, sign

KEY = b"0123456789abcdef0123456789abcdef"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
NOW = 1_750_000_000
BODY = json.dumps({"type": "user.created", "data": {"id": "user_1"}}).encode()


def _signature(key: bytes, msg_id: str, ts: int, body: bytes) -> str:
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def _headers(
    sig: str | None = None, msg_id: str = "msg_1", ts: int = NOW
) -> dict[str, str]:
    return {
        "svix-id": msg_id,
        "svix-timestamp": str(ts),
        "svix-signature": sig or _signature(KEY, msg_id, ts, BODY),
    }


@pytest.fixture
def verifier() -> SvixVerifier:
    return SvixVerifier(SECRET, clock=lambda: NOW)


def test_valid_signature_passes(verifier: SvixVerifier) -> None:
    verifier.verify(_headers(), BODY)
    assert verifier.verify_event(_headers(), BODY)["type"] == "user.created"


def test_sign_matches_independent_computation() -> None:
    assert sign(SECRET, "msg_1", NOW, BODY) == _signature(KEY, "msg_1", NOW, BODY)


def test_headers_are_case_insensitive(verifier: SvixVerifier) -> None:
    verifier.verify({k.upper(): v for k, v in _headers().items()}, BODY)


def test_standard_webhooks_header_names(verifier: SvixVerifier) -> None:
    h = _headers()
    verifier.verify({k.replace("svix-", "webhook-"): v for k, v in h.items()}, BODY)


def test_any_of_several_signatures_passes(verifier: SvixVerifier) -> None:
    good = _signature(KEY, "msg_1", NOW, BODY)
    other = _signature(b"another-secret-key-bytes-000000", "msg_1", NOW, BODY)
    verifier.verify(_headers(f"v1,Zm9v {other} {good}"), BODY)
    verifier.verify(_headers(f"{good} {other}"), BODY)


def test_tampered_body_refused(verifier: SvixVerifier) -> None:
    with pytest.raises(Unauthenticated, match="does not match"):
        verifier.verify(_headers(), BODY.replace(b"user_1", b"user_2"))


def test_wrong_secret_refused(verifier: SvixVerifier) -> None:
    sig = _signature(b"x" * 32, "msg_1", NOW, BODY)
    with pytest.raises(Unauthenticated, match="does not match"):
        verifier.verify(_headers(sig), BODY)


def test_signature_bound_to_id_and_timestamp(verifier: SvixVerifier) -> None:
    sig = _signature(KEY, "msg_1", NOW, BODY)
    with pytest.raises(Unauthenticated):
        verifier.verify(_headers(sig, msg_id="msg_2"), BODY)
    with pytest.raises(Unauthenticated):
        verifier.verify(_headers(sig, ts=NOW + 1), BODY)


def test_unknown_version_ignored(verifier: SvixVerifier) -> None:
    good = _signature(KEY, "msg_1", NOW, BODY)
    with pytest.raises(Unauthenticated):
        verifier.verify(_headers("v2," + good.split(",", 1)[1]), BODY)


@pytest.mark.parametrize(
    ("offset", "ok"), [(-301, False), (-299, True), (299, True), (301, False)]
)
def test_timestamp_tolerance(offset: int, ok: bool) -> None:
    v = SvixVerifier(SECRET, clock=lambda: NOW + offset)
    if ok:
        v.verify(_headers(), BODY)
    else:
        with pytest.raises(Unauthenticated, match="timestamp"):
            v.verify(_headers(), BODY)


@pytest.mark.parametrize("missing", ["svix-id", "svix-timestamp", "svix-signature"])
def test_missing_header_refused(verifier: SvixVerifier, missing: str) -> None:
    h = _headers()
    del h[missing]
    with pytest.raises(Unauthenticated, match="missing"):
        verifier.verify(h, BODY)


@pytest.mark.parametrize("sig", ["", "v1,", "v1,!!!notbase64", "garbage", "v1"])
def test_garbage_signature_refused(verifier: SvixVerifier, sig: str) -> None:
    with pytest.raises(Unauthenticated):
        verifier.verify(_headers(sig or " "), BODY)


def test_non_numeric_timestamp_refused(verifier: SvixVerifier) -> None:
    h = _headers()
    h["svix-timestamp"] = "yesterday"
    with pytest.raises(Unauthenticated, match="timestamp"):
        verifier.verify(h, BODY)


def test_message_leaks_no_secret(verifier: SvixVerifier) -> None:
    with pytest.raises(Unauthenticated) as info:
        verifier.verify(_headers("v1,AAAA"), BODY)
    expected = _signature(KEY, "msg_1", NOW, BODY).split(",", 1)[1]
    assert expected not in str(info.value)
    assert SECRET not in str(info.value)


def test_signed_non_json_body_is_bad_request(verifier: SvixVerifier) -> None:
    body = b"not json"
    h = _headers(_signature(KEY, "msg_1", NOW, body))
    verifier.verify(h, body)
    with pytest.raises(BadRequest):
        verifier.verify_event(h, body)


@pytest.mark.parametrize("secret", ["whsec_", "whsec_***", ""])
def test_bad_secret_is_config_error(secret: str) -> None:
    with pytest.raises(ConfigError):
        SvixVerifier(secret)
