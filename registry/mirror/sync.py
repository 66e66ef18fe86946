"""Mirror one project repository to a ``BlobStore``, and rebuild it from one.

Incremental by construction: packs are immutable and named by their checksum, so a
sync uploads only the packs the manifest does not list yet. Loose objects (written by
API commits or imports) are first packed into a new pack. The manifest goes last, with
compare-and-swap, so a reader of the mirror never sees a ref whose objects are missing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dulwich.repo import Repo

from dakora.registry.core import NotFound, RefConflict, StorageError
from dakora.registry.git import as_oid, as_ref, refresh_packs
from dakora.registry.mirror.backends import BlobStore

MANIFEST_NAME = "refs.json"
MAX_CAS_ATTEMPTS = 10

Progress = Callable[[str, int, int], None]  # (what, done, total)


@dataclass
class Manifest:
    refs: dict[str, str] = field(default_factory=dict)
    head: str | None = None
    packs: list[str] = field(default_factory=list)
    updated_at: str | None = None

    def to_bytes(self) -> bytes:
        body = {
            "version": 1,
            "head": self.head,
            "refs": dict(sorted(self.refs.items())),
            "packs": sorted(set(self.packs)),
            "updated_at": self.updated_at,
        }
        return json.dumps(body, indent=2).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        body = json.loads(data)
        return cls(
            refs=dict(body.get("refs", {})),
            head=body.get("head"),
            packs=list(body.get("packs", [])),
            updated_at=body.get("updated_at"),
        )


@dataclass
class SyncResult:
    packs_uploaded: int = 0
    bytes_uploaded: int = 0
    prompts_written: int = 0
    refs: dict[str, str] = field(default_factory=dict)
    cas_retries: int = 0


def _norm_prefix(prefix: str) -> str:
    return prefix.strip("/") + "/"


def read_manifest(store: BlobStore, prefix: str) -> tuple[Manifest, str | None]:
    """The project's manifest and its etag; an empty manifest and None if absent."""
    got = store.get(_norm_prefix(prefix) + MANIFEST_NAME)
    if got is None:
        return Manifest(), None
    data, etag = got
    return Manifest.from_bytes(data), etag


def _local_refs(repo: Repo) -> tuple[dict[str, str], str | None]:
    refs: dict[str, str] = {}
    for name, sha in repo.refs.as_dict().items():
        if name == b"HEAD":
            continue
        refs[name.decode()] = sha.decode()
    head: str | None = None
    try:
        chain, _ = repo.refs.follow(as_ref("HEAD"))
        if len(chain) > 1:
            head = chain[1].decode()
    except KeyError:
        head = None
    return refs, head


def _pack_names(pack_dir: Path) -> list[str]:
    if not pack_dir.is_dir():
        return []
    return sorted(
        p.stem for p in pack_dir.glob("pack-*.pack") if p.with_suffix(".idx").is_file()
    )


class MirrorBehind(StorageError):
    """This replica's repository is behind the index; the pushing replica mirrors it."""

    code = "mirror_behind"


def _peeled(repo: Repo, refs: dict[str, str]) -> dict[str, str]:
    """Branches and tags peeled to commits: what the index's ``refs`` table holds."""
    out: dict[str, str] = {}
    for name, sha in refs.items():
        if not name.startswith(("refs/heads/", "refs/tags/")):
            continue
        obj = repo.object_store[as_oid(sha)]
        while obj.type_name == b"tag":
            obj = repo.object_store[obj.object[1]]  # type: ignore[attr-defined]
        if obj.type_name == b"commit":
            out[name] = obj.id.decode()
    return out


def _pack_loose_copies(repo: Repo) -> None:
    """Copy loose objects that no pack holds yet into one new pack (for upload).

    The loose files stay where they are: deleting them (dulwich's
    ``pack_loose_objects``) races with readers, which look in the packs first and
    then in the loose folder, and so can miss an object that moves between the two.
    Objects already copied into a pack are skipped, so nothing is packed twice.
    """
    store = repo.object_store
    fresh = [
        sha for sha in store._iter_loose_objects() if not store.contains_packed(sha)
    ]
    if fresh:
        store.add_objects([(store[sha], None) for sha in fresh])


