"""Keep a replica's local repository in step with the index (docs/design.md §11).

Several server processes share one PostgreSQL (index, ``refs`` table, advisory locks)
and one blob container (the mirror). Each keeps a local repository per project as a
cache. :meth:`ReplicaSync.ensure_fresh` compares the index's refs with the local
repository's and, when they differ, catches up from the mirror:

1. a missing repository is created (empty, ``HEAD`` → the default branch);
2. the packs the manifest lists and the repository lacks are downloaded (packs are
   immutable, so this needs no lock);
3. once the manifest's refs (peeled) equal the index's, the local refs are set to the
   manifest's under the project lock (a push on this replica holds the same lock
   between moving its refs and committing its index rows, so a reader never rolls a
   push back).

The pushing replica mirrors its push right after it (outbox + worker), so a replica
that is behind waits up to ``wait_seconds`` for the mirror to reach the index, then
raises ``MirrorBehind``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from dulwich.errors import NotGitRepository
from dulwich.objects import Commit, Tag
from dulwich.repo import Repo
from sqlalchemy import Engine, select

from dakora.registry.core import KeyedThreadLocks, StorageError
from dakora.registry.db import read, refs
from dakora.registry.git import as_oid, as_ref
from dakora.registry.mirror.backends import BlobStore
from dakora.registry.mirror.sync import Manifest, MirrorBehind, read_manifest

log = logging.getLogger("dakora.mirror")

INDEXED_PREFIXES = ("refs/heads/", "refs/tags/")
ProjectLocker = Callable[[str], AbstractContextManager[None]]


def _peel(repo: Repo, sha: str) -> str | None:
    """The commit ``sha`` names through annotated tags; None if missing / not a commit."""
    try:
        obj = repo.object_store[as_oid(sha)]
        while isinstance(obj, Tag):
            obj = repo.object_store[obj.object[1]]
    except KeyError:
        return None
    return obj.id.decode("ascii") if isinstance(obj, Commit) else None


def _indexed(raw: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in raw.items() if k.startswith(INDEXED_PREFIXES)}


def local_refs(repo_path: Path) -> dict[str, str] | None:
    """Branches and tags of the repository, peeled to commits; None if it is missing."""
    if not (Path(repo_path) / "objects").is_dir():
        return None
    try:
        repo = Repo(str(repo_path))
    except (NotGitRepository, OSError):
        return None
    try:
        out: dict[str, str] = {}
        for name, sha in repo.refs.as_dict().items():
            text = name.decode("utf-8", "replace")
            if not text.startswith(INDEXED_PREFIXES):
                continue
            peeled = _peel(repo, sha.decode("ascii"))
            if peeled is not None:
                out[text] = peeled
        return out
    finally:
        repo.close()


class ReplicaSync:
    """Brings local repositories up to the index from the mirror (one per server)."""

    def __init__(
        self,
        engine: Engine,
        store: BlobStore,
        *,
        lock: ProjectLocker | None = None,
        wait_seconds: float = 10.0,
        poll_seconds: float = 0.05,
    ) -> None:
        self.engine = engine
        self.store = store
        self.lock = lock
        self.wait_seconds = wait_seconds
        self.poll_seconds = poll_seconds
        self._project_guard = KeyedThreadLocks()  # one thread per project catches up
        self.hydrations = 0  # how many times a repository was caught up (for tests)

    # -- reading ------------------------------------------------------------------------

    def index_refs(self, project_id: str) -> dict[str, str]:
        with read(self.engine) as conn:
            rows = conn.execute(
                select(refs.c.name, refs.c.sha).where(refs.c.project_id == project_id)
            ).all()
        return {r.name: r.sha for r in rows}

    def is_fresh(self, project_id: str, repo_path: Path) -> bool:
        local = local_refs(repo_path)
        return local is not None and local == self.index_refs(project_id)

    # -- catching up ----------------------------------------------------------------------

    def ensure_fresh(
        self,
        project_id: str,
        prefix: str,
        repo_path: Path,
        *,
        default_branch: str = "main",
        locked: bool = False,
    ) -> bool:
        """Make the local repository match the index; True when it changed anything.

        ``locked``: the caller already holds the project lock (the push pipeline).
        Raises ``MirrorBehind`` when the mirror does not reach the index in time and
        ``StorageError`` when the blob store cannot be read.
        """
        repo_path = Path(repo_path)
        target = self.index_refs(project_id)
        current = local_refs(repo_path)
        if current == target:
            return False
        if current is None and not target:
            self._create_empty(repo_path, default_branch, None)
            return True
        with self._project_guard(project_id):
            return self._catch_up(
                project_id, prefix, repo_path, default_branch, locked=locked
            )

    def _catch_up(
        self,
        project_id: str,
        prefix: str,
        repo_path: Path,
        default_branch: str,
        *,
        locked: bool,
    ) -> bool:
        deadline = time.monotonic() + self.wait_seconds
        changed = False
        while True:
            target = self.index_refs(project_id)
            current = local_refs(repo_path)
            if current == target:
                return changed
            manifest, etag = read_manifest(self.store, prefix)
            if current is None:
                self._create_empty(repo_path, default_branch, manifest.head)
                changed = True
            if etag is not None and self._download_packs(prefix, repo_path, manifest):
                changed = True
            if (
                etag is not None
                and self._manifest_peeled(repo_path, manifest) == target
            ):
                holder = (
                    contextlib.nullcontext()
                    if locked or self.lock is None
                    else self.lock(project_id)
                )
                with holder:
                    # Under the lock: a push here has committed its index rows, or
                    # has not moved its refs yet; the index is the truth either way.
                    if self.index_refs(project_id) == target:
                        self._set_refs(repo_path, manifest)
                        self.hydrations += 1
                        log.info("caught up %s from the mirror", prefix)
                        return True
                continue  # the index moved meanwhile: look again
            if time.monotonic() >= deadline:
                raise MirrorBehind(
                    f"the mirror of {prefix.rstrip('/')} has not reached the index "
                    f"after {self.wait_seconds:.0f} s; try again"
                )
            time.sleep(self.poll_seconds)

    @staticmethod
    def _create_empty(repo_path: Path, default_branch: str, head: str | None) -> None:
        """A new empty bare repository, created aside and renamed into place."""
        if (repo_path / "objects").is_dir():
            return
        repo_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = repo_path.with_name(f".{repo_path.name}.hydrate-{uuid.uuid4().hex[:8]}")
        repo = Repo.init_bare(str(tmp), mkdir=True)
        try:
            target = head or f"refs/heads/{default_branch}"
            repo.refs.set_symbolic_ref(as_ref("HEAD"), as_ref(target))
        finally:
            repo.close()
        try:
            if repo_path.is_dir() and not any(repo_path.iterdir()):
                repo_path.rmdir()
            os.rename(tmp, repo_path)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not (repo_path / "objects").is_dir():
                raise StorageError(
                    f"cannot create the repository {repo_path}"
                ) from None

    def _download_packs(self, prefix: str, repo_path: Path, manifest: Manifest) -> bool:
        pack_dir = repo_path / "objects" / "pack"
        pack_dir.mkdir(parents=True, exist_ok=True)
        got_any = False
        for pack in manifest.packs:
            if (pack_dir / f"{pack}.idx").is_file():
                continue
            for suffix in (".pack", ".idx"):  # the .idx last: it makes the pack visible
                got = self.store.get(f"{prefix}objects/pack/{pack}{suffix}")
                if got is None:
                    raise StorageError(f"the mirror is missing {pack}{suffix}")
                tmp = pack_dir / f".hydrate-{uuid.uuid4().hex[:8]}{suffix}"
                tmp.write_bytes(got[0])
                os.replace(tmp, pack_dir / f"{pack}{suffix}")
            got_any = True
        return got_any

    @staticmethod
    def _manifest_peeled(repo_path: Path, manifest: Manifest) -> dict[str, str] | None:
        repo = Repo(str(repo_path))
        try:
            out: dict[str, str] = {}
            for name, sha in _indexed(manifest.refs).items():
                peeled = _peel(repo, sha)
                if peeled is None:
                    return None
                out[name] = peeled
            return out
        finally:
            repo.close()

    @staticmethod
    def _set_refs(repo_path: Path, manifest: Manifest) -> None:
        repo = Repo(str(repo_path))
        try:
            wanted = _indexed(manifest.refs)
            current = _indexed(
                {k.decode(): v.decode() for k, v in repo.refs.as_dict().items()}
            )
            for name, sha in wanted.items():
                if current.get(name) != sha:
                    repo.refs[as_ref(name)] = as_oid(sha)
            for name in set(current) - set(wanted):
                repo.refs.remove_if_equals(as_ref(name), as_oid(current[name]))
        finally:
            repo.close()
