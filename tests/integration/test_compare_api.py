"""``GET /api/projects/{project}/compare`` on a live ``dakora serve``, and
``dakora review --remote`` against it.

The project is imported with ``dakora admin create-project --from`` (main and a few
branches), then a proposal branch is pushed with the real ``git`` over HTTP; the
compare endpoint must answer exactly what ``dakora review --format json`` answers on a
local clone.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.server import dakora_executable
from tests.unit.review_scenario import build_review_repo, git

pytestmark = pytest.mark.integration

PROJECT = "acme~review"


class Proposal:
    def __init__(self, server: Any, local: Path) -> None:
        self.server = server
        self.local = local
        self.read_key = server.create_key("acme/review", "read")["key"]
        self.write_key = server.create_key("acme/review", "write")["key"]

    def compare(self, key: str | None = None, **params: str) -> Any:
        with self.server.client(key if key is not None else self.read_key) as http:
            return http.get(f"/api/projects/{PROJECT}/compare", params=params)

    def review(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [dakora_executable(), "review", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=self.local,
        )


@pytest.fixture(scope="module")
def proposal(live_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Proposal:
    local = build_review_repo(tmp_path_factory.mktemp("compare") / "repo")
    # the import checks every ref: leave out the branches that carry broken prompts
    # (feature) and the one pushed below as a proposal (breaking-minor)
    source = tmp_path_factory.mktemp("compare-src") / "repo"
    shutil.copytree(local, source)
    for branch in ("feature", "breaking-minor"):
        git(source, "branch", "-q", "-D", branch)
    live_server.create_project("acme", "review", from_path=source)
    prop = Proposal(live_server, local)
    url = (
        f"http://git:{prop.write_key}@{live_server.host}:{live_server.port}"
        "/git/acme/review.git"
    )
    done = subprocess.run(
        ["git", "push", url, "breaking-minor"],
        cwd=local,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return prop


def test_compare_returns_the_same_json_as_the_local_review(proposal: Proposal) -> None:
    response = proposal.compare(base="main", head="breaking-minor")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    local = proposal.review("main", "breaking-minor", "--format", "json")
    assert local.returncode == 1, local.stderr
    assert response.json() == json.loads(local.stdout)
    report = response.json()
    assert report["schema_version"] == 1 and report["blocking"] is True
    (translate,) = report["prompts"]
    assert translate["id"] == "translate" and not translate["version"]["sized_ok"]


def test_base_defaults_to_the_default_branch_and_options_pass(
    proposal: Proposal,
) -> None:
    report = proposal.compare(head="removal").json()
    assert report["base"]["rev"] == "main" and report["blocking"] is True
    assert [p["status"] for p in report["prompts"]] == ["removed"]
    allowed = proposal.compare(head="removal", allow_removals="true").json()
    assert allowed["blocking"] is False and allowed["allow_removals"] is True
    lenient = proposal.compare(head="breaking-minor", fail_on="error").json()
    assert lenient["blocking"] is False and lenient["fail_on"] == "error"


def test_review_remote(proposal: Proposal) -> None:
    base_url = proposal.server.base_url
    common = ["--remote", base_url, "--project", "acme/review", "--api-key"]
    done = proposal.review("main", "breaking-minor", *common, proposal.read_key)
    assert done.returncode == 1, done.stderr
    assert "translate  modified  1.0.0 → 1.1.0 (minor)" in done.stdout
    done = proposal.review(
        "main", "breaking-minor", *common, proposal.read_key, "--fail-on", "error"
    )
    assert done.returncode == 0, done.stderr
    done = proposal.review(
        "main",
        "removal",
        *common,
        proposal.read_key,
        "--allow-removals",
        "--format",
        "markdown",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("<!-- dakora-review -->")
    done = proposal.review("main", "compatible", *common, "dk_wrong")
    assert done.returncode == 1 and "Traceback" not in done.stderr


def test_errors_use_the_one_error_shape(proposal: Proposal) -> None:
    missing = proposal.compare(base="main", head="no-such-branch")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ref_not_found"
    bad = proposal.compare(head="compatible", fail_on="warning")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "bad_request"
    no_head = proposal.compare(base="main")
    assert no_head.status_code == 422
    assert proposal.compare(key="", head="compatible").status_code == 401
    with proposal.server.client(proposal.read_key) as http:
        other = http.get("/api/projects/acme~nope/compare", params={"head": "main"})
    assert other.status_code == 404
