"""The quarantine of pushed objects (hooks/quarantine.py; docs/design.md §6, §12).

Real packs made by ``git pack-objects``, a real bare repository, real processes for
the "is its push still running" check. File ages are set with ``os.utime`` and
compared against ``_quarantine_is_stale``'s own ``now``; nothing waits on the clock.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from dulwich.objects import Blob
from dulwich.repo import Repo

from dakora.hooks.quarantine import (
    QUARANTINE_PREFIX,
    STALE_FILE_AGE,
    STALE_LOCK_AGE,
    Quarantine,
    _age,
    _pid_alive,
    _quarantine_is_stale,
    cleanup_stale,
    remove_stale_lock,
)


def _git(cwd: Path, *args: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(
        ["git", *args], cwd=cwd, input=stdin, capture_output=True, check=True
    ).stdout


@pytest.fixture
def bare(tmp_path: Path) -> Repo:
    return Repo.init_bare(str(tmp_path / "r.git"), mkdir=True)


def _pack_of_one_commit(tmp_path: Path) -> tuple[bytes, str]:
    work = tmp_path / "work"
    work.mkdir()
    _git(work, "init", "-q")
    (work / "a.txt").write_text("hello\n")
    _git(work, "add", "a.txt")
    _git(
        work,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.com",
        "commit",
        "-qm",
        "one",
    )
    head = _git(work, "rev-parse", "HEAD").decode().strip()
    pack = _git(work, "pack-objects", "--stdout", "--revs", stdin=b"HEAD\n")
    return pack, head


def _pack_files(objects: str) -> set[str]:
    return set(os.listdir(os.path.join(objects, "pack")))


def test_a_received_pack_is_invisible_until_accepted(
    bare: Repo, tmp_path: Path
) -> None:
    data, head = _pack_of_one_commit(tmp_path)
    objects = bare.object_store.path
    with Quarantine(objects) as q:
        assert q.pack_bytes() == 0
        assert q.receive_pack(io.BytesIO(data).read, None) == 3  # commit, tree, blob
        assert q.pack_bytes() == sum(
            os.path.getsize(os.path.join(q.path, "pack", n))
            for n in os.listdir(os.path.join(q.path, "pack"))
            if n.endswith(".pack")
        )
        assert q.pack_bytes() > 0
        assert head.encode() not in Repo(bare.path).object_store
        moved = q.accept()
    assert len(moved) == 1
    assert _pack_files(objects) >= {moved[0] + ".pack", moved[0] + ".idx"}
    assert head.encode() in Repo(bare.path).object_store
    assert _git(Path(bare.path), "cat-file", "-t", head).strip() == b"commit"


def test_an_empty_pack_is_dropped(bare: Repo, tmp_path: Path) -> None:
    empty = _git(Path(bare.path), "pack-objects", "--stdout", stdin=b"")
    objects = bare.object_store.path
    with Quarantine(objects) as q:
        assert q.receive_pack(io.BytesIO(empty).read, None) == 0
        assert q.accept() == []
    assert _pack_files(objects) == set()


def test_accept_moves_every_indexed_pack_with_its_rev_and_bitmap(bare: Repo) -> None:
    objects = bare.object_store.path
    with Quarantine(objects) as q:
        pack = Path(q.path, "pack")
        # "a" has no index yet (still being written): skipped, the others still move
        (pack / "pack-a.pack").write_bytes(b"a")
        for ext in (".bitmap", ".idx", ".pack", ".rev"):
            (pack / f"pack-b{ext}").write_bytes(ext.encode())
        (pack / "pack-c.idx").write_bytes(b".idx")
        (pack / "pack-c.pack").write_bytes(b".pack")
        assert q.accept() == ["pack-b", "pack-c"]
    dest = Path(objects, "pack")
    assert _pack_files(objects) == {
        "pack-b.bitmap",
        "pack-b.idx",
        "pack-b.pack",
        "pack-b.rev",
        "pack-c.idx",
        "pack-c.pack",
    }
    for ext in (".bitmap", ".idx", ".pack", ".rev"):
        assert (dest / f"pack-b{ext}").read_bytes() == ext.encode()


def test_accept_moves_loose_objects_too(bare: Repo) -> None:
    blob = Blob.from_string(b"loose in the quarantine")
    with Quarantine(bare.object_store.path) as q:
        q.store.add_object(blob)
        assert blob.id not in Repo(bare.path).object_store
        q.accept()
    assert blob.id in Repo(bare.path).object_store


def test_age_renamed_is_keyword_only(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("")
    os.utime(f, (1000, 1000))
    assert _age(str(f), 1600.0) == 600.0
    with pytest.raises(TypeError):
        _age(str(f), 1600.0, True)  # type: ignore[misc]


def test_a_quarantine_without_a_pid_is_stale_from_exactly_an_hour(
    tmp_path: Path,
) -> None:
    d = tmp_path / f"{QUARANTINE_PREFIX}nopid"
    d.mkdir()
    os.utime(d, (1000, 1000))
    assert STALE_FILE_AGE == 3600.0
    assert not _quarantine_is_stale(d.name, str(d), 1000 + 3599.5)
    assert _quarantine_is_stale(d.name, str(d), 1000 + 3600.0)


def test_a_quarantine_of_a_running_process_is_kept_and_not_signalled(
    bare: Repo,
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        objects = Path(bare.object_store.path)
        mine = objects / f"{QUARANTINE_PREFIX}{child.pid}-x"
        mine.mkdir()
        assert cleanup_stale(bare.path) == []
        assert mine.exists()
        assert child.poll() is None  # still running: only asked whether it exists
    finally:
        assert child.stdin is not None
        child.stdin.close()
        # it ends on its own once its input closes: no signal (a SIGHUP from
        # ``kill(pid, 1)`` would end it with -1, however late it arrives)
        assert child.wait() == 0
    # once it is gone, its quarantine is
    assert cleanup_stale(bare.path) == [str(mine)]


def test_a_process_of_another_user_is_alive() -> None:
    # pid 1 belongs to root: an unprivileged signal to it is refused (EPERM), which
    # still means it runs. Checked in a child that gives up root, if it has it.
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 3
        try:
            if os.getuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            code = 0 if _pid_alive(1) else 1
        except BaseException:
            code = 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_fresh_leftovers_are_kept(bare: Repo) -> None:
    pack = Path(bare.object_store.path, "pack")
    (pack / "tmp_pack_fresh").write_text("")  # someone's receive in progress
    (pack / "pack-orphan.pack").write_text("")
    # an old mtime, but just renamed here (ctime now): a pack being moved in
    os.utime(pack / "pack-orphan.pack", (1000, 1000))
    assert cleanup_stale(bare.path) == []
    assert (pack / "tmp_pack_fresh").exists()
    assert (pack / "pack-orphan.pack").exists()


def test_a_lock_is_stale_after_its_max_age(tmp_path: Path) -> None:
    lock = tmp_path / "main.lock"
    lock.write_text("")
    assert STALE_LOCK_AGE == 10.0
    assert not remove_stale_lock(str(lock), max_age=3600.0)  # fresh: a writer's
    assert lock.exists()
    os.utime(lock, (1000, 1000))  # decades old
    assert remove_stale_lock(str(lock))
    assert not lock.exists()
    assert not remove_stale_lock(str(lock))  # gone: nothing to remove


def _old_inode() -> Path:
    # a file whose inode has not changed in a long time (its ctime, which os.utime
    # cannot set back, is old): the interpreter's own binary, reached by a symlink
    # (cleanup_stale stats through it; removing the link leaves the binary alone)
    target = Path(sys.executable).resolve()
    import time

    assert time.time() - target.stat().st_ctime > 3600  # the test's precondition
    return target


def test_an_old_pack_without_its_index_is_removed_one_with_it_kept(
    bare: Repo,
) -> None:
    pack = Path(bare.object_store.path, "pack")
    (pack / "pack-orphan.pack").symlink_to(_old_inode())
    (pack / "pack-whole.pack").symlink_to(_old_inode())
    (pack / "pack-whole.idx").write_text("")
    removed = cleanup_stale(bare.path)
    assert removed == [str(pack / "pack-orphan.pack")]
    assert not (pack / "pack-orphan.pack").is_symlink()
    assert (pack / "pack-whole.pack").is_symlink()
    assert _old_inode().exists()


def test_cleanup_logs_what_it_removed_and_nothing_else(
    bare: Repo, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.WARNING, logger="dakora.hooks.quarantine")
    assert cleanup_stale(bare.path) == []
    assert caplog.records == []
    lock = Path(bare.path, "refs", "heads", "main.lock")
    lock.write_text("")
    os.utime(lock, (1000, 1000))
    assert cleanup_stale(bare.path) == [str(lock)]
    assert any(
        "removed stale push leftovers" in r.getMessage() and str(lock) in r.getMessage()
        for r in caplog.records
    )


def test_cleanup_max_lock_age_is_keyword_only(bare: Repo) -> None:
    with pytest.raises(TypeError):
        cleanup_stale(bare.path, 5.0)  # type: ignore[misc]


def test_the_options_are_keyword_only(bare: Repo, tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    lock.write_text("")
    with pytest.raises(TypeError):
        remove_stale_lock(str(lock), 5.0)  # type: ignore[misc]
    with Quarantine(bare.object_store.path) as q, pytest.raises(TypeError):
        q.receive_pack(io.BytesIO(b"").read, None, 100)  # type: ignore[misc]


def test_a_dead_process_with_a_lower_pid_is_not_alive() -> None:
    mine = os.getpid()
    dead = next(p for p in range(mine - 1, 1, -1) if not Path(f"/proc/{p}").exists())
    assert not _pid_alive(dead)
    assert _pid_alive(mine)


def test_a_quarantine_name_without_a_numeric_pid_goes_by_its_age(
    tmp_path: Path,
) -> None:
    for name in (f"{QUARANTINE_PREFIX}abc-x", f"{QUARANTINE_PREFIX}123"):
        d = tmp_path / name
        d.mkdir()
        os.utime(d, (1000, 1000))
        assert not _quarantine_is_stale(name, str(d), 1000 + 60.0)
        assert _quarantine_is_stale(name, str(d), 1000 + 7200.0)


def test_loose_objects_join_an_existing_fan_out_directory(bare: Repo) -> None:
    blob = Blob.from_string(b"shares a fan-out directory")
    os.makedirs(os.path.join(bare.object_store.path, blob.id[:2].decode()))
    with Quarantine(bare.object_store.path) as q:
        q.store.add_object(blob)
        q.accept()
    assert blob.id in Repo(bare.path).object_store


def test_dropping_a_quarantine_someone_already_removed_is_fine(bare: Repo) -> None:
    import shutil

    with Quarantine(bare.object_store.path) as q:
        shutil.rmtree(q.path)
    q.drop()  # twice: still nothing raised


def _renamed_at(path: Path) -> float:
    # the moment an orphan's age counts from: its last write or rename (ctime,
    # which os.utime cannot set back, so the tests move ``now`` instead)
    st = path.stat()
    return max(st.st_mtime, st.st_ctime)


def test_an_orphan_pack_is_kept_for_a_minute_after_its_rename_then_removed(
    bare: Repo,
) -> None:
    pack = Path(bare.object_store.path, "pack")
    orphan = pack / "pack-orphan.pack"
    orphan.write_text("")
    # written long ago, renamed just now (a rename updates only the ctime): the age
    # counts from the rename
    os.utime(orphan, (1000, 1000))
    at = _renamed_at(orphan)
    assert at > 1000
    assert (at + 60.0) - at == 60.0  # exact in floats: the bound itself is tested
    assert cleanup_stale(bare.path, now=at + 59.5) == []
    assert cleanup_stale(bare.path, now=at + 1.0) == []
    assert orphan.exists()
    assert cleanup_stale(bare.path, now=at + 60.0) == [str(orphan)]
    assert not orphan.exists()


def test_an_orphan_pack_a_little_over_a_minute_old_is_removed(bare: Repo) -> None:
    pack = Path(bare.object_store.path, "pack")
    orphan = pack / "pack-orphan.pack"
    orphan.write_text("")
    assert cleanup_stale(bare.path, now=_renamed_at(orphan) + 60.5) == [str(orphan)]


def test_a_pack_with_its_index_is_never_removed_however_old(bare: Repo) -> None:
    pack = Path(bare.object_store.path, "pack")
    (pack / "pack-whole.pack").write_text("")
    (pack / "pack-whole.idx").write_text("")
    assert (
        cleanup_stale(bare.path, now=_renamed_at(pack / "pack-whole.pack") + 1e9) == []
    )
    assert sorted(os.listdir(pack)) == ["pack-whole.idx", "pack-whole.pack"]


def test_a_tmp_pack_is_removed_from_exactly_an_hour_after_its_last_write(
    bare: Repo,
) -> None:
    pack = Path(bare.object_store.path, "pack")
    tmp = pack / "tmp_pack_abc"
    tmp.write_text("")
    os.utime(tmp, (1000, 1000))
    # a tmp_pack_ goes by its last write (mtime), not by its ctime (now)
    assert cleanup_stale(bare.path, now=1000 + 3599.5) == []
    assert tmp.exists()
    assert cleanup_stale(bare.path, now=1000 + 3600.0) == [str(tmp)]


def test_a_ref_lock_is_stale_from_exactly_its_max_age(bare: Repo) -> None:
    lock = Path(bare.path, "refs", "heads", "main.lock")
    lock.write_text("")
    os.utime(lock, (1000, 1000))
    assert not remove_stale_lock(str(lock), now=1000 + 9.5)
    assert cleanup_stale(bare.path, now=1000 + 9.5) == []
    assert cleanup_stale(bare.path, max_lock_age=20.0, now=1000 + 19.5) == []
    assert lock.exists()
    assert remove_stale_lock(str(lock), now=1000 + 10.0)
    lock.write_text("")
    os.utime(lock, (1000, 1000))
    # cleanup passes its ``now`` and ``max_lock_age`` on to the lock check
    assert cleanup_stale(bare.path, max_lock_age=20.0, now=1000 + 20.0) == [str(lock)]


def test_a_fresh_lock_is_kept_by_default_and_an_old_one_removed(bare: Repo) -> None:
    lock = Path(bare.path, "packed-refs.lock")
    lock.write_text("")  # written now: a writer holds it
    assert cleanup_stale(bare.path) == []
    assert not remove_stale_lock(str(lock))
    os.utime(lock, (1000, 1000))
    assert cleanup_stale(bare.path) == [str(lock)]
