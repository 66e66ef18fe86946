"""``dakora review`` through the installed executable: exit codes, formats, errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.unit.review_scenario import build_review_repo, git

pytestmark = pytest.mark.e2e

DAKORA = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "dakora")


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_review_repo(tmp_path_factory.mktemp("review-cli") / "repo")


def dakora(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DAKORA, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


EXIT_CODES: list[tuple[list[str], int]] = [
    (["main", "compatible"], 0),
    (["main", "removal"], 1),
    (["main", "removal", "--allow-removals"], 0),
    (["main", "breaking-minor"], 1),
    (["main", "breaking-minor", "--fail-on", "error"], 0),
    (["main", "breaking-major"], 0),
    (["main", "risky", "--fail-on", "risky"], 1),
    (["main", "feature"], 1),
    (["main", "feature", "--fail-on", "never"], 0),
]


def test_exit_codes(repo: Path) -> None:
    def run(args: list[str]) -> tuple[int, str, str]:
        done = dakora("review", *args, "--repo", str(repo), "--format", "json")
        return done.returncode, done.stdout, done.stderr

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(run, [args for args, _ in EXIT_CODES]))
    for (args, code), (got, out, err) in zip(EXIT_CODES, results, strict=True):
        assert got == code, (args, err)
        assert json.loads(out)["blocking"] is bool(code), args


def test_text_output_is_plain_when_piped(repo: Path) -> None:
    done = dakora("review", "main", "feature", "--repo", str(repo))
    assert done.returncode == 1
    out = done.stdout
    assert "\x1b[" not in out
    assert "Dakora review main" in out
    assert "support-reply  modified  1.2.0 → 1.3.0 (minor) ⚠️ needs major" in out
    assert "BLOCKING (--fail-on breaking)" in out
    assert "+Be warm, kind and concise." in out  # rendered diff of an affected prompt


def test_markdown_output(repo: Path) -> None:
    done = dakora(
        "review", "main", "feature", "--repo", str(repo), "--format", "markdown"
    )
    assert done.returncode == 1
    assert done.stdout.startswith("<!-- dakora-review -->\n## Dakora review: `main`")
    assert "| `support-reply` | ✏️ modified |" in done.stdout


def test_defaults_base_from_dakora_yaml_and_head(tmp_path: Path, repo: Path) -> None:
    clone = tmp_path / "clone"
    shutil.copytree(repo, clone)
    git(clone, "checkout", "-q", "risky")
    # dakora.yaml says default_branch: main; BASE defaults to it, HEAD to HEAD
    done = dakora("review", "--format", "json", "--fail-on", "risky", cwd=clone)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert (report["base"]["rev"], report["head"]["rev"]) == ("main", "HEAD")
    assert [p["id"] for p in report["prompts"]] == ["translate"]


def test_prompts_in_a_subfolder_of_an_application_repo(tmp_path: Path) -> None:
    from tests.unit.review_scenario import BASE_FILES, SMALL_BRANCHES, commit_all
    from tests.unit.review_scenario import write_files as write

    app = tmp_path / "app"
    app.mkdir()
    git(app, "init", "-q", "-b", "main")
    write(app, {f"ai/{k}": v for k, v in BASE_FILES.items()} | {"main.py": "1\n"})
    commit_all(app, "app with prompts in ai/")
    git(app, "checkout", "-q", "-b", "risky")
    write(app, {f"ai/{k}": v for k, v in SMALL_BRANCHES["risky"].items()})
    commit_all(app, "risky")
    done = dakora("review", "--repo", str(app / "ai"), "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [(p["id"], p["path"]) for p in report["prompts"]] == [
        ("translate", "prompts/translate.yaml")
    ]
    assert report["summary"]["risky"] == 1


def test_working_tree(tmp_path: Path, repo: Path) -> None:
    clone = tmp_path / "clone"
    shutil.copytree(repo, clone)
    (clone / "prompts" / "old.yaml").unlink()
    done = dakora("review", "--working-tree", "--repo", str(clone), "--format", "json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["head"] == {"rev": "working tree", "commit": None}
    assert [(p["id"], p["status"]) for p in report["prompts"]] == [
        ("old-prompt", "removed")
    ]


def test_working_tree_lint_uses_the_history(tmp_path: Path, repo: Path) -> None:
    """The working tree of a git repository has history: no 'no-history' note."""
    clone = tmp_path / "clone"
    shutil.copytree(repo, clone)
    done = dakora("review", "--working-tree", "--repo", str(clone), "--format", "json")
    report = json.loads(done.stdout)
    assert [f["rule"] for f in report["lint"] if f["rule"] == "no-history"] == []
    text = dakora("review", "--working-tree", "--repo", str(clone))
    assert "no git history" not in text.stdout


def test_unknown_revision_is_a_clean_error(repo: Path) -> None:
    done = dakora("review", "main", "no-such-branch", "--repo", str(repo))
    assert done.returncode not in (0, None)
    assert "no-such-branch" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_option_combinations(repo: Path) -> None:
    done = dakora("review", "--remote", "http://127.0.0.1:9", "--repo", str(repo))
    assert done.returncode == 2 and "--project" in done.stderr
    done = dakora("review", "--project", "p", "--repo", str(repo))
    assert done.returncode == 2 and "--remote" in done.stderr
    done = dakora("review", "--fail-on", "warning", "--repo", str(repo))
    assert done.returncode == 2


def test_remote_unreachable_is_a_clean_error() -> None:
    done = dakora("review", "--remote", "http://127.0.0.1:9", "--project", "p")
    assert done.returncode == 2 and "HEAD" in done.stderr
    done = dakora(
        "review", "main", "feature", "--remote", "http://127.0.0.1:9", "--project", "p"
    )
    assert done.returncode == 1
    assert "cannot reach" in done.stderr and "Traceback" not in done.stderr


def test_merge_base(tmp_path: Path, repo: Path) -> None:
    clone = tmp_path / "clone"
    shutil.copytree(repo, clone)
    # main moves on after the branches were made
    (clone / "prompts" / "extra.yaml").write_text(
        'id: extra\nversion: "1.0.0"\ntemplate: "x"\nexamples: [{}]\n'
    )
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "-m", "main moves on")
    two_dot = dakora(
        "review", "main", "risky", "--repo", str(clone), "--format", "json"
    )
    assert [p["id"] for p in json.loads(two_dot.stdout)["prompts"]] == [
        "extra",
        "translate",
    ]
    three_dot = dakora(
        "review",
        "main",
        "risky",
        "--merge-base",
        "--repo",
        str(clone),
        "--format",
        "json",
    )
    assert three_dot.returncode == 0, three_dot.stderr
    report = json.loads(three_dot.stdout)
    assert [p["id"] for p in report["prompts"]] == ["translate"]
    assert report["base"]["rev"] == "merge-base(main, risky)"


ROOT = Path(__file__).resolve().parents[2]
SHA_IN_HEADER = re.compile(r"\(([0-9a-f]{7})\)")


def make_sample_change(repo: Path) -> None:
    """The change shown in the sample review of docs/review.md (on a sample-repo copy)."""
    reply = repo / "prompts" / "support" / "reply.yaml"
    text = reply.read_text()
    for old, new in [
        ('version: "1.2.0"', 'version: "1.3.0"'),
        (
            "  Write a reply that greets {{ customer }} by first name and answers the "
            "ticket in at\n  most {{ max_paragraphs }} short paragraphs.",
            "  Write a reply in {{ language }} that greets {{ customer }} by first name "
            "and answers\n  the ticket in at most {{ max_paragraphs }} short paragraphs.",
        ),
        (
            "  max_paragraphs: {type: number, default: 3, description: Upper bound on "
            "reply length}",
            "  max_paragraphs: {type: number, default: 2, description: Upper bound on "
            "reply length}\n  language: {type: string, default: English, description: "
            "Language of the reply}",
        ),
        (
            "    urgent: true\n    max_paragraphs: 2",
            "    urgent: true\n    max_paragraphs: 2\n    language: German",
        ),
    ]:
        assert old in text, old
        text = text.replace(old, new)
    reply.write_text(text)
    safety = repo / "parts" / "system" / "safety.txt"
    old = "Never reveal internal notes, credentials or other customers' data."
    assert old in safety.read_text()
    safety.write_text(
        safety.read_text().replace(
            old, "Never reveal internal notes, card numbers or other customers' data."
        )
    )


def test_docs_sample_review_is_the_commands_output(tmp_path: Path) -> None:
    repo = tmp_path / "acme"
    shutil.copytree(
        ROOT / "sample-repo", repo, ignore=shutil.ignore_patterns(".github")
    )
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "Import sample prompts")
    git(repo, "switch", "-q", "-c", "reply-language")
    make_sample_change(repo)
    git(repo, "commit", "-q", "-am", "support-reply: language; safety: card numbers")
    done = dakora("review", "main", "reply-language", "--format", "markdown", cwd=repo)
    assert done.returncode == 0, done.stderr
    page = (ROOT / "docs" / "review.md").read_text()
    start_marker = "<!-- sample-review:start -->\n"
    start = page.index(start_marker) + len(start_marker)
    end = page.index("\n<!-- sample-review:end -->", start)
    sample = page[start:end]
    assert SHA_IN_HEADER.sub("(sha)", sample) == SHA_IN_HEADER.sub(
        "(sha)", done.stdout
    ), "docs/review.md sample is stale: rerun the command shown there, paste its output"


def test_ci_invocation_on_a_clone(tmp_path: Path, repo: Path) -> None:
    """What the workflow runs: BASE is the remote-tracking branch of a fresh clone."""
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    git(clone, "checkout", "-q", "breaking-minor")
    done = dakora("review", "origin/main", "HEAD", "--format", "markdown", cwd=clone)
    assert done.returncode == 1, done.stderr
    assert "| `translate` | ✏️ modified | 1.0.0 → 1.1.0 (minor) ⚠️ needs major |" in (
        done.stdout
    )


def test_default_base_without_dakora_yaml(tmp_path: Path) -> None:
    from tests.unit.review_scenario import commit_all, write_files

    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "master")
    write_files(repo, {"prompts/p.yaml": 'id: p\nversion: "1.0.0"\ntemplate: "x"\n'})
    commit_all(repo, "one")
    git(repo, "checkout", "-q", "-b", "f")
    write_files(repo, {"prompts/p.yaml": 'id: p\nversion: "1.0.1"\ntemplate: "y"\n'})
    commit_all(repo, "two")
    done = dakora("review", "--format", "json", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["base"]["rev"] == "master"
    git(repo, "branch", "-q", "-m", "master", "trunk")
    done = dakora("review", cwd=repo)
    assert done.returncode == 2 and "pass BASE" in done.stderr