def _upload_file(store: BlobStore, name: str, path: Path) -> int:
    if store.exists(name):
        return 0
    data = path.read_bytes()
    return len(data) if store.put_new(name, data) else 0


def sync_project(
    store: BlobStore,
    prefix: str,
    repo_path: Path,
    *,
    prompt_versions: Iterable[tuple[str, str, str]] = (),
    expected_refs: Callable[[], dict[str, str]] | None = None,
    progress: Progress | None = None,
) -> SyncResult:
    """Upload what the mirror lacks, then move the manifest's refs forward.

    Order matters for concurrent pushes: refs are read *before* packs are listed (a
    push moves its pack in before its refs), so every ref in the manifest has its
    objects uploaded. ``expected_refs`` returns the authoritative peeled refs (the
    index's refs table); when this repository disagrees it is behind another replica
    and ``MirrorBehind`` is raised instead of moving the manifest backwards. It is
    asked again on every compare-and-swap attempt.
    ``prompt_versions`` are (prompt id, version, blob sha) triples published as
    readable copies, create-only.
    """
    prefix = _norm_prefix(prefix)
    result = SyncResult()
    repo = Repo(str(repo_path))
    try:
        if expected_refs is not None:
            # Cheap and Blob-free: a replica behind the index leaves the work to the
            # replica that took the push.
            try:
                behind = _peeled(repo, _local_refs(repo)[0]) != expected_refs()
            except KeyError:
                behind = True
            if behind:
                raise MirrorBehind(
                    f"repository {repo_path} is behind the index for {prefix}"
                )
        versions = list(prompt_versions)
        for i, (prompt_id, version, blob_sha) in enumerate(versions):
            name = f"{prefix}prompts/{prompt_id}/{version}.yaml"
            try:
                data = repo.object_store[as_oid(blob_sha)].as_raw_string()
            except KeyError as exc:
                raise MirrorBehind(f"blob {blob_sha} is not in {repo_path}") from exc
            if store.put_new(name, data):
                result.prompts_written += 1
                result.bytes_uploaded += len(data)
            if progress:
                progress("prompts", i + 1, len(versions))

        manifest, etag = read_manifest(store, prefix)
        pack_dir = Path(repo_path) / "objects" / "pack"
        for attempt in range(MAX_CAS_ATTEMPTS):
            refs, head = _local_refs(repo)
            if expected_refs is not None:
                wanted = expected_refs()
                try:
                    peeled = _peeled(repo, refs)
                except KeyError:
                    peeled = {}
                if peeled != wanted:
                    raise MirrorBehind(
                        f"repository {repo_path} is behind the index for {prefix}"
                    )
            _pack_loose_copies(repo)
            local_packs = _pack_names(pack_dir)
            known = set(manifest.packs)
            missing = [p for p in local_packs if p not in known]
            for i, pack in enumerate(missing):
                # the .pack before its .idx: an .idx in the mirror means a whole pack
                for suffix in (".pack", ".idx"):
                    result.bytes_uploaded += _upload_file(
                        store,
                        f"{prefix}objects/pack/{pack}{suffix}",
                        pack_dir / f"{pack}{suffix}",
                    )
                result.packs_uploaded += 1
                if progress:
                    progress("packs", i + 1, len(missing))
            new = Manifest(
                refs=refs,
                head=head,
                packs=sorted(known | set(local_packs)),
                updated_at=datetime.now(UTC).isoformat(),
            )
            if new.refs == manifest.refs and set(new.packs) == known and etag:
                break  # nothing changed: leave the manifest (and its etag) alone
            try:
                store.put_if(prefix + MANIFEST_NAME, new.to_bytes(), etag)
                break
            except RefConflict:
                result.cas_retries = attempt + 1
                manifest, etag = read_manifest(store, prefix)
        else:
            raise StorageError(
                f"mirror manifest for {prefix} kept changing; gave up after "
                f"{MAX_CAS_ATTEMPTS} attempts"
            )
        result.refs = refs
        return result
    finally:
        repo.close()


