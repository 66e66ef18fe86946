"""Repacking a project's repository: every push and API write adds a pack; past a
count they are combined into one (``dakora admin gc WS/PROJECT`` does it by hand).

``repack`` runs ``git repack -a -d --keep-unreachable`` under the project's lock (the
same lock the receive pipeline moves packs and refs under, so no pack arrives
meanwhile). ``--keep-unreachable`` carries every object of the old packs into the new
one — also objects no ref reaches any more (a force-pushed branch a clone in flight
may still be fetching) — so deleting the old packs deletes no object anyone may
need: the new pack is complete before git removes the old ones, and a reader that
had an old pack open keeps reading it (the file lives while open) or, after dulwich
notices it vanished, finds the same object in the new pack. Loose objects are packed
too. The mirror stays correct without a change: its manifest keeps listing the old
packs it already holds (a restore gets every object), and the caller queues a sync
so the new pack is uploaded as well.

``AutoRepack`` repacks in a background thread after an accepted push when the
repository holds more than ``pack_limit`` packs (``DAKORA_GC_PACK_LIMIT``, default
50; 0 turns it off), one repack per repository at a time, never in the push's path.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from dakora.registry.core import StorageError

logger = logging.getLogger(__name__)

DEFAULT_PACK_LIMIT = 50
REPACK_TIMEOUT_S = 3600


@dataclass(frozen=True)
class RepackResult:
    packs_before: int
    packs_after: int
    loose_before: int
    seconds: float

    @property
    def repacked(self) -> bool:
        return self.packs_before > 1 or self.loose_before > 0

    def to_dict(self) -> dict[str, object]:
        return {
            "packs_before": self.packs_before,
            "packs_after": self.packs_after,
            "loose_objects_before": self.loose_before,
            "seconds": round(self.seconds, 3),
        }


def _objects_dir(repo_path: str) -> str:
    dotgit = os.path.join(repo_path, ".git")
    return os.path.join(dotgit if os.path.isdir(dotgit) else repo_path, "objects")


def pack_count(repo_path: str) -> int:
    """Complete packs (a ``.pack`` with its ``.idx``) of a repository."""
    pack_dir = os.path.join(_objects_dir(repo_path), "pack")
    try:
        names = set(os.listdir(pack_dir))
    except FileNotFoundError:
        return 0
    return sum(1 for n in names if n.endswith(".pack") and n[:-5] + ".idx" in names)


def loose_count(repo_path: str) -> int:
    objects = _objects_dir(repo_path)
    total = 0
    for name in os.listdir(objects) if os.path.isdir(objects) else ():
        if len(name) == 2 and all(c in "0123456789abcdef" for c in name):
            total += len(os.listdir(os.path.join(objects, name)))
    return total


def repack(
    repo_path: str, hold: Callable[[], AbstractContextManager[None]]
) -> RepackResult:
    """Combine every pack and loose object of ``repo_path`` into one pack, under the
    lock ``hold()`` takes. Raises ``StorageError`` when git fails (nothing is lost:
    git removes old packs only after the new one is complete)."""
    with hold():
        start = time.monotonic()
        before, loose = pack_count(repo_path), loose_count(repo_path)
        if before <= 1 and loose == 0:
            return RepackResult(before, before, 0, time.monotonic() - start)
        cmd = [
            "git",
            "-c",
            "repack.writeBitmaps=false",  # dulwich does not read them
            "-c",
            "pack.writeReverseIndex=false",
            "-c",
            "gc.auto=0",
            "--git-dir",
            repo_path,
            "repack",
            "-a",
            "-d",
            "--keep-unreachable",
            "-q",
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        try:
            proc = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                env=env,
                timeout=REPACK_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise StorageError(f"repacking {repo_path} failed: {exc}") from exc
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
            raise StorageError(f"repacking {repo_path} failed: {detail[0]}")
        return RepackResult(
            before, pack_count(repo_path), loose, time.monotonic() - start
        )


class AutoRepack:
    """Repack a repository in the background once it passes ``pack_limit`` packs."""

    def __init__(self, pack_limit: int = DEFAULT_PACK_LIMIT) -> None:
        self.pack_limit = pack_limit
        self._running: set[str] = set()
        self._guard = threading.Lock()
        self._threads: list[threading.Thread] = []

    def due(self, repo_path: str) -> bool:
        return self.pack_limit > 0 and pack_count(repo_path) > self.pack_limit

    def maybe_repack(
        self,
        repo_path: str,
        hold: Callable[[], AbstractContextManager[None]],
        key: str | None = None,
        after: Callable[[RepackResult], None] | None = None,
    ) -> threading.Thread | None:
        """Start a background repack when due (and none runs for this repository);
        ``after`` runs once it repacked (e.g. queue a mirror sync)."""
        key = key or os.path.abspath(repo_path)
        if not self.due(repo_path):
            return None
        with self._guard:
            if key in self._running:
                return None
            self._running.add(key)
            self._threads = [t for t in self._threads if t.is_alive()]

        def work() -> None:
            try:
                result = repack(repo_path, hold)
                logger.info(
                    "repacked %s: %d packs -> %d in %.2f s",
                    repo_path,
                    result.packs_before,
                    result.packs_after,
                    result.seconds,
                )
                if after is not None and result.repacked:
                    after(result)
            except Exception:  # noqa: BLE001 - a failed repack never breaks a push
                logger.exception("background repack of %s failed", repo_path)
            finally:
                with self._guard:
                    self._running.discard(key)

        thread = threading.Thread(target=work, name="dakora-repack", daemon=True)
        with self._guard:
            self._threads.append(thread)
        thread.start()
        return thread

    def join(self, timeout: float | None = None) -> None:
        for thread in list(self._threads):
            thread.join(timeout)
