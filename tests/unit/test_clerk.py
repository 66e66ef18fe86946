"""ClerkVerifier against a locally generated RSA key and a JWKS on a loopback server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm

from dakora.registry.core.errors import StorageError, Unauthenticated
from dakora.registry.tenancy.clerk import ClerkClaims, ClerkVerifier

ISSUER = "https://clerk.example.test"
KID = "test-key-1"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class _JWKSHandler(BaseHTTPRequestHandler):
    jwks: dict[str, Any] = {}
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        type(self).hits.append(self.path)
        body = json.dumps(type(self).jwks).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url(rsa_key: rsa.RSAPrivateKey) -> Iterator[str]:
    jwk = json.loads(RSAAlgorithm.to_jwk(rsa_key.public_key()))
    jwk.update({"kid": KID, "use": "sig", "alg": "RS256"})
    handler = type("Handler", (_JWKSHandler,), {"jwks": {"keys": [jwk]}, "hits": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def verifier(jwks_url: str) -> ClerkVerifier:
    return ClerkVerifier(ISSUER, jwks_url)


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "user_2abc",
        "sid": "sess_1",
        "azp": "https://app.example.test",
        "iat": now - 10,
        "nbf": now - 10,
        "exp": now + 3600,
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _token(key: Any, claims: dict[str, Any], kid: str | None = KID, **kw: Any) -> str:
    headers = {"kid": kid} if kid is not None else {}
    return jwt.encode(
        claims, key, algorithm=kw.pop("algorithm", "RS256"), headers=headers
    )


def _public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_valid_token_gives_claims(
    verifier: ClerkVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    claims = verifier.verify(_token(rsa_key, _claims()))
    assert isinstance(claims, ClerkClaims)
    assert claims.sub == "user_2abc"
    assert claims.email == "ada@example.com"
    assert claims.name == "Ada Lovelace"
    assert claims.session_id == "sess_1"
    assert claims.issuer == ISSUER
    assert claims.expires_at > claims.issued_at


def test_signing_key_is_cached(jwks_url: str, rsa_key: rsa.RSAPrivateKey) -> None:
    v = ClerkVerifier(ISSUER, jwks_url)
    token = _token(rsa_key, _claims())
    hits = v._jwks  # the PyJWKClient
    for _ in range(5):
        v.verify(token)
    assert hits.get_signing_key.cache_info().misses == 1  # type: ignore[attr-defined]


def _refused(verifier: ClerkVerifier, token: str, fragment: str) -> None:
    with pytest.raises(Unauthenticated) as info:
        verifier.verify(token)
    message = str(info.value)
    assert fragment in message
    assert token not in message
    assert info.value.http_status == 401


def test_alg_none_refused(verifier: ClerkVerifier) -> None:
    header = _b64url(json.dumps({"alg": "none", "typ": "JWT", "kid": KID}).encode())
    body = _b64url(json.dumps(_claims()).encode())
    _refused(verifier, f"{header}.{body}.", "only RS256")
    _refused(verifier, f"{header}.{body}.c2ln", "only RS256")


def test_hs256_signed_with_public_key_refused(
    verifier: ClerkVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    # Build by hand: PyJWT refuses to HMAC with a PEM key, an attacker would not.
    pem = _public_pem(rsa_key)
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
    body = _b64url(json.dumps(_claims()).encode())
    sig = hmac.new(pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    _refused(verifier, f"{header}.{body}.{_b64url(sig)}", "only RS256")


def test_hs256_with_any_secret_refused(verifier: ClerkVerifier) -> None:
    token = _token(
        "a-secret-that-is-long-enough-for-hs256-32b", _claims(), algorithm="HS256"
    )
    _refused(verifier, token, "only RS256")


def test_other_asymmetric_alg_refused(verifier: ClerkVerifier) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    _refused(verifier, _token(key, _claims(), algorithm="ES256"), "only RS256")


def test_expired_refused(verifier: ClerkVerifier, rsa_key: rsa.RSAPrivateKey) -> None:
    now = int(time.time())
    token = _token(rsa_key, _claims(iat=now - 7200, nbf=now - 7200, exp=now - 3600))
    _refused(verifier, token, "expired")


def test_not_yet_valid_refused(
    verifier: ClerkVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    now = int(time.time())
    _refused(verifier, _token(rsa_key, _claims(nbf=now + 3600)), "not yet valid")
    _refused(
        verifier, _token(rsa_key, _claims(iat=now + 3600, nbf=now)), "not yet valid"
    )


def test_leeway_allows_small_skew(jwks_url: str, rsa_key: rsa.RSAPrivateKey) -> None:
    now = int(time.time())
    token = _token(rsa_key, _claims(nbf=now + 60, iat=now + 60))
    _refused(ClerkVerifier(ISSUER, jwks_url, leeway=0), token, "not yet valid")
    assert ClerkVerifier(ISSUER, jwks_url, leeway=3600).verify(token).sub


def test_wrong_issuer_refused(
    verifier: ClerkVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    token = _token(rsa_key, _claims(iss="https://evil.example.test"))
    _refused(verifier, token, "issuer")


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf", "sub", "iss"])
def test_missing_required_claim_refused(
    verifier: ClerkVerifier, rsa_key: rsa.RSAPrivateKey, claim: str
) -> None:
    claims = _claims()
    del claims[claim]
    _refused(verifier, _token(rsa_key, claims), f"'{claim}'")


def test_tampered_payload_refused(
    verifier: ClerkVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    header, _, sig = _token(rsa_key, _claims()).split(".")
    forged = _b64url(json.dumps(_claims(sub="user_admin")).encode())
    _refused(verifier, f"{header}.{forged}.{sig}", "bad signature")


def test_stripped_signature_refused(
    verifier: ClerkVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    header, body, _ = _token(rsa_key, _claims()).split(".")
    with pytest.raises(Unauthenticated):
        verifier.verify(f"{header}.{body}.")


def test_signed_by_other_key_with_known_kid_refused(
    verifier: ClerkVerifier, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    _refused(verifier, _token(other_rsa_key, _claims()), "bad signature")


def test_unknown_kid_refused(jwks_url: str, rsa_key: rsa.RSAPrivateKey) -> None:
    v = ClerkVerifier(ISSUER, jwks_url)
    _refused(v, _token(rsa_key, _claims(), kid="rotated-away"), "unknown key")


def test_missing_kid_refused(
    verifier: ClerkVerifier, rsa_key: rsa.RSAPrivateKey
) -> None:
    _refused(verifier, _token(rsa_key, _claims(), kid=None), "kid")


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c", "x" * 20000])
def test_malformed_refused(verifier: ClerkVerifier, token: str) -> None:
    with pytest.raises(Unauthenticated, match="malformed"):
        verifier.verify(token)


def test_audience_checked_when_configured(
    jwks_url: str, rsa_key: rsa.RSAPrivateKey
) -> None:
    v = ClerkVerifier(ISSUER, jwks_url, audience="dakora")
    assert v.verify(_token(rsa_key, _claims(aud="dakora"))).sub == "user_2abc"
    _refused(v, _token(rsa_key, _claims(aud="other")), "audience")


def test_authorized_parties_checked_when_configured(
    jwks_url: str, rsa_key: rsa.RSAPrivateKey
) -> None:
    v = ClerkVerifier(ISSUER, jwks_url, authorized_parties=["https://ok.test"])
    assert v.verify(_token(rsa_key, _claims(azp="https://ok.test"))).sub
    _refused(v, _token(rsa_key, _claims(azp="https://evil.test")), "authorized party")


def test_unreachable_jwks_is_a_storage_error(rsa_key: rsa.RSAPrivateKey) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    v = ClerkVerifier(ISSUER, f"http://127.0.0.1:{port}/jwks.json", jwks_timeout=2)
    with pytest.raises(StorageError):
        v.verify(_token(rsa_key, _claims()))


def test_non_http_jwks_url_refused() -> None:
    with pytest.raises(jwt.PyJWKClientError):
        ClerkVerifier(ISSUER, "file:///etc/passwd")
