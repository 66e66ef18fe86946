"""A daemon thread that runs one pass of work every ``interval`` seconds, or at once
when woken (``notify()``, after a push): the mirror's and the webhooks' outbox
workers. A pass that raises is logged and the loop goes on; a pass that returns True
(more work may be due at once) is followed by the next without waiting."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable


class BackgroundLoop:
    def __init__(
        self,
        work: Callable[[], bool],
        *,
        name: str,
        log: logging.Logger,
        interval: float = 1.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self._work = work
        self._name = name
        self._log = log
        self.interval = interval
        self._stop_timeout = stop_timeout
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name=self._name, daemon=True
            )
            self._thread.start()

    def notify(self) -> None:
        """Wake the loop now instead of at the next interval."""
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(self._stop_timeout if timeout is None else timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            busy = False
            try:
                busy = self._work()
            except Exception:  # noqa: BLE001  the loop must outlive any failure
                self._log.exception("%s pass failed", self._name)
            if not busy:
                self._wake.wait(self.interval)
            self._wake.clear()
