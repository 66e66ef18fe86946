"""``pip install dakora`` (no extras) is the SDK and the local commands, not the server.

The wheel is built from a copy of the sources and installed *with its dependencies*
into a brand-new venv by that venv's own pip (from the package indexes this machine's
pip is configured with), so nothing of the dev venv leaks in. Then, from that venv:
the server's dependencies are not importable, the SDK fetches and renders from a live
server started from the dev venv (and renders offline with the server's coercion),
the local commands work, and ``dakora serve`` says what to install (no traceback).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_wheel import _copy_sources, _run
from tests.fixtures.gitrepos import GitRepoBuilder
from tests.fixtures.server import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
DEV_PYTHON = ROOT / ".venv" / "bin" / "python"
SAMPLE = ROOT / "sample-repo"
SERVER_MODULES = (
    "fastapi",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "psycopg2",
    "a2wsgi",
    "jwt",
    "prometheus_client",
)

SDK_SCRIPT = """
import json, sys
from dakora.client import Dakora, InputError

url, key, checkout = sys.argv[1], sys.argv[2], sys.argv[3]
out = {}
with Dakora(url, key, "foot/print") as c:
    p = c.prompts.get("summarize")
    out["get"] = [p.version, p.commit, p.source]
    r = c.prompts.render("summarize", {"text": "Dakora ships.", "max_sentences": "2"})
    out["render"] = [r.rendered, r.inputs_used, r.source]
    # the server is reachable: a bad input is the server's 422
    try:
        c.prompts.render("summarize", {"text": "x", "max_sentences": "many"})
    except InputError as exc:
        out["server_error"] = exc.problems
# unreachable: the fallback (a checkout) renders with the server's coercion
with Dakora("http://127.0.0.1:9", key, "foot/print", fallback=checkout,
            timeout=2) as off:
    r = off.prompts.render("summarize", {"text": "Dakora ships.", "max_sentences": "2"})
    out["offline"] = [r.inputs_used, r.source]
    try:
        off.prompts.render("summarize", {"text": "x", "max_sentences": "many"})
    except InputError as exc:
        out["offline_error"] = exc.problems
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("footprint-src")
    out = tmp_path_factory.mktemp("footprint-wheel")
    _copy_sources(src)
    proc = _run(
        [DEV_PYTHON, "-m", "build", "--wheel", "--no-isolation", "--outdir", out, src]
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (wheel,) = out.glob("dakora-*.whl")
    venv = tmp_path_factory.mktemp("footprint") / "venv"
    proc = _run([sys.executable, "-m", "venv", venv])
    assert proc.returncode == 0, proc.stderr
    # no extras: exactly what `pip install dakora` installs
    proc = _run([venv / "bin" / "python", "-m", "pip", "install", "-q", wheel])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return venv


def _env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if k != "PYTHONPATH" and not k.startswith("DAKORA_")
    } | {"NO_COLOR": "1", "HOME": os.environ.get("HOME", "/tmp")}


def test_server_dependencies_are_not_installed(bare_venv: Path, tmp_path: Path) -> None:
    py = bare_venv / "bin" / "python"
    where = _run([py, "-c", "import dakora.client; print(dakora.client.__file__)"])
    assert where.returncode == 0, where.stderr
    assert where.stdout.strip().startswith(str(bare_venv)), where.stdout
    for module in SERVER_MODULES:
        proc = _run([py, "-c", f"import {module}"], cwd=tmp_path, env=_env())
        assert proc.returncode != 0, f"{module} is installed without the extra"
        assert "ModuleNotFoundError" in proc.stderr


def test_serve_without_the_extra_says_what_to_install(
    bare_venv: Path, tmp_path: Path
) -> None:
    exe = bare_venv / "bin" / "dakora"
    for args in (["serve"], ["db", "upgrade"]):
        proc = _run(
            [exe, *args, "--data-dir", tmp_path / "data"]
            if args == ["serve"]
            else [exe, *args],
            cwd=tmp_path,
            env=_env(),
        )
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert "pip install 'dakora[server]'" in lines[0], lines[0]


def test_local_commands_without_the_extra(bare_venv: Path, tmp_path: Path) -> None:
    exe = bare_venv / "bin" / "dakora"
    repo = GitRepoBuilder.init(tmp_path / "repo")
    for item in SAMPLE.iterdir():
        if item.is_dir():
            shutil.copytree(item, repo.path / item.name)
        else:
            shutil.copy2(item, repo.path / item.name)
    repo.git("add", "-A")
    first = repo.commit("sample prompts")
    path = repo.path / "prompts" / "general" / "summarize.yaml"
    text = path.read_text()
    path.write_text(
        text.replace('version: "2.2.1"', 'version: "2.3.0"').replace(
            "or fewer.", "or fewer, please."
        )
    )
    repo.git("add", "-A")
    repo.commit("summarize: ask nicely")
    env = _env()

    def dakora(*args: str) -> subprocess.CompletedProcess[str]:
        proc = _run([exe, *args], cwd=repo.path, env=env)
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        return proc

    assert "no problems" in dakora("lint").stdout
    rendered = dakora("render", "summarize", "-i", "text=Hi", "-i", "max_sentences=1")
    assert "Use 1 sentence or fewer, please." in rendered.stdout
    assert "2.3.0" in dakora("history", "summarize").stdout
    diff = dakora("diff", "summarize", "2.2.1", "2.3.0").stdout
    assert "+  Use {{ max_sentences }}" in diff and "please." in diff, diff
    review = json.loads(dakora("review", first, "HEAD", "--format", "json").stdout)
    assert review, review


def test_sdk_from_the_bare_venv_against_a_live_server(
    bare_venv: Path, live_server: LiveServer, tmp_path: Path
) -> None:
    repo = GitRepoBuilder.init(tmp_path / "repo")
    for item in SAMPLE.iterdir():
        if item.is_dir():
            shutil.copytree(item, repo.path / item.name)
        else:
            shutil.copy2(item, repo.path / item.name)
    repo.git("add", "-A")
    commit = repo.commit("sample prompts")
    live_server.create_project("foot", "print", from_path=repo.path)
    key = live_server.create_key("foot/print", "read")["key"]
    script = tmp_path / "sdk.py"
    script.write_text(SDK_SCRIPT)
    proc = _run(
        [bare_venv / "bin" / "python", script, live_server.base_url, key, repo.path],
        cwd=tmp_path,
        env=_env(),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout)
    assert out["get"] == ["2.2.1", commit, "network"]
    rendered, used, source = out["render"]
    assert source == "network" and "Use 2 sentences or fewer." in rendered
    assert used == {
        "text": "Dakora ships.",
        "max_sentences": 2,
        "audience": None,
        "language": "English",
    }
    # offline: the same coerced inputs and the very problems the server gave
    assert out["offline"] == [used, "fallback"]
    assert out["offline_error"] == out["server_error"]
    assert out["server_error"][0]["input"] == "max_sentences"
