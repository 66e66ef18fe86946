"""``FolderSnapshot``: a working tree or plain folder read from disk (``.git``
skipped, symlinks never followed), for ``dakora lint`` and local rendering.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from dakora.registry.core import BlobSha, NotFound
from dakora.registry.git.layout import is_safe_relpath
from dakora.registry.git.snapshot_base import SnapshotBase, SnapshotParts

if TYPE_CHECKING:
    pass


class FolderParts(SnapshotParts):
    def __init__(self, snapshot: FolderSnapshot, parts_dir: str) -> None:
        super().__init__(snapshot, parts_dir)
        self._folder = snapshot
        self._key: str | None = None

    @property
    def key(self) -> str:
        if self._key is None:
            digest = hashlib.sha1()
            for path in self._folder.list_dir(self._dir):
                digest.update(f"{path}\0{self._folder.blob_sha(path)}\n".encode())
            self._key = digest.hexdigest()
        return self._key


class FolderSnapshot(SnapshotBase):
    """A working tree or plain folder (``root`` = the prompt root). ``.git`` is
    skipped; symlinks are never followed (reading one gives its target, as git)."""

    def __init__(self, root: Path | str) -> None:
        self._root = Path(root).absolute()
        if not self._root.is_dir():
            raise NotFound(f"no such folder: {self._root}", path=str(self._root))
        self._data: dict[str, bytes] = {}
        self._shas: dict[str, BlobSha] = {}
        self._listing: dict[str, list[str]] = {}
        self._parts: FolderParts | None = None

    @property
    def root(self) -> Path:
        return self._root

    @property
    def commit(self) -> None:
        return None

    @property
    def parts(self) -> FolderParts:
        if self._parts is None:
            self._parts = FolderParts(self, self.parts_dir)
        return self._parts

    def _full(self, path: str) -> Path:
        if not is_safe_relpath(path):
            raise NotFound(f"not a path inside the repository: {path}", path=path)
        return self._root / path

    def exists(self, path: str) -> bool:
        try:
            full = self._full(path)
        except NotFound:
            return False
        return full.is_symlink() or full.is_file()

    def is_symlink(self, path: str) -> bool:
        try:
            return self._full(path).is_symlink()
        except NotFound:
            return False

    def read(self, path: str) -> bytes:
        if path not in self._data:
            full = self._full(path)
            try:
                if full.is_symlink():
                    data = os.fsencode(os.readlink(full))
                else:
                    data = full.read_bytes()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
                raise NotFound(f"no file {path}", path=path) from exc
            self._data[path] = data
        return self._data[path]

    def blob_sha(self, path: str) -> BlobSha:
        if path not in self._shas:
            data = self.read(path)
            self._shas[path] = BlobSha(
                hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()
            )
        return self._shas[path]

    def size(self, path: str) -> int:
        full = self._full(path)
        if full.is_symlink():
            return len(os.fsencode(os.readlink(full)))
        return full.stat().st_size

    def list_dir(self, folder: str) -> list[str]:
        folder = folder.strip("/")
        if folder not in self._listing:
            base = self._root / folder if folder else self._root
            out: list[str] = []
            if (
                (folder == "" or is_safe_relpath(folder))
                and base.is_dir()
                and not (base.is_symlink())
            ):
                for dirpath, dirnames, filenames in os.walk(base):
                    rel = Path(dirpath).relative_to(self._root).as_posix()
                    rel = "" if rel == "." else rel
                    keep = []
                    for d in dirnames:
                        if d == ".git":
                            continue
                        if os.path.islink(os.path.join(dirpath, d)):
                            filenames.append(d)  # a symlinked folder is a "file"
                        else:
                            keep.append(d)
                    dirnames[:] = keep
                    for name in filenames:
                        if rel == "" and name == ".git":
                            continue
                        out.append(f"{rel}/{name}" if rel else name)
            self._listing[folder] = sorted(out)
        return list(self._listing[folder])

    def all_paths(self) -> list[str]:
        return self.list_dir("")
