"""A repack that replaces the packs while a push's object checks look objects up in
them (found by the soak: "internal error" for a push that raced the auto repack).
The checks list the repository's packs once (hooks/already_stored.py); a pack deleted
after that must send the lookup to the store, which lists them again."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from dulwich.object_store import DiskObjectStore
from dulwich.pack import Pack

from dakora.hooks.already_stored import not_stored
from dakora.hooks.pushed_objects import StoredObject

pytestmark = pytest.mark.integration


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


class RepackedAfterListing(DiskObjectStore):
    """A store whose first pack listing is followed, at once, by ``git repack -a -d``
    (what ``hooks/repack.py`` runs under the project lock, which the checks do not
    hold)."""

    repacked = False

    @property
    def packs(self) -> list[Pack]:
        listed = list(super().packs)
        if not self.repacked:
            self.repacked = True
            git(Path(self.path).parent, "repack", "-a", "-d", "-q")
        return listed


def test_a_pack_replaced_after_listing_is_looked_up_again(tmp_path: Path) -> None:
    bare = tmp_path / "r.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(bare, "config", "receive.unpackLimit", "1")  # keep each push as a pack
    work = tmp_path / "w"
    git(tmp_path, "init", "-q", "-b", "main", str(work))
    for n in range(3):  # three pushes, three packs
        (work / f"f{n}.txt").write_text(f"file {n}\n")
        git(work, "add", "-A")
        git(work, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", str(n))
        git(work, "push", "-q", str(bare), "HEAD:refs/heads/main")
    assert len(list((bare / "objects" / "pack").glob("*.pack"))) == 3
    shas = git(work, "rev-list", "--objects", "--all").split()
    shas = [s for s in shas if len(s) == 40]
    store = RepackedAfterListing(str(bare / "objects"))
    objects = [StoredObject(sha=s.encode(), kind="blob", size=0) for s in shas]
    assert not_stored(store, objects) == []  # every object is still stored
    assert store.repacked
    assert len(list((bare / "objects" / "pack").glob("*.pack"))) == 1
