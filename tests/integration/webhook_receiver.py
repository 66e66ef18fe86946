"""A loopback webhook receiver for the live tests: a real HTTP server in a thread that
verifies every delivery with the ``standardwebhooks`` library (the reference
verifier, not Dakora's code) and keeps what it got.

``POST /hook`` answers 204 when the signature verifies, 401 otherwise; ``POST
/redirect`` answers 302 to ``/hook`` (which Dakora must not follow); ``POST /fail``
answers 500. ``port`` may be given to come up on a port a webhook already points at
(the "receiver down, then up" test).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    error: str | None = None

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    secret: str | None = None  # set once `add` printed it
    port: int = 0
    got: list[Delivery] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                verified, error = False, None
                try:
                    if receiver.secret is None:
                        raise WebhookVerificationError("no secret yet")
                    Webhook(receiver.secret).verify(body, headers)
                    verified = True
                except WebhookVerificationError as exc:
                    error = str(exc)
                with receiver._lock:
                    receiver.got.append(
                        Delivery(self.path, headers, body, verified, error)
                    )
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", "/hook")
                    self.end_headers()
                    return
                status = 500 if self.path == "/fail" else (204 if verified else 401)
                self.send_response(status)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def deliveries(self, path: str = "/hook") -> list[Delivery]:
        with self._lock:
            return [d for d in self.got if d.path == path]

    def events(self, path: str = "/hook") -> list[str]:
        return [d.json["type"] for d in self.deliveries(path)]


def wait_for(
    what: Callable[[], Any], timeout: float = 30.0, message: str = "condition"
) -> Any:
    """Poll ``what`` until it returns something truthy (a deadline, not a timing
    assertion: a slow machine only waits longer)."""
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(0.1)
