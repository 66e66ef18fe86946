"""The container deployment files pass their linters (offline, vendored schemas)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)


def test_dockerfile_passes_hadolint() -> None:
    proc = run(str(BIN / "hadolint"), "Dockerfile")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_shape() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert text.count("\nFROM python:3.11-slim") == 2  # multi-stage, slim 3.11
    assert "HEALTHCHECK" in text and "USER 10001" in text
    assert "install -y --no-install-recommends git" in text
    assert 'ENTRYPOINT ["docker-entrypoint.sh"]' in text


def test_dockerfile_builds_the_studio_into_the_image() -> None:
    """A node stage builds studio/ (npm ci, then the vite build); its dist goes into
    the wheel's build (setup.py's hook ships it), so the image serves /studio/."""
    text = (ROOT / "Dockerfile").read_text()
    stage = text.index("\nFROM node:")
    build = text.index("\nFROM python:3.11-slim AS build")
    assert stage < build
    node = text[stage:build]
    assert "COPY studio/package.json studio/package-lock.json ./" in node
    assert node.index("npm ci") < node.index("COPY studio/ ./")  # cached deps layer
    assert "npm run build" in node
    wheel = text[build : text.index("RUN python -m build --wheel")]
    assert "COPY --from=studio /studio/dist/ studio/dist/" in wheel
    assert "setup.py" in wheel and "MANIFEST.in" in wheel
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "**/node_modules" in ignored and "studio/dist" in ignored


def test_compose_file_is_valid_against_the_compose_schema() -> None:
    proc = run(
        str(BIN / "check-jsonschema"),
        "--builtin-schema",
        "vendor.compose-spec",
        "docker-compose.yml",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_compose_api_waits_for_healthy_dependencies() -> None:
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"api", "postgres", "azurite"}
    for name in services:
        assert "healthcheck" in services[name], name
    assert services["api"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "azurite": {"condition": "service_healthy"},
    }
    assert services["postgres"]["image"] == "postgres:15"


def test_entrypoint_is_valid_posix_shell() -> None:
    proc = run("sh", "-n", "docker-entrypoint.sh")
    assert proc.returncode == 0, proc.stderr
