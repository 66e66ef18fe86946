"""The local CLI through the installed ``dakora`` executable, on real git repositories.

Repositories are built with the ``git`` CLI (commits, branches, tags); every command runs
as a subprocess, so exit codes, stdout/stderr separation and "no traceback" are the real
thing. Output is piped, so it must be plain (no ANSI escapes).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DAKORA = ROOT / ".venv" / "bin" / "dakora"
ANSI = re.compile(r"\x1b\[")

GREET_V1 = """\
id: greet
version: "1.0.0"
description: Greet someone.
template: |
  {% include "style/polite" %}
  Hello {{ name }}!
inputs:
  name: {type: string}
examples:
  - {name: Ada}
"""

GREET_V11 = """\
id: greet
version: "1.1.0"
description: Greet someone, maybe a VIP.
template: |
  Hello {{ name }}{% if vip %}, our valued guest{% endif %}! You have {{ count }} new messages.
inputs:
  name: {type: string}
  vip: {type: boolean, default: false}
  count: {type: number, default: 0}
examples:
  - {name: Ada, vip: true, count: 2}
"""

GREET_V2 = GREET_V11.replace('"1.1.0"', '"2.0.0"').replace("Hello", "Welcome")

GREET_WORKTREE = GREET_V11.replace('"1.1.0"', '"1.2.0"').replace("Hello", "Howdy")

ASK = """\
id: ask
version: "0.1.0"
description: Answer a question.
messages:
  - role: system
    content: |
      You answer questions about {{ topic }}.
      {%- if context %}
      Context:
      {{ context | yaml }}
      {%- endif %}
  - role: user
    content: "{{ question }}{% if tags %} (tags: {{ tags | join(', ') }}){% endif %}"
inputs:
  topic: {type: string, enum: [git, python]}
  question: {type: string}
  context: {type: object, required: false}
  tags: {type: array<string>, required: false}
examples:
  - {topic: git, question: What is a ref?}
