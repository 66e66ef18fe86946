"""`dakora start` / `dakora stop` explain clearly when Docker is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
DAKORA = str(Path(sys.executable).parent / "dakora")


@pytest.mark.parametrize("command", ["start", "stop"])
def test_without_docker_on_path(command: str, tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}  # an empty PATH: no docker
    proc = subprocess.run(
        [DAKORA, command], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert "Docker is not installed" in proc.stderr
    assert "Traceback" not in proc.stderr


# What a docker client prints when it cannot do the job, and what we say instead.
DOCKER_FAILURES = {
    "no engine": (
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
        "Is the docker daemon running?",
        "no Docker engine is running",
    ),
    "no compose plugin": (
        "docker: 'compose' is not a docker command.",
        "without the Compose plugin",
    ),
}


@pytest.mark.parametrize("command", ["start", "stop"])
@pytest.mark.parametrize("failure", sorted(DOCKER_FAILURES))
def test_a_docker_client_that_cannot_do_the_job(
    tmp_path: Path, failure: str, command: str
) -> None:
    printed, expected = DOCKER_FAILURES[failure]
    fake = tmp_path / "docker"
    fake.write_text(f'#!/bin/sh\necho "{printed}" >&2\nexit 1\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:/usr/bin:/bin"}
    proc = subprocess.run(
        [DAKORA, command], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr


def test_serve_refuses_a_misconfigured_mirror_without_a_traceback(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAKORA_")}
    env["DAKORA_MIRROR_BACKEND"] = "azure"  # but no connection string nor account URL
    proc = subprocess.run(
        [DAKORA, "serve", "--data-dir", str(tmp_path / "data"), "--port", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "DAKORA_AZURE_CONNECTION_STRING or DAKORA_AZURE_ACCOUNT_URL" in proc.stderr
    assert "Traceback" not in proc.stderr
