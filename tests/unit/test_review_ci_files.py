"""The files users copy into their repository: the review workflow and pre-commit hook."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "sample-repo" / ".github" / "workflows" / "dakora-review.yml"
CHECK_JSONSCHEMA = str(Path(sys.executable).parent / "check-jsonschema")


def check_workflow(path: Path) -> subprocess.CompletedProcess[str]:
    # the vendored schema ships inside check-jsonschema: no network needed
    return subprocess.run(
        [CHECK_JSONSCHEMA, "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_workflow_is_valid_against_the_github_schema() -> None:
    done = check_workflow(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr


def test_schema_check_catches_a_broken_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    doc = yaml.safe_load(WORKFLOW.read_text())
    doc["jobs"]["review"]["runs-on"] = {"not": "valid"}
    doc["jobs"]["review"]["steps"] = "not a list"
    bad.write_text(yaml.safe_dump(doc))
    assert check_workflow(bad).returncode != 0


def test_workflow_runs_the_review_and_updates_one_comment() -> None:
    text = WORKFLOW.read_text()
    doc = yaml.safe_load(text)
    trigger = doc[True]["pull_request"]  # PyYAML reads the key `on` as True
    assert {"prompts/**", "parts/**"} <= set(trigger["paths"])
    steps = doc["jobs"]["review"]["steps"]
    assert steps[0]["uses"].startswith("actions/checkout@")
    assert steps[0]["with"]["fetch-depth"] == 0
    assert any(s.get("uses", "").startswith("actions/setup-python@") for s in steps)
    assert any(s.get("run") == "pip install dakora" for s in steps)
    assert (
        'dakora review "origin/${{ github.base_ref }}" HEAD --format markdown '
        "> review.md" in text
    )
    script = next(s for s in steps if "github-script" in s.get("uses", ""))
    assert "<!-- dakora-review -->" in script["with"]["script"]
    assert "updateComment" in script["with"]["script"]
    assert doc["permissions"]["pull-requests"] == "write"
    assert steps[-1]["if"] == "steps.review.outputs.exit_code == '1'"


def test_pre_commit_hook() -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "dakora-lint"
    assert hook["language"] == "python"
    assert hook["entry"] == "dakora lint"
    assert hook["pass_filenames"] is False
    files = re.compile(hook["files"])
    assert files.search("prompts/support/reply.yaml")
    assert files.search("parts/system/tone.md")
    assert not files.search("src/app.py")
    assert not files.search("docs/prompts/x.md")
