"""A real git smart-HTTP server process for the receive-pipeline tests.

``app_from_env()`` builds ``make_git_app`` around repositories in a folder, with a
fixed set of keys (no database): the transport, auth layer, dulwich handler and the
receive pipeline are the production ones. ``GitServer`` runs it under uvicorn in a
subprocess on a free loopback port, and can kill -9 and restart it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

READ_KEY = "dk_read_" + "r" * 40
WRITE_KEY = "dk_write_" + "w" * 40
OTHER_KEY = "dk_other_" + "o" * 40


def app_from_env() -> Any:
    from dakora.api.git_http import GitTarget, make_git_app
    from dakora.hooks.quarantine import cleanup_stale
    from dakora.hooks.receive import PushResult, ReceivePipeline
    from dakora.registry.checks import PushLimits
    from dakora.registry.core.errors import (
        AccessDenied,
        ProjectNotFound,
        Unauthenticated,
    )

    root = Path(os.environ["DAKORA_TEST_GIT_ROOT"])
    log_path = root / "push-log.jsonl"
    keys: dict[str, dict[str, Any]] = {
        READ_KEY: {"workspace": "acme", "write": False},
        WRITE_KEY: {"workspace": "acme", "write": True},
        OTHER_KEY: {"workspace": "other", "write": True},
    }
    for ws in root.iterdir():
        if ws.is_dir():
            for repo in ws.glob("*.git"):
                cleanup_stale(str(repo))

    def authenticate(
        credential: str | None, workspace: str, project: str, push: bool
    ) -> GitTarget:
        if not credential or credential not in keys:
            raise Unauthenticated("authentication required: use an API key")
        key = keys[credential]
        path = root / workspace / f"{project}.git"
        if not path.is_dir():
            raise ProjectNotFound(f"project {workspace}/{project} not found")
        if key["workspace"] != workspace:
            raise AccessDenied(
                f"this API key does not give access to {workspace}/{project}"
            )
        if push and not key["write"]:
            raise AccessDenied("this API key is read-only; pushing needs a write key")
        return GitTarget(
            workspace=workspace,
            project=project,
            project_id=f"{workspace}/{project}",
            repo_path=str(path),
            key_id=credential[:12],
        )

    def log(kind: str) -> Any:
        def hook(repo: Any, result: PushResult) -> None:
            line = {
                "result": kind,
                "updates": [[u.ref, u.old, u.new] for u in result.updates],
                "messages": result.messages,
            }
            with open(log_path, "a") as fh:
                fh.write(json.dumps(line) + "\n")

        return hook

    limits = PushLimits(
        max_file_bytes=int(
            os.environ.get("DAKORA_TEST_MAX_FILE_BYTES", 2 * 1024 * 1024)
        )
    )
    pipeline = ReceivePipeline(
        limits=limits, on_accepted=log("ok"), on_rejected=log("rejected")
    )
    return make_git_app(None, authenticator=authenticate, pipeline=pipeline)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class GitServer:
    """uvicorn serving ``app_from_env`` for one folder of repositories."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_file = root / "server.log"

    def start(self) -> None:
        env = dict(os.environ)
        env["DAKORA_TEST_GIT_ROOT"] = str(self.root)
        env["PYTHONPATH"] = str(ROOT)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "tests.integration.git_server_support:app_from_env",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--lifespan",
                "off",
            ],
            cwd=str(ROOT),
            env=env,
            stdout=open(self.log_file, "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    "git server exited:\n" + self.log_file.read_text()[-3000:]
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("git server did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    def url(self, project: str = "acme/prompts", key: str | None = WRITE_KEY) -> str:
        auth = f"git:{key}@" if key else ""
        return f"http://{auth}127.0.0.1:{self.port}/{project}.git"

    def pushes(self) -> list[dict[str, Any]]:
        path = self.root / "push-log.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line]


# -- helpers for the tests ------------------------------------------------------------


def run_git(
    cwd: Path | str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``git`` without failing on a non-zero exit (tests look at the output)."""
    return subprocess.run(
        ["git", *args],
        cwd=str(cwd),
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
        timeout=120,
    )


def bare_objects(repo: Path) -> set[str]:
    """Every object stored in a repository (packs and loose), read from disk."""
    out = run_git(
        repo,
        "--git-dir",
        str(repo),
        "cat-file",
        "--batch-all-objects",
        "--batch-check=%(objectname)",
    )
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split())


def bare_refs(repo: Path) -> dict[str, str]:
    out = run_git(
        repo,
        "--git-dir",
        str(repo),
        "for-each-ref",
        "--format=%(refname) %(objectname)",
    )
    assert out.returncode == 0, out.stderr
    return dict(line.split(" ", 1) for line in out.stdout.splitlines() if line)


def quarantine_dirs(repo: Path) -> list[str]:
    return [p.name for p in (repo / "objects").iterdir() if "incoming" in p.name]


class Project:
    """One bare repository served by a ``GitServer`` (``acme/<name>.git``)."""

    counter = 0

    def __init__(self, server: GitServer, workspace: str = "acme") -> None:
        Project.counter += 1
        self.server = server
        self.name = f"p{Project.counter}"
        self.workspace = workspace
        self.path = server.root / workspace / f"{self.name}.git"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "init", "-q", "--bare", "-b", "main", str(self.path)], check=True
        )

    def url(self, key: str | None = WRITE_KEY) -> str:
        return self.server.url(f"{self.workspace}/{self.name}", key)

    def clone(self, dest: Path, key: str = WRITE_KEY) -> Path:
        out = run_git(dest.parent, "clone", "-q", self.url(key), str(dest))
        assert out.returncode == 0, out.stderr
        return dest
