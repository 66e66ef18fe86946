"""An https delivery connects to the address it checked, yet speaks TLS to the URL's
host: a loopback TLS server records the server name (SNI) and Host header it gets.

The server's certificate is self-signed, so the delivery must fail verification —
proof that certificates are verified (against the URL's host), not skipped because
the connection went to a pinned IP.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dakora.registry.webhooks import deliver

pytestmark = pytest.mark.integration


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, list[str | None]]]:
    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names: list[str | None] = []
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)  # type: ignore[assignment,func-returns-value]
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                raw, _addr = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(raw, server_side=True) as conn:
                    conn.recv(1024)
            except (ssl.SSLError, OSError):
                pass  # the client refused our certificate, as it must

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port, names
    finally:
        listener.close()


def test_https_uses_the_url_host_for_sni_and_verifies_the_certificate(
    tls_server: tuple[int, list[str | None]],
) -> None:
    port, names = tls_server
    result = deliver(
        f"https://localhost:{port}/hook",
        b"{}",
        {"webhook-id": "msg_tls"},
        allow_private=True,
        timeout=5.0,
    )
    assert not result.ok
    assert result.error is not None and "CERTIFICATE_VERIFY_FAILED" in result.error
    assert "localhost" in names  # SNI: the URL's host, not the pinned address
