"""Quarantine for pushed objects (docs/design.md §6 step 1, §12).

A push's pack is received into a temporary object store *inside* the repository's
``objects/`` directory (``objects/incoming-dakora-*``), whose alternate is the real
store: checks read old and new objects through it, readers of the repository never see
the new objects. Accepting moves the ``.pack`` then its ``.idx`` into ``objects/pack``
with ``os.replace`` (same file system, atomic); the temporary directory is always
deleted. ``cleanup_stale`` removes what a killed process left behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from types import TracebackType

from dulwich.object_store import DiskObjectStore

from dakora.hooks.pack_guard import ObjectLimits, PackScanner, guard_reads

logger = logging.getLogger(__name__)

QUARANTINE_PREFIX = "incoming-dakora-"
THIN_BASE_COMPRESSION = 1


class Quarantine:
    """A temporary object store for one push. Use as a context manager."""

    def __init__(self, objects_dir: str) -> None:
        self.objects_dir = os.path.abspath(objects_dir)
        # the pid in the name tells start-up cleanup of another process whether
        # this push is still running
        self.path = tempfile.mkdtemp(
            prefix=f"{QUARANTINE_PREFIX}{os.getpid()}-", dir=self.objects_dir
        )
        os.mkdir(os.path.join(self.path, "pack"))
        os.mkdir(os.path.join(self.path, "info"))
        # zlib level 1 for the bases dulwich appends to complete a thin pack: a
        # one-file change in a folder of 10,000 files appends that folder's old
        # tree (~400 KB), which level 6 takes ~4x longer to write; the background
        # repack rewrites the packs anyway (docs/performance.md)
        self.store = DiskObjectStore(
            self.path,
            alternates=[self.objects_dir],
            pack_compression_level=THIN_BASE_COMPRESSION,
        )
        self.object_count = 0
        self.spool_path: str | None = None
        self._received = False
        self._closed = False

    # -- receiving ------------------------------------------------------------------

    def receive_pack(
        self,
        read_all: Callable[[int], bytes],
        read_some: Callable[[int], bytes] | None,
        *,
        max_input_size: int | None = None,
        limits: ObjectLimits | None = None,
    ) -> int:
        """Read a (thin) pack from the wire, complete and index it. Returns the count
        of objects received (0 for the empty pack git sends for existing commits).

        Every byte passes a ``PackScanner`` first: an object whose header states a
        size over ``limits`` raises ``PackTooLarge`` before it is inflated."""
        # the bytes as they came, for ``diagnose`` when dulwich cannot parse them
        self.spool_path = os.path.join(self.path, "received.pack")
        with open(self.spool_path, "wb") as spool:
            read_all, read_some = guard_reads(
                read_all, read_some, PackScanner(limits), spool.write
            )
            pack = self.store.add_thin_pack(
                read_all, read_some, max_input_size=max_input_size
            )
        try:
            self.object_count = len(pack)
            self._received = True
        finally:
            pack.close()
        return self.object_count

    def pack_bytes(self) -> int:
        total = 0
        pack_dir = os.path.join(self.path, "pack")
        for name in os.listdir(pack_dir):
            if name.endswith(".pack"):
                total += os.path.getsize(os.path.join(pack_dir, name))
        return total

    # -- accept / drop ---------------------------------------------------------------

    def accept(self) -> list[str]:
        """Move the received objects into the repository. Returns moved pack names.

        ``.pack`` files move before their ``.idx`` (a reader only opens packs that
        have an index, so it never sees a half-moved pack); loose objects, if any,
        move too. Empty packs are dropped.
        """
        moved: list[str] = []
        pack_dir = os.path.join(self.path, "pack")
        dest_dir = os.path.join(self.objects_dir, "pack")
        os.makedirs(dest_dir, exist_ok=True)
        names = sorted(os.listdir(pack_dir))
        for name in names:
            if not name.endswith(".pack"):
                continue
            base = name[: -len(".pack")]
            src = os.path.join(pack_dir, base)
            if not os.path.exists(src + ".idx"):
                continue
            if self.object_count == 0 and self._received:
                continue
            os.replace(src + ".pack", os.path.join(dest_dir, base + ".pack"))
            for ext in (".rev", ".bitmap"):
                if os.path.exists(src + ext):
                    os.replace(src + ext, os.path.join(dest_dir, base + ext))
            os.replace(src + ".idx", os.path.join(dest_dir, base + ".idx"))
            moved.append(base)
        for name in os.listdir(self.path):
            if len(name) == 2 and all(c in "0123456789abcdef" for c in name):
                sub = os.path.join(self.path, name)
                target = os.path.join(self.objects_dir, name)
                os.makedirs(target, exist_ok=True)
                for obj in os.listdir(sub):
                    if not os.path.exists(os.path.join(target, obj)):
                        os.replace(os.path.join(sub, obj), os.path.join(target, obj))
        return moved

    def drop(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self.store.close()
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> Quarantine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.drop()


STALE_LOCK_AGE = 10.0  # seconds; git and dulwich hold ref locks for milliseconds
STALE_FILE_AGE = 3600.0


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _quarantine_is_stale(name: str, path: str, now: float) -> bool:
    """A quarantine whose process is gone (or, without a pid, older than an hour)."""
    rest = name[len(QUARANTINE_PREFIX) :]
    pid_text, sep, _ = rest.partition("-")
    if sep and pid_text.isdigit():
        return not _pid_alive(int(pid_text))
    return _age(path, now) >= STALE_FILE_AGE


def _age(path: str, now: float, *, renamed: bool = False) -> float:
    """Seconds since the file was written (or renamed: rename updates ctime)."""
    st = os.stat(path)
    return now - (max(st.st_mtime, st.st_ctime) if renamed else st.st_mtime)


def remove_stale_lock(
    path: str, *, max_age: float = STALE_LOCK_AGE, now: float | None = None
) -> bool:
    """Delete a ref ``.lock`` file left by a killed writer (older than ``max_age``
    seconds at ``now``, default the current time)."""
    try:
        if _age(path, time.time() if now is None else now) < max_age:
            return False
        os.remove(path)
    except OSError:
        return False
    logger.warning("removed stale lock %s", path)
    return True


def cleanup_stale(
    repo_path: str, *, max_lock_age: float = STALE_LOCK_AGE, now: float | None = None
) -> list[str]:
    """Remove what a killed push left in a repository; returns the removed paths.

    Quarantine directories of processes that are gone, ``tmp_pack_*`` files older
    than an hour, ``.pack`` files without an index (not just renamed), and ref
    ``.lock`` files older than ``max_lock_age`` seconds. Safe while other processes
    of this machine push to the repository; call it at start-up. Ages are taken at
    ``now`` (default the current time; the tests pass their own, docs/mutation.md).
    """
    removed: list[str] = []
    control = repo_path
    if os.path.isdir(os.path.join(repo_path, ".git")):
        control = os.path.join(repo_path, ".git")
    objects = os.path.join(control, "objects")
    if now is None:
        now = time.time()
    if os.path.isdir(objects):
        for name in os.listdir(objects):
            path = os.path.join(objects, name)
            if name.startswith(QUARANTINE_PREFIX):
                with contextlib.suppress(OSError):
                    if _quarantine_is_stale(name, path, now):
                        shutil.rmtree(path, ignore_errors=True)
                        removed.append(path)
        pack_dir = os.path.join(objects, "pack")
        if os.path.isdir(pack_dir):
            names = set(os.listdir(pack_dir))
            for name in names:
                path = os.path.join(pack_dir, name)
                orphan = name.endswith(".pack") and name[:-5] + ".idx" not in names
                with contextlib.suppress(OSError):
                    if (orphan and _age(path, now, renamed=True) >= 60.0) or (
                        name.startswith("tmp_pack_")
                        and _age(path, now) >= STALE_FILE_AGE
                    ):
                        os.remove(path)
                        removed.append(path)
    candidates = [
        os.path.join(control, single) for single in ("packed-refs.lock", "HEAD.lock")
    ]
    for dirpath, _dirs, files in os.walk(os.path.join(control, "refs")):
        candidates += [os.path.join(dirpath, n) for n in files if n.endswith(".lock")]
    for path in candidates:
        if os.path.exists(path) and remove_stale_lock(
            path, max_age=max_lock_age, now=now
        ):
            removed.append(path)
    if removed:
        logger.warning("removed stale push leftovers: %s", ", ".join(removed))
    return removed
