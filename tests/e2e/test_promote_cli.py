"""``dakora promote`` and ``dakora history --ref-log`` through the installed
executable: locally (the same checks as a push, a reflog line) and against a live
server (``--remote``), docs/promotion.md."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.gitrepos import GitRepoBuilder, git, make_prompt_yaml
from tests.fixtures.server import dakora_executable

pytestmark = pytest.mark.e2e

INCLUDE = '{% include "tone/polite" %}\n'


def dakora(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [dakora_executable(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _prompt(pid: str, version: str, template: str) -> str:
    return make_prompt_yaml(id=pid, version=version, template=template, inputs={})


def build(path: Path) -> GitRepoBuilder:
    """main and production at "start"; then on main: note 1.1.0, greeting 1.1.0 and
    tone/polite changed (faq includes it too)."""
    repo = GitRepoBuilder.init(path)
    repo.write("dakora.yaml", "protected_refs:\n  - production\n")
    repo.write("parts/tone/polite.md", "Be polite.\n")
    repo.write("prompts/greeting.yaml", _prompt("greeting", "1.0.0", INCLUDE + "Hi\n"))
    repo.write("prompts/faq.yaml", _prompt("faq", "1.0.0", INCLUDE + "FAQ\n"))
    repo.write("prompts/note.yaml", _prompt("note", "1.0.0", "A note.\n"))
    repo.commit("start")
    git(path, "branch", "production")
    repo.write("prompts/note.yaml", _prompt("note", "1.1.0", "A better note.\n"))
    repo.write("prompts/greeting.yaml", _prompt("greeting", "1.1.0", INCLUDE + "Yo\n"))
    repo.write("parts/tone/polite.md", "Be very polite.\n")
    repo.commit("bump")
    return repo


def test_local_promote_checks_commits_and_logs(tmp_path: Path) -> None:
    repo = build(tmp_path / "r")
    start = git(repo.path, "rev-parse", "production")

    done = dakora(
        "promote", "note", "--from", "main", "--to", "production", cwd=repo.path
    )
    assert done.returncode == 0, done.stderr
    assert "prompt note: 1.0.0 -> 1.1.0" in done.stdout
    assert git(repo.path, "rev-parse", "production^") == start  # a fast-forward
    show = git(repo.path, "show", "production:prompts/faq.yaml")
    assert "version: 1.0.0" in show  # not named: untouched
    assert git(repo.path, "show", "production:parts/tone/polite.md") == "Be polite."

    # a part faq shares: refused, with the file and the rule; then allowed
    args = ("promote", "greeting", "--from", "main", "--to", "production")
    done = dakora(*args, cwd=repo.path)
    assert done.returncode == 1
    assert "parts/tone/polite.md: error:" in done.stderr
    assert "'faq'" in done.stderr and "[shared-part-changed]" in done.stderr
    done = dakora(*args, "--allow-shared-parts", "--json", cwd=repo.path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["parts"][0]["shared_with"] == ["faq"]
    assert [f["rule"] for f in out["findings"]] == ["shared-part-changed"]
    assert (
        git(repo.path, "show", "production:parts/tone/polite.md") == "Be very polite."
    )

    # the ref log: who, when, old -> new, how
    done = dakora("history", "--ref-log", "production", "--json", cwd=repo.path)
    assert done.returncode == 0, done.stderr
    moves = json.loads(done.stdout)
    assert [m["source"] for m in moves] == ["promote", "promote", "git"]
    assert moves[0]["new"] == git(repo.path, "rev-parse", "production")
    assert moves[1]["old"] == start
    assert moves[0]["who"]["name"] == "Test Author <author@example.com>"
    text = dakora("history", "--ref-log", "production", cwd=repo.path).stdout
    assert text.splitlines()[0].split() == [
        "TIME", "(UTC)", "WHO", "OLD", "NEW", "SOURCE", "RESULT", "MESSAGE"
    ]  # fmt: skip


def test_local_refusals(tmp_path: Path) -> None:
    repo = build(tmp_path / "r")
    # a hotfix on production: 1.5.0 there, main's 1.1.0 is not greater
    git(repo.path, "checkout", "-q", "production")
    repo.write("prompts/note.yaml", _prompt("note", "1.5.0", "Hotfix.\n"))
    repo.commit("hotfix")
    tip = git(repo.path, "rev-parse", "production")
    done = dakora(
        "promote", "note", "--from", "main", "--to", "production", cwd=repo.path
    )
    assert done.returncode == 1
    assert "checked out" in done.stderr  # production is this working tree's branch
    git(repo.path, "checkout", "-q", "main")
    done = dakora(
        "promote", "note", "--from", "main", "--to", "production", cwd=repo.path
    )
    assert done.returncode == 1
    assert "prompts/note.yaml" in done.stderr and "[version-not-bumped]" in done.stderr
    assert git(repo.path, "rev-parse", "production") == tip

    cases = [
        (["nope", "--from", "main", "--to", "production"], "not on main", 1),
        (["note", "--from", "main", "--to", "staging"], "does not exist", 1),
        (["note", "--from", "ghost", "--to", "production"], "'ghost'", 1),
        (["note", "--from", "main", "--to", "main"], "same ref", 2),
        (["Bad Id", "--from", "main", "--to", "production"], "invalid prompt id", 2),
    ]
    for args, words, code in cases:
        done = dakora("promote", *args, cwd=repo.path)
        assert done.returncode == code, (args, done.stderr)
        assert words in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
    done = dakora("history", "--ref-log", "production", "note", cwd=repo.path)
    assert done.returncode == 2 and "no prompt ID" in done.stderr


def test_remote_promote_and_ref_log(live_server: Any, tmp_path: Path) -> None:
    live_server.create_project("acme", "cli")
    key = live_server.create_key("acme/cli", "write", name="ci")["key"]
    repo = build(tmp_path / "r")
    host = f"{live_server.host}:{live_server.port}"
    url = f"http://git:{key}@{host}/git/acme/cli.git"
    git(repo.path, "remote", "add", "origin", url)
    git(repo.path, "push", "-q", "origin", "main", "production")
    remote = ["--remote", live_server.base_url, "--project", "acme/cli"]
    remote += ["--api-key", key]

    done = dakora(
        "promote", "note", "--from", "main", "--to", "production", *remote,
        "-m", "Release the note", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "prompt note: 1.0.0 -> 1.1.0" in done.stdout
    done = dakora("promote", "greeting", "--from", "main", "--to", "production",
                  *remote, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 1 and "shared-part-changed" in done.stderr

    done = dakora("history", "--ref-log", "production", *remote, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    moves = json.loads(done.stdout)
    assert [(m["source"], m["result"]) for m in moves] == [
        ("promote", "rejected"),
        ("promote", "accepted"),
        ("git", "accepted"),
    ]
    assert moves[1]["who"]["name"] == "key:ci"
    git(repo.path, "fetch", "-q", "origin")
    body = git(repo.path, "log", "-1", "--format=%B", "origin/production")
    assert body.startswith("Release the note\n\nPromote note 1.1.0 from main")
    done = dakora("history", "--ref-log", "nope", *remote, cwd=tmp_path)
    assert done.returncode == 1 and "does not exist" in done.stderr
