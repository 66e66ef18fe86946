"""Shared setup for the API integration tests: a prompt repo with history, imported
into a project of a running server through the same import as
``dakora admin create-project --from`` (in process, against the server's database)."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.fixtures.server import LiveServer

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_REPO = ROOT / "sample-repo"

ISSUER = "https://clerk.dakora-test.invalid"
KID = "test-key-1"

LIMITS_PROMPT = """\
id: limits-test
version: "1.0.0"
description: Loops n times (a render past the range limit must fail cleanly).
template: "{% for i in range(n) %}x{% endfor %}"
inputs:
  n: {type: number, default: 1}
"""


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(
            f"git {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}"
        )
    return proc.stdout.strip()


@dataclass(frozen=True)
class HistoryRepo:
    path: Path
    v1: str  # commit with support-reply 1.2.0 (tag v1, branch staging)
    head: str  # main: support-reply 1.3.0


def make_history_repo(base: Path) -> HistoryRepo:
    """sample-repo as commit 1 (tag v1, branch staging), then a 1.3.0 bump on main."""
    src = base / "src"
    shutil.copytree(SAMPLE_REPO, src, ignore=shutil.ignore_patterns(".git"))
    (src / "prompts" / "test").mkdir()
    (src / "prompts" / "test" / "limits.yaml").write_text(LIMITS_PROMPT)
    git(src, "init", "-q", "-b", "main")
    git(src, "add", "-A")
    git(src, "commit", "-q", "-m", "Initial prompts")
    v1 = git(src, "rev-parse", "HEAD")
    git(src, "tag", "v1")
    git(src, "branch", "staging")
    reply = src / "prompts" / "support" / "reply.yaml"
    text = reply.read_text()
    text = text.replace('version: "1.2.0"', 'version: "1.3.0"')
    text = text.replace("short paragraphs.", "short, friendly paragraphs.")
    reply.write_text(text)
    git(src, "commit", "-q", "-am", "support-reply: friendlier")
    return HistoryRepo(src, v1, git(src, "rev-parse", "HEAD"))


def import_project(
    server: LiveServer, workspace: str, slug: str, source: Path | None
) -> str:
    """Create (workspace and) project, import ``source``; return the project UUID."""
    from dakora.registry import tenancy
    from dakora.registry.core.errors import WorkspaceNotFound
    from dakora.registry.index.importer import import_into_project

    engine = server.engine()
    settings = server.settings()
    try:
        tenancy.get_workspace(engine, workspace)
    except WorkspaceNotFound:
        tenancy.create_workspace(engine, workspace)
    project = tenancy.create_project(engine, settings, workspace, slug)
    if source is not None:
        import_into_project(engine, project, source)
    return project.id


def new_key(
    server: LiveServer,
    project_id: str,
    scope: str = "read",
    **kwargs: object,
) -> tuple[str, str]:
    """(plaintext, key id) of a new key, made in process against the server's DB."""
    from dakora.registry.tenancy import keys

    new = keys.create_key(
        server.engine(), server.settings().pepper(), project_id, scope=scope, **kwargs
    )
    return new.plaintext, new.record.id


class JwksEndpoint:
    """A JWKS endpoint on loopback, serving one RSA public key."""

    def __init__(self, issuer: str = ISSUER) -> None:
        self.issuer = issuer
        self.private_key = rsa.generate_private_key(
            public_exponent=65537, key_size=2048
        )
        jwk = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        jwk.update(kid=KID, alg="RS256", use="sig")
        body = json.dumps({"keys": [jwk]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def token(self, sub: str, key: Any = None, **overrides: Any) -> str:
        """An RS256 token for ``sub``; ``key`` signs with another (foreign) key."""
        now = int(time.time())
        claims = {
            "sub": sub,
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + 600,
        }
        claims.update(overrides)
        return jwt.encode(
            claims, key or self.private_key, algorithm="RS256", headers={"kid": KID}
        )

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()