def _download_packs(
    store: BlobStore,
    prefix: str,
    repo_path: Path,
    packs: list[str],
    progress: Progress | None,
) -> None:
    """Download packs into the repository, each ``.pack`` before its ``.idx``.

    Each file is written under a temporary name and renamed into place, so a reader
    scanning the pack folder never sees half a pack.
    """
    pack_dir = repo_path / "objects" / "pack"
    pack_dir.mkdir(parents=True, exist_ok=True)
    for i, pack in enumerate(packs):
        for suffix in (".pack", ".idx"):
            got = store.get(f"{prefix}objects/pack/{pack}{suffix}")
            if got is None:
                raise StorageError(f"mirror is missing {pack}{suffix}")
            tmp = pack_dir / f".download-{pack}{suffix}"
            tmp.write_bytes(got[0])
            os.replace(tmp, pack_dir / f"{pack}{suffix}")
        if progress:
            progress("packs", i + 1, len(packs))


def restore_project(
    store: BlobStore,
    prefix: str,
    repo_path: Path,
    *,
    progress: Progress | None = None,
) -> Manifest:
    """Rebuild a bare repository at ``repo_path`` from the mirror.

    The folder must not exist or be empty. Packs are written before refs, and every ref
    target is verified before it is set.
    """
    prefix = _norm_prefix(prefix)
    manifest, etag = read_manifest(store, prefix)
    if etag is None:
        raise NotFound(f"no mirror of {prefix.rstrip('/')} (no {MANIFEST_NAME})")
    repo_path = Path(repo_path)
    if repo_path.exists() and any(repo_path.iterdir()):
        raise StorageError(f"{repo_path} exists and is not empty; move it away first")
    repo_path.mkdir(parents=True, exist_ok=True)
    repo = Repo.init_bare(str(repo_path))
    try:
        _download_packs(store, prefix, repo_path, manifest.packs, progress)
        refresh_packs(repo.object_store)
        for name, sha in manifest.refs.items():
            if as_oid(sha) not in repo.object_store:
                raise StorageError(f"mirror ref {name} points at missing object {sha}")
            repo.refs[as_ref(name)] = as_oid(sha)
        if manifest.head:
            repo.refs.set_symbolic_ref(as_ref("HEAD"), as_ref(manifest.head))
        return manifest
    finally:
        repo.close()


def hydrate_project(
    store: BlobStore,
    prefix: str,
    repo_path: Path,
    *,
    progress: Progress | None = None,
) -> int:
    """Bring a replica's local repository up to the mirror: the read side of §11.

    A missing repository is restored whole; an existing one downloads only the packs
    it lacks, then moves its refs to the manifest's. Returns the number of packs
    downloaded. Safe to call concurrently with readers (packs land before refs).
    """
    repo_path = Path(repo_path)
    if not (repo_path / "objects").is_dir():
        manifest = restore_project(store, prefix, repo_path, progress=progress)
        return len(manifest.packs)
    prefix = _norm_prefix(prefix)
    manifest, etag = read_manifest(store, prefix)
    if etag is None:
        return 0
    have = set(_pack_names(repo_path / "objects" / "pack"))
    missing = [p for p in manifest.packs if p not in have]
    _download_packs(store, prefix, repo_path, missing, progress)
    repo = Repo(str(repo_path))
    try:
        refresh_packs(repo.object_store)
        current = {k.decode(): v.decode() for k, v in repo.refs.as_dict().items()}
        for name, sha in manifest.refs.items():
            if current.get(name) != sha and as_oid(sha) in repo.object_store:
                repo.refs[as_ref(name)] = as_oid(sha)
        for name in set(current) - set(manifest.refs) - {"HEAD"}:
            repo.refs.remove_if_equals(as_ref(name), as_oid(current[name]))
    finally:
        repo.close()
    return len(missing)


def manifest_summary(manifest: Manifest) -> dict[str, Any]:
    return {"refs": manifest.refs, "packs": len(manifest.packs), "head": manifest.head}
