"""``dakora start`` / ``dakora stop``: the container deployment (docker compose)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Annotated

import typer

from dakora.cli.commands import command_app
from dakora.registry.core import ConfigError

app = command_app()

ComposeFile = Annotated[
    Path,
    typer.Option(
        "--file",
        "-f",
        help="The compose file (default: docker-compose.yml in the current folder).",
    ),
]


def _compose(args: list[str], compose_file: Path) -> None:
    if shutil.which("docker") is None:
        raise ConfigError(
            "Docker is not installed (no `docker` on PATH). Install Docker Engine with "
            "the compose plugin, or run the server without containers: `dakora serve`."
        )
    if not compose_file.is_file():
        raise ConfigError(
            f"{compose_file} not found: run this from the Dakora checkout, or pass "
            "--file path/to/docker-compose.yml"
        )
    cmd = ["docker", "compose", "-f", str(compose_file), *args]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        last = detail[-1] if detail else f"exit code {proc.returncode}"
        if "'compose' is not a docker command" in proc.stderr or (
            "unknown shorthand flag: 'f'" in proc.stderr
        ):
            raise ConfigError(
                "Docker is installed without the Compose plugin (`docker compose` is "
                "missing). Install docker-compose-plugin, or run `dakora serve` instead."
            )
        if "Cannot connect to the Docker daemon" in proc.stderr or (
            "docker.sock" in proc.stderr
        ):
            raise ConfigError(
                "Docker is installed but no Docker engine is running "
                f"({last}). Start the engine, or run `dakora serve` instead."
            )
        raise ConfigError(f"`{' '.join(cmd)}` failed: {last}")
    if proc.stdout.strip():
        typer.echo(proc.stdout.rstrip())


@app.command("start")
def start(compose_file: ComposeFile = Path("docker-compose.yml")) -> None:
    """Start the api, PostgreSQL and Azurite containers (docker compose up -d)."""
    _compose(["up", "-d", "--build"], compose_file)
    typer.echo("Dakora is starting: http://127.0.0.1:54321/api/health")


@app.command("stop")
def stop(compose_file: ComposeFile = Path("docker-compose.yml")) -> None:
    """Stop the containers (docker compose down); volumes are kept."""
    _compose(["down"], compose_file)
    typer.echo("Dakora containers stopped (data volumes kept).")
