"""One delivery attempt: sign per Standard Webhooks, check the address, POST, judge.

Signing uses the ``standardwebhooks`` library (the reference implementation of the
specification): ``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``
with the endpoint's ``whsec_`` secret, so receivers verify with any compatible library.

The request goes to an address the SSRF policy passed (``addresses.py``): the URL's
host is resolved now, every address checked, and the connection is made to a checked
address (the URL's host kept in the ``Host`` header and as the TLS server name, so
certificates are verified against it). Redirects are not followed; proxies from the
environment are not used (they would connect elsewhere). A 2xx answer is a success,
anything else (a 3xx too) a failure to retry. See docs/webhooks.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from standardwebhooks import Webhook

from dakora.registry.core import DakoraError
from dakora.registry.webhooks.addresses import (
    IPAddress,
    WebhookUrl,
    checked_addresses,
    parse_url,
)

USER_AGENT = "Dakora-Webhooks/1"
MAX_ANSWER_BYTES = 512  # of a failed answer, kept in the delivery log


@dataclass(frozen=True)
class Attempt:
    """What one attempt came to."""

    ok: bool
    status_code: int | None = None
    error: str | None = None


def body_bytes(payload: Any) -> bytes:
    """The request body: compact JSON, UTF-8 (the same bytes on every retry)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def signed_headers(
    secret: str, message_id: str, timestamp: datetime, body: bytes
) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt."""
    signature = Webhook(secret).sign(message_id, timestamp, body)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def _answer_excerpt(response: httpx.Response) -> str:
    data = b""
    for chunk in response.iter_bytes():
        data += chunk
        if len(data) >= MAX_ANSWER_BYTES:
            break
    text = data[:MAX_ANSWER_BYTES].decode("utf-8", "replace").strip()
    return " ".join(text.split())


def _post(
    client: httpx.Client,
    target: WebhookUrl,
    ip: IPAddress,
    body: bytes,
    headers: dict[str, str],
) -> Attempt:
    pinned = httpx.URL(target.url).copy_with(host=str(ip))
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    request = client.build_request(
        "POST",
        pinned,
        content=body,
        headers={**headers, "host": target.host_header},
        extensions=extensions,
    )
    response = client.send(request, stream=True)
    try:
        status = response.status_code
        if 200 <= status < 300:
            return Attempt(True, status)
        if 300 <= status < 400:
            where = response.headers.get("location", "")
            return Attempt(
                False,
                status,
                f"HTTP {status}: redirects are not followed (Location: {where[:200]})",
            )
        excerpt = _answer_excerpt(response)
        return Attempt(False, status, f"HTTP {status}: {excerpt}".rstrip(": "))
    finally:
        response.close()


def deliver(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allow_private: bool,
    timeout: float,
) -> Attempt:
    """POST ``body`` to ``url`` once; never raises for network or policy failures."""
    try:
        target = parse_url(url)
        addresses = checked_addresses(target, allow_private=allow_private)
    except DakoraError as exc:
        return Attempt(False, None, f"refused: {exc.message}")
    errors: list[str] = []
    with httpx.Client(
        timeout=timeout, follow_redirects=False, trust_env=False
    ) as client:
        for ip in addresses:
            try:
                return _post(client, target, ip, body, headers)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                errors.append(f"{ip}: cannot connect ({exc or type(exc).__name__})")
            except httpx.HTTPError as exc:
                return Attempt(False, None, f"{ip}: {type(exc).__name__}: {exc}")
    return Attempt(False, None, "; ".join(errors) or "no address to connect to")
