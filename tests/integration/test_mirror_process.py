"""The mirror worker's own process (api/mirror_process.py): started in the
background below the server's priority, started again after it died, stopped with
the server. That it mirrors pushes is proven by the live mirror tests, whose servers
run on a SQLite file and so use this process."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from dakora.api.mirror_process import MirrorProcess
from dakora.api.process_pool import BACKGROUND_NICE
from dakora.registry.core import Settings
from dakora.registry.db import upgrade

pytestmark = pytest.mark.integration


def _wait(predicate: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat from field 3 (state) on: nice is field 19, policy field 41."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def in_background_class(pid: int, own_nice: int) -> bool:
    """``lower_priority`` applied: ``BACKGROUND_NICE`` steps down, the normal
    scheduling class (policy 0: an idle-class lock holder starves, see there)."""
    fields = _stat(pid)
    return int(fields[16]) == min(19, own_nice + BACKGROUND_NICE) and fields[38] == "0"


def test_started_in_the_background_restarted_after_a_kill_and_stopped(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{(tmp_path / 'dakora.db').as_posix()}"
    upgrade(url)
    settings = Settings(data_dir=tmp_path, database_url=url, mirror_backend="local")
    mirror = MirrorProcess(settings, None)
    mirror.start().join(60)
    try:
        first = mirror.pid
        assert first is not None and _alive(first)
        own = os.nice(0)
        _wait(lambda: in_background_class(first, own))  # below the server
        os.kill(first, 9)
        _wait(lambda: not _alive(first))
        # the fork server reports the death through a pipe: a moment later
        _wait(
            lambda: mirror._worker is not None and not mirror._worker.process.is_alive()
        )
        mirror.notify()  # a push landed: the dead process is replaced
        second = mirror.pid
        assert second is not None and second != first and _alive(second)
    finally:
        mirror.stop()
    assert mirror.pid is None
    _wait(lambda: not _alive(second))
    mirror.notify()  # after stop: nothing is started again
    assert mirror.pid is None
