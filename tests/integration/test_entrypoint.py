"""The container's ``docker-entrypoint.sh`` itself, against the real PostgreSQL and
Azurite of the test session (no Docker engine here): it runs the migrations, then the
server, which answers ``/api/health`` and mirrors to Azurite; other commands run after
the migrations; an unreachable database fails with a clear message.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, inspect

from tests.fixtures.azurite import Azurite
from tests.fixtures.server import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "docker-entrypoint.sh"
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def database(postgres_url: str) -> Iterator[str]:
    from tests.fixtures.postgres import _create_database, _drop_database

    name = f"dakora_entry_{uuid.uuid4().hex[:10]}"
    url = _create_database(postgres_url, name)
    try:
        yield url
    finally:
        with contextlib.suppress(Exception):
            _drop_database(postgres_url, name)


def container_env(tmp_path: Path, database_url: str, azurite: Azurite) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAKORA_")}
    env.update(
        {
            "PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "DAKORA_DATA_DIR": str(tmp_path / "data"),
            "DAKORA_DATABASE_URL": database_url,
            "DAKORA_HOST": "127.0.0.1",
            "DAKORA_PORT": str(free_port()),
            "DAKORA_AUTH_MODE": "keys",
            "DAKORA_MIRROR_BACKEND": "azure",
            "DAKORA_AZURE_CONNECTION_STRING": azurite.connection_string,
            "DAKORA_AZURE_CONTAINER": f"entry{uuid.uuid4().hex[:10]}",
            "DAKORA_MIGRATE_RETRIES": "2",
        }
    )
    return env


def test_entrypoint_migrates_then_serves(
    tmp_path: Path, database: str, azurite: Azurite
) -> None:
    env = container_env(tmp_path, database, azurite)
    log = tmp_path / "entrypoint.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["sh", str(ENTRYPOINT)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{env['DAKORA_PORT']}/api/health"
        deadline = time.monotonic() + 60
        healthy = False
        while time.monotonic() < deadline and proc.poll() is None:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=1).status_code == 200:
                    healthy = True
                    break
            time.sleep(0.1)
        assert healthy, log.read_text()
        engine = create_engine(database)
        try:
            tables = set(inspect(engine).get_table_names())
        finally:
            engine.dispose()
        assert {"alembic_version", "projects", "mirror_outbox", "refs"} <= tables
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # exec'd: the server itself
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    text = log.read_text()
    # exec'd into the server (same pid), which shut down cleanly on SIGTERM (uvicorn
    # re-raises the signal after its graceful shutdown)
    assert proc.returncode in (0, -signal.SIGTERM), text
    assert f"Started server process [{proc.pid}]" in text
    assert "Application shutdown complete" in text


def test_entrypoint_runs_other_commands_after_the_migrations(
    tmp_path: Path, database: str, azurite: Azurite
) -> None:
    env = container_env(tmp_path, database, azurite)
    proc = subprocess.run(
        ["sh", str(ENTRYPOINT), "dakora", "mirror", "status", "--json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"projects": []}


def test_entrypoint_gives_up_on_an_unreachable_database(
    tmp_path: Path, azurite: Azurite
) -> None:
    port = free_port()  # nothing listens there
    env = container_env(tmp_path, f"postgresql://nobody@127.0.0.1:{port}/none", azurite)
    env["DAKORA_MIGRATE_RETRIES"] = "1"
    proc = subprocess.run(
        ["sh", str(ENTRYPOINT)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "database migrations failed 1 times; giving up" in proc.stderr
    assert "Traceback" not in proc.stderr
