"""``dakora lint`` / ``dakora render`` without Typer print what they printed with it.

Each case runs twice on real git repositories (built with the ``git`` CLI): through
the installed ``dakora`` executable, which takes the Typer-free path of cli/direct.py,
and through the Typer app behind the same error seam (``main.run_app(app)``), the path
every invocation took before. stdout, stderr and the exit code must be identical, for
successes, lint findings, bad inputs and registry errors alike.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from dakora.cli import direct as direct_path

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DAKORA = ROOT / ".venv" / "bin" / "dakora"
PYTHON = ROOT / ".venv" / "bin" / "python"

THROUGH_TYPER = """
import json, sys
sys.argv = ["dakora", *json.loads(sys.argv[1])]
from dakora.cli.app import app
from dakora.cli.main import run_app
run_app(app)
"""

GREET = """\
id: greet
version: "{version}"
template: |
  {{% include "style/polite" %}}
  Hello {{{{ name }}}}{{% if vip %}}, our valued guest{{% endif %}}!
inputs:
  name: {{type: string}}
  vip: {{type: boolean, default: false}}
examples:
  - {{name: Ada}}
"""

ASK = """\
id: ask
version: "0.1.0"
messages:
  - role: system
    content: You answer questions about {{ topic }}.
  - role: user
    content: "{{ question }}"
inputs:
  topic: {type: string, enum: [git, python]}
  question: {type: string}
"""

BROKEN = """\
id: broken
version: 1.0
template: "{{ unclosed"
colour: red
"""


def _git(repo: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("direct")
    work = base / "work"
    work.mkdir()
    _git(work, "init", "-q", "-b", "main")
    _write(
        work,
        {
            "dakora.yaml": "default_branch: main\n",
            "parts/style/polite.md": "Be polite.\n",
            "prompts/greet.yaml": GREET.format(version="1.0.0"),
            "prompts/ask.yaml": ASK,
        },
    )
    _git(work, "add", "-A")
    _git(work, "commit", "-qm", "v1")
    first = _git(work, "rev-parse", "HEAD")
    _write(work, {"prompts/greet.yaml": GREET.format(version="1.1.0")})
    _git(work, "commit", "-qam", "v1.1")
    # the working tree: an uncommitted edit that breaks the version rule
    _write(work, {"prompts/greet.yaml": GREET.format(version="1.1.0") + "# edit\n"})
    folder = base / "folder"
    _write(folder, {"prompts/ask.yaml": ASK, "prompts/broken.yaml": BROKEN})
    empty = base / "empty"
    empty.mkdir()
    bare = base / "bare.git"
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(work), str(bare)],
        check=True,
        capture_output=True,
    )
    (base / "inputs.json").write_text(json.dumps({"name": "Bo", "vip": True}))
    return {
        "work": str(work),
        "folder": str(folder),
        "empty": str(empty),
        "bare": str(bare),
        "missing": str(base / "missing"),
        "first": first,
        "inputs": str(base / "inputs.json"),
    }


CASES: list[tuple[list[str], str | None]] = [
    (["lint", "{work}"], None),
    (["lint", "{work}", "--json"], None),
    (["lint", "{work}", "--ref", "HEAD"], None),
    (["lint", "--ref=main~1", "{work}", "--json"], None),
    (["lint", "{work}", "--ref", "nope"], None),
    (["lint", "{folder}"], None),
    (["lint", "{folder}", "--json"], None),
    (["lint", "{empty}"], None),
    (["lint", "{empty}", "--allow-empty"], None),
    (["lint", "{missing}"], None),
    (["lint", "{bare}"], None),
    (["render", "greet", "--repo", "{work}", "-iname=Ada"], None),
    (
        ["render", "greet", "--repo", "{work}", "-i", "name=Ada", "--input", "vip=yes"],
        None,
    ),
    (["render", "greet", "--repo", "{work}", "-iname=Ada", "--json"], None),
    (["render", "greet", "--repo", "{work}", "-ivip=maybe"], None),
    (["render", "greet", "--repo", "{work}", "--inputs-file", "{inputs}"], None),
    (["render", "greet", "--repo", "{work}", "--inputs-file", "-"], '{"name": "Cy"}'),
    (["render", "greet", "--repo", "{work}", "--version", "1.0.0", "-iname=A"], None),
    (["render", "greet", "--repo", "{work}", "--commit", "{first}", "-iname=A"], None),
    (["render", "greet", "--repo", "{work}", "--ref", "main", "--version", "1"], None),
    (["render", "ask", "--repo", "{work}", "-itopic=git", "-iquestion=Why?"], None),
    (
        ["render", "ask", "--repo", "{work}", "-itopic=go", "-iquestion=Q", "--json"],
        None,
    ),
    (["render", "nope", "--repo", "{work}"], None),
    (["render", "ask", "--repo", "{folder}", "-itopic=python", "-iquestion=Q"], None),
    (["render", "broken", "--repo", "{folder}"], None),
    (["render", "greet", "--repo", "{empty}"], None),
    (["render", "greet", "--repo", "{bare}", "-iname=Ada"], None),
    (["render", "greet", "--repo", "{missing}"], None),
]


def _run(cmd: list[str], stdin: str | None) -> tuple[int, str, str]:
    proc = subprocess.run(
        cmd,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "COLUMNS": "100"},
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize(("template", "stdin"), CASES)
def test_direct_and_typer_print_the_same(
    tree: dict[str, str], template: list[str], stdin: str | None
) -> None:
    args = [a.format(**tree) for a in template]
    # the executable takes the Typer-free path for every case here
    assert direct_path.parse(direct_path.SPECS[args[0]], args[1:]) is not None
    direct = _run([str(DAKORA), *args], stdin)
    typer = _run([str(PYTHON), "-c", THROUGH_TYPER, json.dumps(args)], stdin)
    assert direct == typer
    assert "Traceback" not in direct[2]
