"""``dakora serve`` as a user runs it: the demo, restarts, and the no-auth guard."""

from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.server import (
    LiveServer,
    ServerFactory,
    dakora_executable,
    free_port,
)

pytestmark = pytest.mark.e2e

KEY_RE = re.compile(r"API key\s+(dk_[A-Za-z0-9_-]+)")
ID_RE = re.compile(r"project id\s+([0-9a-f-]{36})")


def _banner(server: LiveServer) -> tuple[str, str, str]:
    text = server.log_text()
    key = KEY_RE.search(text)
    project = ID_RE.search(text)
    assert key and project, text
    return key.group(1), project.group(1), text


def test_demo_serves_sample_repo_and_survives_restarts(
    start_live_server: ServerFactory, tmp_path: Path
) -> None:
    server = start_live_server(tmp_path, extra_args=("--demo",))
    key, project_id, text = _banner(server)
    assert "loaded from sample-repo/" in text
    assert f"{server.base_url}/docs" in text
    assert re.search(rf"Studio\s+{re.escape(server.base_url)}/studio/", text), text
    assert (
        f'curl -H "Authorization: Bearer {key}" {server.base_url}/api/projects/' in text
    )

    with server.client(key) as c:
        me = c.get("/api/me").json()
        assert [p["id"] for p in me["projects"]] == [project_id]
        assert me["key"]["scopes"] == ["read", "write"]
        listing = c.get(f"/api/projects/{project_id}/prompts").json()
        assert "support-reply" in [p["id"] for p in listing["prompts"]]
        rendered = c.post(
            "/api/projects/demo~demo/prompts/support-reply/render",
            json={"inputs": {"customer": "Ada", "ticket": "I was charged twice."}},
        )
        assert rendered.status_code == 200, rendered.text
        assert "Ada" in rendered.json()["rendered"]

    # Restart with the same data dir: same project, same key, nothing re-imported.
    server.stop()
    server.start(("--demo",))
    key2, project2, text2 = _banner(server)
    assert (key2, project2) == (key, project_id)
    assert "already loaded" in text2
    with server.client(key) as c:
        assert c.get(f"/api/projects/{project_id}/prompts").status_code == 200

    # The same data dir in development mode (no auth) on loopback: allowed.
    server.stop()
    server.env["DAKORA_AUTH_MODE"] = "none"
    server.start()
    with server.client() as c:
        r = c.get("/api/projects/demo~demo/prompts/support-reply")
        assert r.status_code == 200
        assert r.json()["id"] == "support-reply"
        local = c.get("/api/me").json()
        assert local["kind"] == "local"
        # no-auth mode names no default project: the caller must pick one
        assert local["default_project"] is None
        assert "demo" in {p["workspace"] for p in local["projects"]}
    from dakora.client import Dakora, DakoraClientError

    with (
        Dakora(server.base_url) as sdk,
        pytest.raises(DakoraClientError, match="no default project"),
    ):
        sdk.prompts.get("support-reply")
    with Dakora(server.base_url, project="demo/demo") as sdk:
        assert sdk.prompts.get("support-reply").id == "support-reply"
    server.stop()


def _refused(env_extra: dict[str, str], args: list[str], tmp_path: Path) -> None:
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DAKORA_AUTH_MODE": "none",
        **env_extra,
    }
    proc = subprocess.run(
        [
            dakora_executable(),
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
            *args,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "DAKORA_AUTH_MODE=none" in proc.stderr
    assert "0.0.0.0" in proc.stderr and "127.0.0.1" in proc.stderr
    assert "Traceback" not in proc.stderr
    with socket.socket() as sock, pytest.raises(OSError):
        sock.connect(("127.0.0.1", port))


def test_no_auth_is_refused_on_all_interfaces(tmp_path: Path) -> None:
    _refused({}, ["--host", "0.0.0.0"], tmp_path)


def test_no_auth_is_refused_when_the_host_comes_from_the_environment(
    tmp_path: Path,
) -> None:
    _refused({"DAKORA_HOST": "0.0.0.0"}, [], tmp_path)


def test_bad_setting_is_a_clear_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [dakora_executable(), "serve", "--data-dir", str(tmp_path / "d")],
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "DAKORA_AUTH_MODE": "open",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "auth_mode" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    proc = subprocess.run(
        [
            dakora_executable(),
            "serve",
            "--data-dir",
            str(tmp_path / "d"),
            "--database-url",
            f"postgresql://nobody@127.0.0.1:{port}/x",
        ],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "database unavailable" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_busy_port_is_one_clear_error_before_start_up(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [
                dakora_executable(),
                "serve",
                "--data-dir",
                str(tmp_path / "d"),
                "--port",
                str(port),
            ],
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert "startup complete" not in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
