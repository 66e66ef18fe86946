"""Issue 10, the smaller findings, through the installed ``dakora serve``: a NUL in an
API write's commit message (422), branch names that are not plain branch names
(refused), the SQLite file's mode (0600), and Azure settings a mirror backend would
ignore (selected when the backend is unset, an error when it says otherwise)."""

from __future__ import annotations

import os
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.azurite import Azurite
from tests.fixtures.server import dakora_executable
from tests.integration.git_server_support import bare_objects, bare_refs

pytestmark = pytest.mark.integration

GREETING = {
    "id": "greeting",
    "version": "1.0.0",
    "template": "Hello {{ name }}!\n",
    "inputs": {"name": {"type": "string", "required": True}},
}


@pytest.fixture(scope="module")
def proj(live_server: Any) -> dict[str, Any]:
    info = live_server.create_project("acme", "small")
    key = live_server.create_key("acme/small", "write")["key"]
    return {"id": info["id"], "path": Path(info["repo_path"]), "key": key}


def _snapshot(path: Path) -> tuple[dict[str, str], set[str]]:
    return bare_refs(path), bare_objects(path)


def test_nul_in_commit_message_is_422_and_writes_nothing(
    live_server: Any, proj: dict[str, Any]
) -> None:
    before = _snapshot(proj["path"])
    with live_server.client(proj["key"]) as api:
        r = api.post(
            f"/api/projects/{proj['id']}/prompts",
            json={**GREETING, "message": "add\u0000greeting"},
        )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_request"
    assert "message" in error["message"] and "NUL" in error["message"]
    assert _snapshot(proj["path"]) == before


@pytest.mark.parametrize(
    "branch",
    ["refs/notes/x", "refs/heads/refs/notes/x", "refs/tags/v1", "HEAD", "-x"],
)
def test_branch_must_be_a_plain_branch_name(
    live_server: Any, proj: dict[str, Any], branch: str
) -> None:
    before = _snapshot(proj["path"])
    with live_server.client(proj["key"]) as api:
        r = api.post(
            f"/api/projects/{proj['id']}/prompts", json={**GREETING, "branch": branch}
        )
    assert r.status_code == 400, r.text
    assert "invalid branch name" in r.json()["error"]["message"]
    assert _snapshot(proj["path"]) == before


def test_plain_branch_names_still_work(live_server: Any, proj: dict[str, Any]) -> None:
    with live_server.client(proj["key"]) as api:
        for branch in ("feature/x", "refs/heads/feature/y"):
            r = api.post(
                f"/api/projects/{proj['id']}/prompts",
                json={**GREETING, "branch": branch},
            )
            assert r.status_code == 201, r.text
    refs = bare_refs(proj["path"])
    assert "refs/heads/feature/x" in refs and "refs/heads/feature/y" in refs


def test_sqlite_database_is_private(live_server: Any) -> None:
    for name in ("dakora.db", "secret.key"):
        mode = stat.S_IMODE(os.stat(live_server.data_dir / name).st_mode)
        assert mode == 0o600, f"{name}: {mode:o}"


# -- Azure settings a backend would ignore ---------------------------------------------


def test_azure_connection_string_with_a_local_backend_is_a_startup_error(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAKORA_")}
    env.update(
        {
            "DAKORA_DATA_DIR": str(tmp_path / "data"),
            "DAKORA_MIRROR_BACKEND": "local",
            "DAKORA_AZURE_CONNECTION_STRING": "UseDevelopmentStorage=true",
        }
    )
    proc = subprocess.run(
        [dakora_executable(), "serve", "--port", "0", "--no-access-log"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "DAKORA_AZURE_CONNECTION_STRING" in out and "ignore" in out, out
    assert "Traceback" not in out


def test_azure_connection_string_alone_selects_the_azure_mirror(
    start_live_server: Any, azurite: Azurite, tmp_path: Path
) -> None:
    from azure.storage.blob import BlobServiceClient

    container = f"implied{os.getpid()}"
    server = start_live_server(
        env={
            "DAKORA_AZURE_CONNECTION_STRING": azurite.connection_string,
            "DAKORA_AZURE_CONTAINER": container,
        }
    )
    try:
        info = server.create_project("acme", "implied")
        key = server.create_key("acme/implied", "write")["key"]
        with server.client(key) as api:
            r = api.post(f"/api/projects/{info['id']}/prompts", json=GREETING)
            assert r.status_code == 201, r.text
        client = BlobServiceClient.from_connection_string(azurite.connection_string)
        names: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(".pack" in n for n in names):
            try:
                names = [
                    b.name for b in client.get_container_client(container).list_blobs()
                ]
            except Exception:  # noqa: BLE001 - the container appears with the mirror
                names = []
            time.sleep(0.1)
        assert any(n.startswith("acme/implied/") and n.endswith(".pack") for n in names)
        assert not (server.data_dir / "mirror" / "acme" / "implied").exists()
    finally:
        server.stop()
