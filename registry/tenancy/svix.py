"""Svix webhook signatures (Clerk's webhooks), verified by hand (docs/design.md §9).

A webhook carries three headers: ``svix-id``, ``svix-timestamp`` (Unix seconds) and
``svix-signature``: space-separated ``v1,<base64 HMAC-SHA256>`` entries (several during a
secret rotation). The signed content is ``f"{id}.{timestamp}.{body}"``; the HMAC key is
the base64-decoded part of the endpoint secret ``whsec_<base64>``. The ``webhook-*``
header names of the Standard Webhooks spec are accepted too.

A request passes when the timestamp is within ``tolerance`` seconds of now (either way,
against replays) and any ``v1`` signature matches (compared in constant time). Anything
else raises ``Unauthenticated``; the message names the problem, never a secret or the
expected signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from dakora.registry.core import BadRequest, ConfigError, Unauthenticated

SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE = 5 * 60
MAX_SIGNATURES = 16


def decode_secret(secret: str) -> bytes:
    """The HMAC key of a ``whsec_…`` secret (a bare base64 secret is accepted too)."""
    raw = secret.removeprefix(SECRET_PREFIX) if secret else ""
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigError("the webhook signing secret is not valid base64") from exc
    if not key:
        raise ConfigError("the webhook signing secret is empty")
    return key


def sign(secret: str, msg_id: str, timestamp: int | str, body: bytes | str) -> str:
    """The ``svix-signature`` value (one ``v1,…`` entry) for a message."""
    payload = body.encode() if isinstance(body, str) else body
    content = f"{msg_id}.{timestamp}.".encode() + payload
    digest = hmac.new(decode_secret(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def delivery_id(headers: Mapping[str, str]) -> str:
    """The delivery's id (``svix-id``, or ``webhook-id``); empty when missing."""
    lowered = {k.lower(): v for k, v in headers.items()}
    return (lowered.get("svix-id") or lowered.get("webhook-id") or "").strip()


class SvixVerifier:
    """Verifies Svix-signed webhooks for one endpoint secret. Thread-safe."""

    def __init__(
        self,
        secret: str,
        *,
        tolerance: int = DEFAULT_TOLERANCE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = decode_secret(secret)
        self.tolerance = tolerance
        self._clock = clock

    def verify(self, headers: Mapping[str, str], body: bytes | str) -> None:
        """Raise ``Unauthenticated`` unless ``body`` is signed and fresh."""
        lowered = {k.lower(): v for k, v in headers.items()}
        msg_id = lowered.get("svix-id") or lowered.get("webhook-id")
        stamp = lowered.get("svix-timestamp") or lowered.get("webhook-timestamp")
        header = lowered.get("svix-signature") or lowered.get("webhook-signature")
        if not msg_id or not stamp or not header:
            raise Unauthenticated(
                "webhook signature missing: svix-id, svix-timestamp and "
                "svix-signature headers are required"
            )
        try:
            timestamp = int(stamp.strip())
        except ValueError as exc:
            raise Unauthenticated("webhook timestamp is not a number") from exc
        now = self._clock()
        if timestamp < now - self.tolerance:
            raise Unauthenticated("webhook timestamp too old")
        if timestamp > now + self.tolerance:
            raise Unauthenticated("webhook timestamp too far in the future")

        payload = body.encode() if isinstance(body, str) else body
        content = f"{msg_id}.{timestamp}.".encode() + payload
        expected = hmac.new(self._key, content, hashlib.sha256).digest()

        matched = False
        for entry in header.split()[:MAX_SIGNATURES]:
            version, _, encoded = entry.partition(",")
            if version != "v1" or not encoded:
                continue
            try:
                candidate = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                continue
            # Keep comparing after a match so timing doesn't depend on position.
            matched = hmac.compare_digest(candidate, expected) or matched
        if not matched:
            raise Unauthenticated("webhook signature does not match")

    def verify_event(
        self, headers: Mapping[str, str], body: bytes | str
    ) -> dict[str, Any]:
        """Verify, then parse the JSON event (``{"type": …, "data": {…}}``)."""
        self.verify(headers, body)
        try:
            event = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest("webhook body is not valid JSON") from exc
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise BadRequest("webhook body is not an event (no 'type')")
        return event
