"""``dakora version`` through the installed executable."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
DAKORA = BIN / "dakora"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(DAKORA), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def _venv_python(code: str) -> str:
    out = subprocess.run(
        [str(BIN / "python"), "-c", code], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def _project_version() -> str:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return str(data["project"]["version"])


def test_version_prints_the_package_version() -> None:
    result = _run("version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"dakora {_project_version()}\n"
    assert result.stderr == ""


def test_version_json_names_python_git_and_dulwich() -> None:
    result = _run("version", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"dakora", "python", "git", "dulwich"}
    assert data["dakora"] == _project_version()
    assert data["python"] == _venv_python(
        "import platform; print(platform.python_version())"
    )
    assert data["dulwich"] == _venv_python(
        "from importlib.metadata import version; print(version('dulwich'))"
    )
    git = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout
    assert data["git"] is not None and data["git"] in git
    assert re.match(r"^\d+\.\d+", data["git"])


def test_version_json_without_git_on_path_says_null() -> None:
    env = {**os.environ, "PATH": str(BIN)}
    assert not (BIN / "git").exists()
    result = _run("version", "--json", env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["git"] is None and data["dakora"] == _project_version()


def test_version_is_in_the_help() -> None:
    result = _run("--help", env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0
    assert re.search(r"\bversion\b.*Dakora's version", result.stdout)
