"""sample-repo/ is what users copy: it lints clean and every prompt renders each example.

The sample is copied into a temporary git repository (it is a plain folder in ours).
``dakora lint`` runs through the installed executable; the renders (one per example,
about thirty) go through the same CLI code in-process with Typer's runner, so a broken
example names its prompt and example index without costing a process start each.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from dakora.cli import local  # noqa: F401  (registers the local commands)
from dakora.cli.main import app

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample-repo"
DAKORA = ROOT / ".venv" / "bin" / "dakora"
INPUT_TYPES = {"string", "number", "boolean", "array<string>", "object"}


def _prompt_files() -> list[Path]:
    return sorted(
        p for p in (SAMPLE / "prompts").rglob("*") if p.suffix in (".yaml", ".yml")
    )


def _examples() -> list[tuple[str, int, dict[str, Any]]]:
    cases = []
    for path in _prompt_files():
        doc = yaml.safe_load(path.read_text())
        for i, example in enumerate(doc.get("examples") or []):
            cases.append((doc["id"], i, example))
    return cases


@pytest.fixture(scope="module")
def sample_git(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("sample") / "acme-prompts"
    shutil.copytree(SAMPLE, repo)
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["commit", "-q", "-m", "Import the sample prompts"],
    ):
        proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    return repo


def test_sample_repo_covers_what_users_need() -> None:
    docs = [yaml.safe_load(p.read_text()) for p in _prompt_files()]
    assert len(docs) >= 12
    assert len({p.parent for p in _prompt_files()}) >= 2
    kinds = {"chat" if "messages" in d else "text" for d in docs}
    assert kinds == {"chat", "text"}
    types = {spec["type"] for d in docs for spec in d["inputs"].values()}
    assert types == INPUT_TYPES
    specs = [spec for d in docs for spec in d["inputs"].values()]
    assert any("enum" in s for s in specs)
    assert any("default" in s for s in specs)
    assert any(s.get("required") is False for s in specs)
    for d in docs:
        assert d.get("model"), d["id"]
        assert d.get("description"), d["id"]
        assert len(d.get("examples") or []) >= 1, d["id"]
    parts = [p for p in (SAMPLE / "parts").rglob("*") if p.is_file()]
    assert len(parts) >= 4
    assert len({p.parent.name for p in parts}) >= 2
    included = {
        p.relative_to(SAMPLE / "parts").with_suffix("").as_posix()
        for p in parts
        if sum(
            f'include "{p.parent.name}/{p.stem}"' in f.read_text()
            for f in _prompt_files()
        )
        >= 2  # fmt: skip
    }
    assert len(included) >= 3, "parts should be shared by several prompts"
    config = yaml.safe_load((SAMPLE / "dakora.yaml").read_text())
    assert config == {"default_branch": "main", "protected_refs": ["production"]}
    assert (SAMPLE / "README.md").is_file()


def test_sample_repo_lints_clean(sample_git: Path) -> None:
    proc = subprocess.run(
        [str(DAKORA), "lint", "--json"],
        cwd=sample_git,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["findings"] == []
    assert (report["errors"], report["warnings"]) == (0, 0)
    assert report["prompts"] == len(_prompt_files())
    # And as committed, not only as a working tree.
    at_ref = subprocess.run(
        [str(DAKORA), "lint", str(sample_git), "--ref", "main"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert at_ref.returncode == 0, at_ref.stdout
    assert at_ref.stdout.startswith("ok: ")


@pytest.mark.parametrize(
    ("prompt_id", "index", "example"),
    _examples(),
    ids=[f"{pid}-{i}" for pid, i, _ in _examples()],
)
def test_every_example_renders(
    sample_git: Path,
    tmp_path: Path,
    prompt_id: str,
    index: int,
    example: dict[str, Any],
) -> None:
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps(example))
    result = CliRunner().invoke(
        app,
        [
            "render",
            prompt_id,
            "--repo",
            str(sample_git),
            "--ref",
            "main",
            "--inputs-file",
            str(inputs),
            "--json",
        ],  # fmt: skip
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    rendered = json.loads(result.stdout)
    texts = (
        [m["content"] for m in rendered] if isinstance(rendered, list) else [rendered]
    )
    for text in texts:
        assert text.strip()
        # Optional inputs are None when absent: a template must never print that.
        assert "None" not in text
        assert "{{" not in text and "{%" not in text
    for value in example.values():
        if isinstance(value, str) and "\n" not in value:
            assert any(value in t for t in texts), (prompt_id, value)


def test_sample_readme_commands_work(tmp_path: Path) -> None:
    text = (SAMPLE / "README.md").read_text()
    script = text.split("```bash\n", 1)[1].split("```", 1)[0]
    home = tmp_path / "home"
    home.mkdir()
    gitconfig = Path(os.environ["HOME"]) / ".gitconfig"
    (home / ".gitconfig").write_text(gitconfig.read_text())
    env = {
        **os.environ,
        "HOME": str(home),
        "PATH": f"{DAKORA.parent}{os.pathsep}{os.environ['PATH']}",
    }
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"ok: {len(_prompt_files())} prompts checked, no problems" in proc.stdout
    assert "Customer: Ada (pro plan)" in proc.stdout
    assert '"content": "Review this go change.' in proc.stdout
