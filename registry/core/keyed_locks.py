"""One ``threading.Lock`` per key: how threads of one process queue for a project's
cross-process lock (a lock file, a PostgreSQL advisory lock)."""

from __future__ import annotations

import threading


class KeyedThreadLocks:
    """One ``threading.Lock`` per key, created on first use (threads of a process
    serialize on it before taking a cross-process lock)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def __call__(self, key: str) -> threading.Lock:
        with self._guard:
            lock = self._locks.get(key)
            if lock is None:
                lock = self._locks[key] = threading.Lock()
            return lock
