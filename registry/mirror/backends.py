"""Blob storage backends behind one small Protocol.

Only three writes are needed: create-only (immutable packs and prompt copies),
compare-and-swap on an ETag (the refs manifest), and nothing else — blobs are never
overwritten unconditionally and never deleted by the mirror.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from dakora.registry.core import ConfigError, RefConflict

if TYPE_CHECKING:
    from dakora.registry.core import Settings


class BlobStore(Protocol):
    """A flat namespace of blobs addressed by ``/``-separated names."""

    def put_new(self, name: str, data: bytes) -> bool:
        """Create ``name`` only if it does not exist. True if created, False if present."""
        ...

    def get(self, name: str) -> tuple[bytes, str] | None:
        """(content, etag), or None when the blob does not exist."""
        ...

    def put_if(self, name: str, data: bytes, etag: str | None) -> str:
        """Compare-and-swap: write only if the current etag is ``etag`` (None: absent).

        Returns the new etag; raises ``RefConflict`` when the condition fails.
        """
        ...

    def exists(self, name: str) -> bool: ...

    def list(self, prefix: str) -> list[str]:
        """Names starting with ``prefix``, sorted."""
        ...


def _etag(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LocalFolderStore:
    """A ``BlobStore`` in a local folder: the embedded default and the test twin.

    Create-only uses ``O_EXCL`` via a hard link of a finished temp file, so a reader
    never sees half a blob; the CAS holds an exclusive lock file around read+replace.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, name: str) -> Path:
        parts = [p for p in name.split("/") if p]
        if not parts or any(p in (".", "..") for p in parts):
            raise ConfigError(f"invalid blob name {name!r}")
        return self.root.joinpath(*parts)

    def _write_temp(self, path: Path, data: bytes) -> str:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return tmp

    def put_new(self, name: str, data: bytes) -> bool:
        path = self._path(name)
        tmp = self._write_temp(path, data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)
        return True

    def get(self, name: str) -> tuple[bytes, str] | None:
        try:
            data = self._path(name).read_bytes()
        except FileNotFoundError:
            return None
        return data, _etag(data)

    def put_if(self, name: str, data: bytes, etag: str | None) -> str:
        import fcntl

        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = path.with_name(path.name + ".lock")
        with open(lock_path, "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            current = self.get(name)
            current_etag = current[1] if current else None
            if current_etag != etag:
                raise RefConflict(
                    f"blob {name} changed (expected etag {etag}, found {current_etag})"
                )
            tmp = self._write_temp(path, data)
            os.replace(tmp, path)
        return _etag(data)

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def list(self, prefix: str) -> list[str]:
        base = self.root
        out: list[str] = []
        for dirpath, _dirs, files in os.walk(base):
            for fname in files:
                if fname.startswith(".tmp-") or fname.endswith(".lock"):
                    continue
                rel = Path(dirpath, fname).relative_to(base).as_posix()
                if rel.startswith(prefix):
                    out.append(rel)
        return sorted(out)


def check_store_settings(settings: Settings) -> None:
    """Refuse a mirror configuration ``open_store`` would refuse, opening nothing."""
    backend = settings.mirror_backend
    if backend not in ("none", "local", "azure"):
        raise ConfigError(f"unknown mirror backend {backend!r} (local, azure or none)")
    has_credentials = (
        settings.azure_connection_string is not None or settings.azure_account_url
    )
    if backend in ("local", "none") and has_credentials:
        given = (
            "DAKORA_AZURE_CONNECTION_STRING"
            if settings.azure_connection_string is not None
            else "DAKORA_AZURE_ACCOUNT_URL"
        )
        raise ConfigError(
            f"{given} is set but DAKORA_MIRROR_BACKEND={backend} would ignore it: "
            f"set DAKORA_MIRROR_BACKEND=azure (or leave it unset) to mirror to "
            f"Azure, or unset {given}"
        )
    if backend == "azure" and not has_credentials:
        raise ConfigError(
            "mirror backend azure needs DAKORA_AZURE_CONNECTION_STRING or "
            "DAKORA_AZURE_ACCOUNT_URL"
        )


def open_store(settings: Settings) -> BlobStore | None:
    """The mirror backend the settings ask for, or None when mirroring is off."""
    backend = settings.mirror_backend
    if backend == "none":
        return None
    if backend == "local":
        return LocalFolderStore(settings.mirror_dir)
    if backend == "azure":
        from dakora.registry.mirror.azure_store import AzureBlobStore

        return AzureBlobStore.from_settings(settings)
    raise ConfigError(f"unknown mirror backend {backend!r} (local, azure or none)")
