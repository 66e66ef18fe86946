"""The ``make run`` banner: its "Try:" commands work when pasted into a shell.

The server is started as ``make run`` does (``.venv/bin/dakora serve --demo`` from a
folder holding ``.venv``, with ``dakora`` not on PATH); every command of the banner is
then run by ``bash`` in that folder, with the same PATH.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.fixtures.server import dakora_executable, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _path_without_dakora() -> str:
    keep = [
        d
        for d in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep)
        if d and not (Path(d) / "dakora").exists()
    ]
    return os.pathsep.join(keep)


def _try_commands(banner: str) -> list[str]:
    lines = banner.split("Try:\n", 1)[1].splitlines()
    commands: list[str] = []
    pending = ""
    for line in lines:
        if not line.strip():
            break
        pending += line.strip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        commands.append(pending)
        pending = ""
    return commands


def test_banner_commands_run_when_pasted(tmp_path: Path) -> None:
    venv = Path(dakora_executable()).parent.parent
    (tmp_path / ".venv").symlink_to(venv)
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DAKORA_", "VIRTUAL"))
    }
    env.update(
        PATH=_path_without_dakora(),
        HOME=str(tmp_path),
        NO_COLOR="1",
        PYTHONUNBUFFERED="1",
        DAKORA_DATA_DIR=str(tmp_path / "data"),
    )
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [".venv/bin/dakora", "serve", "--demo", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert server.poll() is None, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        banner = log.read_text()
        commands = _try_commands(banner)
        assert len(commands) == 5, banner
        assert any(
            c.split()[2] == ".venv/bin/dakora" for c in commands if "render" in c
        )
        for command in commands:
            done = subprocess.run(
                ["bash", "-c", command],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0, (command, done.stdout, done.stderr)
            if command.startswith("curl"):  # curl exits 0 on an HTTP error too
                assert '"error"' not in done.stdout, (command, done.stdout)
                assert "support-reply" in done.stdout or "Ada" in done.stdout
            if " render " in command:
                assert "Ada" in done.stdout
        assert (tmp_path / "demo" / ".git").is_dir()  # the git clone line
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