"""

CONFIG = "default_branch: main\nprotected_refs: [production]\n"
PART = "Be polite.\n"


def dakora(
    *args: str | Path, cwd: Path | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DAKORA), *(str(a) for a in args)],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def write(repo: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    write(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def new_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    return path


def assert_user_error(proc: subprocess.CompletedProcess[str], code: int) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == ""
    assert "error:" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """main: v1.0.0 (tag v1.0, branch production) → v1.1.0; feature: → v2.0.0;
    the working tree holds an uncommitted 1.2.0."""
    path = new_repo(tmp_path_factory.mktemp("cli") / "prompts")
    c1 = commit(
        path,
        {
            "dakora.yaml": CONFIG,
            "parts/style/polite.md": PART,
            "prompts/greet.yaml": GREET_V1,
        },
        "greet 1.0.0",
    )
    git(path, "tag", "v1.0")
    git(path, "branch", "production")
    c2 = commit(
        path,
        {"prompts/greet.yaml": GREET_V11, "prompts/chat/ask.yaml": ASK},
        "greet 1.1.0: VIPs and a message count",
    )
    git(path, "checkout", "-q", "-b", "feature")
    c3 = commit(path, {"prompts/greet.yaml": GREET_V2}, "greet 2.0.0")
    git(path, "checkout", "-q", "main")
    write(path, {"prompts/greet.yaml": GREET_WORKTREE})
    return {"path": path, "c1": c1, "c2": c2, "c3": c3}


# ----------------------------------------------------------------------------- init


def test_init_lint_render(tmp_path: Path) -> None:
    proc = dakora("init", "proj", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    proj = tmp_path / "proj"
    assert (proj / "dakora.yaml").is_file()
    assert (proj / "prompts" / "hello.yaml").is_file()
    assert git(proj, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert len(git(proj, "log", "--oneline").splitlines()) == 1
    assert git(proj, "status", "--porcelain") == ""

    lint = dakora("lint", cwd=proj)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert lint.stdout.strip().splitlines()[-1].startswith("ok: 1 prompt checked")

    out = dakora("render", "hello", "--repo", "proj", "-i", "name=Ada", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout == (
        "You are friendly and brief. Plain words, no exclamation marks.\n"
        "\nWrite a short greeting for Ada.\n"
    )
    topic = dakora("render", "hello", "-i", "name=Ada", "-i", "topic=git", cwd=proj)
    assert topic.stdout.endswith("Write a short greeting for Ada that mentions git.\n")


def test_init_refuses_an_existing_prompt_repo(tmp_path: Path) -> None:
    assert dakora("init", tmp_path / "p").returncode == 0
    again = dakora("init", tmp_path / "p")
    assert_user_error(again, 1)
    assert "already a Dakora prompt repository" in again.stderr
    assert len(git(tmp_path / "p", "log", "--oneline").splitlines()) == 1


def test_init_inside_an_application_repo_commits_there(tmp_path: Path) -> None:
    app_repo = new_repo(tmp_path / "app")
    commit(app_repo, {"src/main.py": "print('hi')\n"}, "app")
    proc = dakora("init", "llm/prompts", cwd=app_repo)
    assert proc.returncode == 0, proc.stderr
    assert not (app_repo / "llm" / "prompts" / ".git").exists()
    files = git(app_repo, "show", "--name-only", "--format=", "HEAD").splitlines()
    assert sorted(files) == [
        "llm/prompts/dakora.yaml",
        "llm/prompts/parts/style/friendly.md",
        "llm/prompts/prompts/hello.yaml",
    ]
    out = dakora("render", "hello", "--repo", "llm/prompts", "--ref", "main",
                 "-i", "name=Bo", cwd=app_repo)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "greeting for Bo." in out.stdout


# ----------------------------------------------------------------------------- lint


def test_lint_clean_repo_and_json(repo: dict[str, object]) -> None:
    path = repo["path"]
    proc = dakora("lint", path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == "ok: 2 prompts checked, no problems"
    assert not ANSI.search(proc.stdout + proc.stderr)
    data = json.loads(dakora("lint", path, "--json").stdout)
    assert data["ok"] is True
    assert (data["errors"], data["warnings"], data["prompts"]) == (0, 0, 2)
    assert data["findings"] == []


def test_lint_errors_exit_1_with_path_and_line(tmp_path: Path) -> None:
    path = new_repo(tmp_path / "r")
    commit(path, {"prompts/greet.yaml": GREET_V1, "parts/style/polite.md": PART}, "ok")
    write(path, {"prompts/bad.yaml": GREET_V1.replace('"1.0.0"', "1.0").replace(
        "id: greet", "id: bad")})  # fmt: skip
    proc = dakora("lint", cwd=path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert any(
        re.fullmatch(r"prompts/bad\.yaml:2: error: .+ \[[a-z0-9-]+\]", line)
        for line in lines
    ), lines
    assert re.match(r"\d+ errors?, \d+ warnings? \(2 prompts checked\)", lines[-1])
    assert "Traceback" not in proc.stderr
    data = json.loads(dakora("lint", path, "--json").stdout)
    assert data["ok"] is False and data["errors"] >= 1
    assert {f["path"] for f in data["findings"]} == {"prompts/bad.yaml"}
    assert all(f["line"] == 2 for f in data["findings"] if f["severity"] == "error")


def test_render_of_a_broken_file_prints_the_finding_once(tmp_path: Path) -> None:
    """One `path:line: error: … [rule]` line, as lint prints it ("error: … error:")."""
    path = new_repo(tmp_path / "r")
    write(path, {"prompts/bad.yaml": GREET_V1.replace('"1.0.0"', "1.0")})
    proc = dakora("render", "greet", "-i", "name=Ada", cwd=path)
    assert_user_error(proc, 1)
    assert re.fullmatch(
        r"prompts/bad\.yaml:2: error: version must be a string.+"
        r" \[version-not-string\]\n",
        proc.stderr,
    ), proc.stderr


def test_render_in_a_folder_without_prompts_says_where_to_run(tmp_path: Path) -> None:
    """Run from inside prompts/ (not the prompt root): a hint, not a bare not-found."""
    path = new_repo(tmp_path / "r")
    commit(path, {"prompts/greet.yaml": GREET_V1, "parts/style/polite.md": PART}, "ok")
    proc = dakora("render", "greet", "-i", "name=Ada", cwd=path / "prompts")
    assert_user_error(proc, 1)
    assert "no prompt files" in proc.stderr and "--repo" in proc.stderr


def test_lint_version_rules_against_head_and_at_a_ref(tmp_path: Path) -> None:
    path = new_repo(tmp_path / "r")
    commit(path, {"prompts/greet.yaml": GREET_V1, "parts/style/polite.md": PART}, "v1")
    # Working tree: content changed, version not bumped.
    write(path, {"prompts/greet.yaml": GREET_V1.replace("Hello", "Hi")})
    proc = dakora("lint", path)
    assert proc.returncode == 1, proc.stdout
    assert re.search(r"^prompts/greet\.yaml(:\d+)?: error: ", proc.stdout, re.M)
    # The same change committed on a branch: lint --ref finds it, main stays clean.
    git(path, "checkout", "-q", "-b", "sloppy")
    git(path, "commit", "-q", "-am", "reword without a bump")
    git(path, "checkout", "-q", "main")
    bad = dakora("lint", path, "--ref", "sloppy")
    assert bad.returncode == 1
    assert "prompts/greet.yaml" in bad.stdout
    good = dakora("lint", path, "--ref", "main")
    assert good.returncode == 0, good.stdout
    missing = dakora("lint", path, "--ref", "no-such-branch")
    assert_user_error(missing, 1)


# ----------------------------------------------------------------------------- render


def test_render_selectors(repo: dict[str, object]) -> None:
    path = repo["path"]
    v1 = "Be polite.\n\nHello Ada!\n"
    # (More selector combinations run in-process in tests/unit/test_cli_local.py.)
    cases = {
        (): "Howdy Ada! You have 0 new messages.\n",  # the working tree
        ("--ref", "main"): "Hello Ada! You have 0 new messages.\n",
        ("--ref", "production"): v1,
        ("--version", "2.0.0"): "Welcome Ada! You have 0 new messages.\n",
        ("--commit", str(repo["c1"])[:10]): v1,
    }
    for selector, expected in cases.items():
        proc = dakora("render", "greet", "--repo", path, *selector, "-i", "name=Ada")
        assert proc.returncode == 0, (selector, proc.stderr)
        assert proc.stdout == expected, selector


def test_render_coerces_cli_strings_and_inputs_file(
    repo: dict[str, object], tmp_path: Path
) -> None:
    path = repo["path"]
    proc = dakora("render", "greet", "--repo", path, "--ref", "main",
                  "-i", "name=Ada", "-i", "vip=YES", "-i", "count=3")  # fmt: skip
    assert proc.stdout == "Hello Ada, our valued guest! You have 3 new messages.\n"
    inputs = tmp_path / "in.json"
    inputs.write_text(json.dumps({"name": "Bo", "vip": False, "count": 2}))
    from_file = dakora("render", "greet", "--repo", path, "--ref", "main",
                       "--inputs-file", inputs, "-i", "count=5")  # fmt: skip
    assert from_file.returncode == 0, from_file.stderr
    assert from_file.stdout == "Hello Bo! You have 5 new messages.\n"
    yaml_file = tmp_path / "in.yaml"
    yaml_file.write_text("name: Cy\nvip: true\n")
    from_yaml = dakora("render", "greet", "--repo", path, "--ref", "main",
                       "--inputs-file", yaml_file)  # fmt: skip
    assert from_yaml.stdout == "Hello Cy, our valued guest! You have 0 new messages.\n"
    stdin = dakora("render", "greet", "--repo", path, "--ref", "main",
                   "--inputs-file", "-", stdin='{"name": "Di"}')  # fmt: skip
    assert stdin.stdout == "Hello Di! You have 0 new messages.\n"


def test_render_chat_blocks_and_json(repo: dict[str, object]) -> None:
    path = repo["path"]
    args = ["render", "ask", "--repo", path, "-i", "topic=git",
            "-i", "question=What is a ref?"]  # fmt: skip
    proc = dakora(*args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "[system]\nYou answer questions about git.\n\n[user]\nWhat is a ref?\n"
    )
    as_json = dakora(*args, "-i", 'context={"repo": "dakora"}',
                     "-i", 'tags=["basics", "refs"]', "--json")  # fmt: skip
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == [
        {
            "role": "system",
            "content": "You answer questions about git.\nContext:\nrepo: dakora\n",
        },
        {"role": "user", "content": "What is a ref? (tags: basics, refs)"},
    ]


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["-i", "name=Ada", "-i", "vip=banana", "-i", "count=abc"], ["vip", "count"]),
        (["-i", "nme=Bo"], ["nme", "name"]),  # unknown input, missing required one
        (["-i", "name"], ["name"]),  # not key=value
        (["-i", "name=Ada", "--inputs-file", "/nonexistent/in.json"], ["in.json"]),
        (["-i", "name=Ada", "--ref", "main", "--version", "1.0.0"], ["--ref"]),
    ],
)
def test_render_bad_input_exits_2_on_stderr(
    repo: dict[str, object], args: list[str], names: list[str]
) -> None:
    proc = dakora("render", "greet", "--repo", repo["path"], "--ref", "main", *args)
    assert_user_error(proc, 2)
    for name in names:
        assert name in proc.stderr


def test_render_enum_and_json_errors(repo: dict[str, object]) -> None:
    path = repo["path"]
    proc = dakora("render", "ask", "--repo", path, "-i", "topic=rust",
                  "-i", "question=?", "--json")  # fmt: skip
    assert proc.returncode == 2
    body = json.loads(proc.stderr)["error"]
    assert body["code"] == "invalid_inputs"
    assert [p["input"] for p in body["problems"]] == ["topic"]


def test_render_not_found_exits_1(repo: dict[str, object]) -> None:
    path = repo["path"]
    assert_user_error(dakora("render", "nope", "--repo", path), 1)
    assert_user_error(
        dakora("render", "greet", "--repo", path, "--version", "9.9.9"), 1
    )
    outside = dakora("render", "greet", "--repo", "/nonexistent/dir", "-i", "name=A")
    assert_user_error(outside, 1)


def test_render_from_a_folder_inside_a_repo(tmp_path: Path) -> None:
    root = new_repo(tmp_path / "app")
    commit(
        root,
        {
            "src/app.py": "pass\n",
            "llm/dakora.yaml": CONFIG,
            "llm/parts/style/polite.md": PART,
            "llm/prompts/greet.yaml": GREET_V1,
        },
        "app with prompts in llm/",
    )
    proc = dakora(
        "render", "greet", "--ref", "main", "-i", "name=Ada", cwd=root / "llm"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Be polite.\n\nHello Ada!\n"
    assert dakora("lint", root / "llm").returncode == 0


# ----------------------------------------------------------------------------- history & diff


def test_history_json_and_table(repo: dict[str, object]) -> None:
    path = repo["path"]
    proc = dakora("history", "greet", "--repo", path, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [(v["version"], v["commit"]) for v in data] == [
        ("1.1.0", repo["c2"]),
        ("1.0.0", repo["c1"]),
    ]
    assert data[0]["message"].startswith("greet 1.1.0")
    assert data[0]["author"].startswith("Test Author")
    assert data[0]["path"] == "prompts/greet.yaml"
    assert datetime.fromisoformat(data[0]["committed_at"]).utcoffset() is not None
    feature = json.loads(dakora("history", "greet", "--repo", path, "--ref", "feature",
                                "--json").stdout)  # fmt: skip
    assert [v["version"] for v in feature] == ["2.0.0", "1.1.0", "1.0.0"]

    table = dakora("history", "greet", "--repo", path)
    assert table.returncode == 0
    assert not ANSI.search(table.stdout)
    lines = table.stdout.splitlines()
    assert lines[0].split()[:2] == ["VERSION", "COMMIT"]
    assert lines[1].split()[:2] == ["1.1.0", str(repo["c2"])[:12]]
    assert lines[2].split()[:2] == ["1.0.0", str(repo["c1"])[:12]]


def test_diff_versions_and_refs(repo: dict[str, object]) -> None:
    path = repo["path"]
    proc = dakora("diff", "greet", "1.0.0", "1.1.0", "--repo", path, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert (data["id"], data["from"], data["to"]) == ("greet", "1.0.0", "1.1.0")
    lines = data["diff"].splitlines()
    assert '-version: "1.0.0"' in lines
    assert '+version: "1.1.0"' in lines
    assert "-  Hello {{ name }}!" in lines
    by_ref = dakora("diff", "greet", "v1.0", "main", "--repo", path)
    assert by_ref.returncode == 0
    assert not ANSI.search(by_ref.stdout)
    assert [ln for ln in by_ref.stdout.splitlines() if ln.startswith(("+", "-"))] == [
        ln for ln in lines if ln.startswith(("+", "-"))
    ]
    assert_user_error(dakora("diff", "greet", "1.0.0", "7.7.7", "--repo", path), 1)


# ----------------------------------------------------------------------------- README


def _readme_section(name: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"<!-- section:{name} -->")
    end = text.find("<!-- section:", start + 1)
    return text[start : end if end != -1 else None]


def test_readme_quickstart_works_as_written(tmp_path: Path) -> None:
    blocks = re.findall(r"```(\w+)\n(.*?)```", _readme_section("quickstart"), re.S)
    script = next(body for lang, body in blocks if lang == "bash")
    expected = next(body for lang, body in blocks if lang == "text")
    # `make install && . .venv/bin/activate` is what put dakora on this PATH; every
    # other line runs exactly as written, in a fresh HOME.
    lines = [ln for ln in script.splitlines() if not ln.startswith("make install")]
    assert any(ln.startswith("dakora init") for ln in lines)
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
        ["bash", "-euo", "pipefail", "-c", "\n".join(lines)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == expected.replace("/home/you", str(home))


# ----------------------------------------------------------------------------- remote


def test_render_remote_matches_local(repo: dict[str, object], live_server: Any) -> None:
    """``--remote URL --project P`` renders on the server, printing what local does."""
    path = repo["path"]
    live_server.create_project("acme", "prompts", from_path=path)
    key = live_server.create_key("acme/prompts", "read")["key"]
    remote = ["--remote", live_server.base_url, "--project", "acme/prompts",
              "--api-key", key]  # fmt: skip
    # The same outputs the local tests above pin (text, version selector, chat, JSON).
    cases: list[tuple[list[str], str]] = [
        (
            [
                "greet",
                "--ref",
                "main",
                "-i",
                "name=Ada",
                "-i",
                "vip=yes",
                "-i",
                "count=2",
            ],
            "Hello Ada, our valued guest! You have 2 new messages.\n",
        ),
        (
            ["greet", "--version", "1.0.0", "-i", "name=Ada"],
            "Be polite.\n\nHello Ada!\n",
        ),
        (
            [
                "ask",
                "--ref",
                "main",
                "-i",
                "topic=git",
                "-i",
                "question=Why?",
                "-i",
                'tags=["a", "b"]',
            ],  # fmt: skip
            "[system]\nYou answer questions about git.\n\n[user]\nWhy? (tags: a, b)\n",
        ),
    ]
    for args, expected in cases:
        out = dakora("render", *args, *remote)
        assert out.returncode == 0, (args, out.stderr)
        assert out.stdout == expected, args
    as_json = dakora("render", "ask", "-i", "topic=python", "-i", "question=Why?",
                     "--json", *remote)  # fmt: skip
    assert json.loads(as_json.stdout) == [
        {"role": "system", "content": "You answer questions about python.\n"},
        {"role": "user", "content": "Why?"},
    ]
    bad = dakora("render", "greet", "--ref", "main", "-i", "vip=banana", *remote)
    assert_user_error(bad, 2)
    assert "vip" in bad.stderr and "name" in bad.stderr
    missing = dakora("render", "nope", *remote)
    assert_user_error(missing, 1)
    # without --project: the key's project, the server's default_project
    keyed = dakora("render", "greet", "--version", "1.0.0", "-i", "name=Ada",
                   "--remote", live_server.base_url, "--api-key", key)  # fmt: skip
    assert keyed.returncode == 0, keyed.stderr
    assert keyed.stdout == "Be polite.\n\nHello Ada!\n"
