"""Per-project push locks.

Ref updates of one project are serialised: the receive pipeline holds the project's
lock while it re-checks old shas, moves the quarantined pack in, swaps the refs and
writes the index. ``ProjectLock`` is the interface; ``LocalProjectLock`` serialises
threads (a ``threading.Lock`` per key) and processes on one machine (an ``fcntl``
lock on a file). A PostgreSQL advisory lock can implement the same interface for
replicas on several machines.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from dakora.registry.core import KeyedThreadLocks


class ProjectLock(Protocol):
    """Mutual exclusion of pushes to one project (``key``: any stable string)."""

    def hold(self, key: str) -> AbstractContextManager[None]:
        """A context manager holding the lock of ``key`` (blocks until acquired)."""
        ...


class LocalProjectLock:
    """Threads in this process + processes on this machine.

    ``lock_dir`` holds one lock file per key; without it the key must be a directory
    (a repository path) and the lock file is ``<key>/dakora-push.lock``.
    """

    def __init__(self, lock_dir: str | None = None) -> None:
        self._lock_dir = lock_dir
        self._thread_lock = KeyedThreadLocks()

    def _lock_path(self, key: str) -> str:
        if self._lock_dir is None:
            return os.path.join(key, "dakora-push.lock")
        os.makedirs(self._lock_dir, exist_ok=True)
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return os.path.join(self._lock_dir, f"{digest}.lock")

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._thread_lock(key):
            fd = os.open(self._lock_path(key), os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)


_DEFAULT = LocalProjectLock()


def default_project_lock() -> LocalProjectLock:
    """The process-wide lock registry (one per process, so threads share it)."""
    return _DEFAULT
