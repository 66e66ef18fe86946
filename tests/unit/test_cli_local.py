"""The local commands in-process, through Typer's runner, and their helpers.

Exit codes come from ``output.cli_errors`` (2 for bad input, 1 otherwise), so the runner
sees what the installed executable returns. The runner's streams are not terminals:
output is the plain variant.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dakora.cli import local
from dakora.cli.local import _coerce, _read_inputs_file, format_chat
from dakora.cli.main import app
from dakora.cli.output import dumps_json, is_rich, print_table
from dakora.registry.core.errors import BadRequest, InputError
from dakora.registry.core.model import InputSpec
from tests.fixtures.gitrepos import GitRepoBuilder, make_prompt_yaml

runner = CliRunner()

TEXT_PROMPT = """\
id: greet
version: "1.0.0"
template: |
  {% include "style/polite" %}
  Hello {{ name }}{% if vip %}, our valued guest{% endif %}! ({{ count }})
inputs:
  name: {type: string}
  vip: {type: boolean, default: false}
  count: {type: number, default: 0}
examples:
  - {name: Ada}
"""

CHAT_PROMPT = """\
id: ask
version: "0.1.0"
messages:
  - {role: system, content: "Topic: {{ topic }}"}
  - {role: user, content: "{{ question }}\\n"}
inputs:
  topic: {type: string, enum: [git, python]}
  question: {type: string}
examples:
  - {topic: git, question: Why?}
"""


def invoke(*args: str | Path) -> object:
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A plain folder (no git) holding a prompt repository."""
    root = tmp_path / "plain"
    (root / "prompts").mkdir(parents=True)
    (root / "parts" / "style").mkdir(parents=True)
    (root / "parts" / "style" / "polite.md").write_text("Be polite.\n")
    (root / "prompts" / "greet.yaml").write_text(TEXT_PROMPT)
    (root / "prompts" / "ask.yaml").write_text(CHAT_PROMPT)
    return root


# ----------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ([{"role": "user", "content": "Hi"}], "[user]\nHi\n"),
        ([{"role": "user", "content": "Hi\n"}], "[user]\nHi\n"),
        (
            [
                {"role": "system", "content": "Be brief.\n"},
                {"role": "user", "content": "Hi"},
            ],
            "[system]\nBe brief.\n\n[user]\nHi\n",
        ),
        ([], ""),
    ],
)
def test_format_chat(messages: list[dict[str, str]], expected: str) -> None:
    assert format_chat(messages) == expected


def test_read_inputs_file_json_yaml_and_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    j = tmp_path / "in.json"
    j.write_text('{"n": 3, "flag": true, "tags": ["a"]}')
    assert _read_inputs_file(str(j)) == {"n": 3, "flag": True, "tags": ["a"]}
    y = tmp_path / "in.yml"
    y.write_text("n: 3\nobj: {a: 1}\n")
    assert _read_inputs_file(str(y)) == {"n": 3, "obj": {"a": 1}}
    empty = tmp_path / "empty.json"
    empty.write_text("null")
    assert _read_inputs_file(str(empty)) == {}
    monkeypatch.setattr("sys.stdin", io.StringIO('{"x": "y"}'))
    assert _read_inputs_file("-") == {"x": "y"}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.json", '{"a": 1,\n oops}', "bad.json:2: not valid JSON"),
        ("bad.yaml", "a: [1,\n", "not valid YAML"),
        ("list.json", "[1, 2]", "must hold one object"),
        ("scalar.yaml", "just text", "must hold one object"),
    ],
)
def test_read_inputs_file_rejects(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(BadRequest) as info:
        _read_inputs_file(str(path))
    assert message in info.value.message
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: Ada\nn: 3\n", {"name": "Ada", "n": 3}),
        ('  {"name": "Ada"}', {"name": "Ada"}),
        ("", {}),
    ],
)
def test_read_inputs_file_stdin_accepts_yaml_and_json(
    monkeypatch: pytest.MonkeyPatch, text: str, expected: dict[str, object]
) -> None:
    """`--inputs-file -`: stdin has no extension, so YAML is accepted as well."""
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    assert _read_inputs_file("-") == expected


def test_read_inputs_file_stdin_bad_json_names_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO('{"a": 1,\n oops}'))
    with pytest.raises(BadRequest, match="stdin:2: not valid JSON"):
        _read_inputs_file("-")


def test_read_inputs_file_missing(tmp_path: Path) -> None:
    with pytest.raises(BadRequest, match="cannot read inputs file"):
        _read_inputs_file(str(tmp_path / "nope.json"))


SPECS = {
    "name": InputSpec(type="string"),
    "count": InputSpec(type="number", default=0, has_default=True),
    "vip": InputSpec(type="boolean", default=False, has_default=True),
}


def test_coerce_cli_overrides_file_and_types_follow_the_source() -> None:
    # From the file, JSON types; from -i, strings parsed by the declared type.
    assert _coerce(SPECS, {"name": "Ada", "count": 2}, {"count": "5"}) == {
        "name": "Ada",
        "count": 5,
        "vip": False,
    }
    assert _coerce(SPECS, {"name": "Ada", "vip": True}, {}) == {
        "name": "Ada",
        "count": 0,
        "vip": True,
    }
    assert _coerce(SPECS, {}, {"name": "Bo", "vip": "off"})["vip"] is False


def test_coerce_reports_every_problem_from_both_sources_once() -> None:
    with pytest.raises(InputError) as info:
        _coerce(SPECS, {"count": "many", "extra": 1}, {"vip": "banana"})
    names = sorted(p.name for p in info.value.problems)
    assert names == ["count", "extra", "name", "vip"]
    assert info.value.exit_code == 2
    # A required input given (but bad) is not reported a second time as missing.
    with pytest.raises(InputError) as again:
        _coerce(SPECS, {"name": ["not", "a", "string"]}, {"count": "1"})
    assert [p.name for p in again.value.problems] == ["name"]


def test_plain_table_and_json_helpers(capsys: pytest.CaptureFixture[str]) -> None:
    assert not is_rich()  # captured output is not a terminal
    print_table(["A", "LONGER"], [["x", "1"], ["yyyy", None]])
    assert capsys.readouterr().out == "A     LONGER\nx     1\nyyyy\n"
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert json.loads(dumps_json({"at": when, "p": Path("a/b")})) == {
        "at": "2024-01-02T03:04:05+00:00",
        "p": "a/b",
    }


# ----------------------------------------------------------------------------- render


def test_render_plain_folder_exact_text(folder: Path) -> None:
    result = invoke("render", "greet", "--repo", folder, "-i", "name=Ada")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Be polite.\n\nHello Ada! (0)\n"
    vip = invoke("render", "greet", "--repo", folder, "-i", "name=Ada",
                 "-i", "vip=true", "-i", "count=2.5")  # fmt: skip
    assert vip.stdout == "Be polite.\n\nHello Ada, our valued guest! (2.5)\n"


def test_render_chat_and_json(folder: Path) -> None:
    args = ["render", "ask", "--repo", folder, "-i", "topic=git", "-i", "question=Why?"]
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "[system]\nTopic: git\n\n[user]\nWhy?\n"
    as_json = invoke(*args, "--json")
    assert json.loads(as_json.stdout) == [
        {"role": "system", "content": "Topic: git"},
        {"role": "user", "content": "Why?\n"},
    ]
    text_json = invoke("render", "greet", "--repo", folder, "-i", "name=A", "--json")
    assert json.loads(text_json.stdout) == "Be polite.\n\nHello A! (0)\n"


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["greet", "-i", "name=A", "-i", "count=lots"], 2, "count"),
        (["greet", "-i", "name=A", "-i", "vip=banana"], 2, "vip"),
        (["greet"], 2, "name"),
        (["greet", "-i", "nmae=A"], 2, "nmae"),
        (["greet", "-i", "name"], 2, "name"),
        (["ask", "-i", "topic=rust", "-i", "question=?"], 2, "topic"),
        (["greet", "-i", "name=A", "--ref", "main", "--commit", "abc"], 2, "--commit"),
        (["missing-prompt"], 1, "missing-prompt"),
        (["greet", "-i", "name=A", "--ref", "main"], 1, "not a git repository"),
    ],
)
def test_render_errors_and_exit_codes(
    folder: Path, args: list[str], code: int, needle: str
) -> None:
    result = invoke("render", *args, "--repo", folder)
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_render_json_errors_are_json_on_stderr(folder: Path) -> None:
    result = invoke("render", "greet", "--repo", folder, "-i", "count=x", "--json")
    assert result.exit_code == 2
    body = json.loads(result.stderr)["error"]
    assert body["code"] == "invalid_inputs"
    assert sorted(p["input"] for p in body["problems"]) == ["count", "name"]


def test_render_inputs_file_with_cli_override(folder: Path, tmp_path: Path) -> None:
    f = tmp_path / "in.json"
    f.write_text(json.dumps({"name": "Bo", "count": 7}))
    result = invoke("render", "greet", "--repo", folder, "--inputs-file", f,
                    "-i", "count=8")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout.endswith("Hello Bo! (8)\n")


# ----------------------------------------------------------------------------- lint


def test_lint_plain_folder_notes_skipped_version_rules(folder: Path) -> None:
    result = invoke("lint", folder)
    assert result.exit_code == 0, result.stdout
    assert "version rules" in result.stderr
    assert result.stdout == "ok: 2 prompts checked, no problems\n"


def test_lint_reports_and_exits_1(folder: Path) -> None:
    (folder / "prompts" / "broken.yaml").write_text(
        'id: broken\nversion: "1.0.0"\ntemplate: "Hi {{ who }}"\n'
    )
    result = invoke("lint", folder)
    assert result.exit_code == 1
    first = result.stdout.splitlines()[0]
    assert first.startswith("prompts/broken.yaml:3: error: ")
    assert first.endswith("]")
    assert result.stdout.splitlines()[-1].startswith("1 error, ")
    data = json.loads(invoke("lint", folder, "--json").stdout)
    assert data["ok"] is False
    errors = [f for f in data["findings"] if f["severity"] == "error"]
    assert [(f["path"], f["line"]) for f in errors] == [("prompts/broken.yaml", 3)]
    assert {f["rule"] for f in data["findings"] if f["severity"] == "info"} == {
        "no-history"
    }


def test_lint_warning_only_exits_0(folder: Path) -> None:
    (folder / "prompts" / "unused.yaml").write_text(
        'id: unused\nversion: "1.0.0"\ntemplate: "Hi"\n'
        "inputs:\n  who: {type: string, required: false}\n"
        "examples:\n  - {}\n"
    )
    result = invoke("lint", folder)
    assert result.exit_code == 0, result.stdout
    assert ": warning: " in result.stdout
    assert result.stdout.splitlines()[-1].startswith("0 errors, 1 warning")


def test_lint_missing_folder_exits_1(tmp_path: Path) -> None:
    result = invoke("lint", tmp_path / "nope")
    assert result.exit_code == 1
    assert "no such folder" in result.stderr


# ----------------------------------------------------------------------------- git-backed


@pytest.fixture
def history_repo(git_repo: GitRepoBuilder) -> GitRepoBuilder:
    git_repo.write("prompts/greeting.yaml", make_prompt_yaml(version="1.0.0"))
    git_repo.commit("first")
    git_repo.tag("v1")
    git_repo.write(
        "prompts/greeting.yaml",
        make_prompt_yaml(version="1.1.0", template="Hi {{ name }}!\n"),
    )
    git_repo.commit("friendlier\n\nlonger body")
    return git_repo


def test_history_table_and_json(history_repo: GitRepoBuilder) -> None:
    result = invoke("history", "greeting", "--repo", history_repo.path)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "VERSION",
        "COMMIT",
        "DATE",
        "(UTC)",
        "AUTHOR",
        "MESSAGE",
    ]
    assert lines[1].split()[0] == "1.1.0"
    assert lines[1].endswith("friendlier")
    data = json.loads(
        invoke("history", "greeting", "--repo", history_repo.path, "--json").stdout
    )
    assert [v["version"] for v in data] == ["1.1.0", "1.0.0"]
    assert data[0]["commit"] == history_repo.head()
    assert data[1]["commit"] == history_repo.head("v1")
    at_tag = invoke("history", "greeting", "--repo", history_repo.path,
                    "--ref", "v1", "--json")  # fmt: skip
    assert [v["version"] for v in json.loads(at_tag.stdout)] == ["1.0.0"]
    missing = invoke("history", "nope", "--repo", history_repo.path)
    assert missing.exit_code == 1
    assert "nope" in missing.stderr


def test_diff_plain_and_json(history_repo: GitRepoBuilder) -> None:
    result = invoke("diff", "greeting", "1.0.0", "1.1.0", "--repo", history_repo.path)
    assert result.exit_code == 0, result.stderr
    assert "-  Hello {{ name }}!\n" in result.stdout
    assert "+  Hi {{ name }}!\n" in result.stdout
    same = invoke("diff", "greeting", "v1", "1.0.0", "--repo", history_repo.path)
    assert same.exit_code == 0
    assert same.stdout == ""
    assert "no differences" in same.stderr
    data = json.loads(
        invoke(
            "diff", "greeting", "v1", "main", "--repo", history_repo.path, "--json"
        ).stdout  # fmt: skip
    )
    assert data["diff"] == result.stdout


def test_render_git_selectors(history_repo: GitRepoBuilder) -> None:
    path = history_repo.path
    (path / "prompts" / "greeting.yaml").write_text(
        make_prompt_yaml(version="1.2.0", template="Yo {{ name }}!\n")
    )
    expected = {
        (): "Yo Ada!\n",
        ("--ref", "main"): "Hi Ada!\n",
        ("--ref", "v1"): "Hello Ada!\n",
        ("--version", "1.0.0"): "Hello Ada!\n",
        ("--commit", history_repo.head("v1")[:8]): "Hello Ada!\n",
        ("--ref", "HEAD~1"): "Hello Ada!\n",
    }
    for selector, text in expected.items():
        result = invoke(
            "render", "greeting", "--repo", path, *selector, "-i", "name=Ada"
        )
        assert result.exit_code == 0, (selector, result.stderr)
        assert result.stdout == text, selector


def test_init_creates_a_clean_repo_and_refuses_twice(tmp_path: Path) -> None:
    target = tmp_path / "new"
    result = invoke("init", target)
    assert result.exit_code == 0, result.stderr
    assert "dakora render hello" in result.stdout
    repo = GitRepoBuilder(target)
    assert repo.git("status", "--porcelain") == ""
    assert repo.git("log", "--format=%s") == "Start a Dakora prompt repository"
    lint = invoke("lint", target)
    assert lint.exit_code == 0, lint.stdout
    again = invoke("init", target)
    assert again.exit_code == 1
    assert "already a Dakora prompt repository" in again.stderr


def test_init_refuses_folder_with_prompts(tmp_path: Path) -> None:
    (tmp_path / "p" / "prompts").mkdir(parents=True)
    (tmp_path / "p" / "prompts" / "x.yaml").write_text("id: x\n")
    result = invoke("init", tmp_path / "p")
    assert result.exit_code == 1
    assert "prompts/ is not empty" in result.stderr
    assert not (tmp_path / "p" / ".git").exists()


def test_init_files_lint_clean_and_render_their_examples() -> None:
    # The example prompt written by `dakora init` is valid on its own.
    from dakora.registry.load.loader import load_prompt

    loaded = load_prompt(local.INIT_PROMPT.encode(), "prompts/hello.yaml")
    assert loaded.prompt.id == "hello"
    assert len(loaded.prompt.examples) == 2


def test_render_remote_without_a_server_is_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no saved `dakora link`
    monkeypatch.delenv("DAKORA_URL", raising=False)
    result = invoke("render", "greet", "--project", "acme/prompts", "-i", "name=A")
    assert result.exit_code == 2
    assert "no server" in result.stderr
    both = invoke("render", "greet", "--remote", "http://127.0.0.1:9",
                  "--ref", "main", "--version", "1.0.0")  # fmt: skip
    assert both.exit_code == 2
    assert "only one of" in both.stderr


def test_render_of_a_file_that_does_not_load_shows_its_findings(folder: Path) -> None:
    (folder / "prompts" / "broken.yaml").write_text(
        "id: broken\nversion: 1.0\ntemplate: Hi\n"
    )
    result = invoke("render", "broken", "--repo", folder)
    assert result.exit_code == 1
    assert "prompts/broken.yaml:2: error: " in result.stderr
    assert "[version-not-string]" in result.stderr


def test_lint_of_the_prompts_folder_itself_explains(folder: Path) -> None:
    # pointed one folder too deep (a mis-configured CI job): an error, not a pass
    result = invoke("lint", folder / "prompts")
    assert result.exit_code == 1
    assert "error: no prompt files found" in result.stdout
    assert "repository root" in result.stdout and "[no-prompts]" in result.stdout
    assert result.stdout.endswith("1 error, 0 warnings (0 prompts checked)\n")
    allowed = invoke("lint", folder / "prompts", "--allow-empty")
    assert allowed.exit_code == 0
    assert allowed.stdout.startswith("ok: 0 prompts checked")


def test_bare_repository_lints_and_renders_head(
    history_repo: GitRepoBuilder, tmp_path: Path
) -> None:
    bare = history_repo.clone_bare(tmp_path / "bare.git")
    lint = invoke("lint", bare)
    assert lint.exit_code == 0, lint.stdout
    assert "checking HEAD" in lint.stderr
    result = invoke("render", "greeting", "--repo", bare, "-i", "name=Ada")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Hi Ada!\n"
    tagged = invoke("render", "greeting", "--repo", bare, "--ref", "v1", "-i", "name=A")
    assert tagged.stdout == "Hello A!\n"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_gets_rich_output_and_no_color_turns_it_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dakora.cli import output
    from dakora.registry.core.findings import Finding

    finding = Finding("prompts/a.yaml", 3, "error", "bad [thing]", "schema")
    monkeypatch.delenv("NO_COLOR", raising=False)
    tty = _Tty()
    monkeypatch.setattr("sys.stdout", tty)
    assert output.is_rich()
    output.print_findings([finding])
    output.print_table(["VERSION"], [["1.0.0"]])
    output.print_diff("--- a\n+++ b\n-old\n+new\n")
    text = tty.getvalue()
    assert "\x1b[" in text  # colours
    assert "┃" in text or "│" in text  # a box-drawn table
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
    assert "prompts/a.yaml:3: error: bad [thing] [schema]" in plain  # markup escaped
    assert "+new" in plain and "-old" in plain

    monkeypatch.setenv("NO_COLOR", "1")
    tty2 = _Tty()
    monkeypatch.setattr("sys.stdout", tty2)
    assert not output.is_rich()
    output.print_findings([finding])
    assert tty2.getvalue() == finding.format() + "\n"


def test_yaml_inputs_file_keeps_dates_as_strings(tmp_path: Path) -> None:
    path = tmp_path / "in.yaml"
    path.write_text("when: 2024-11-02\norder: {placed_at: 2024-06-30, n: 3}\n")
    assert _read_inputs_file(str(path)) == {
        "when": "2024-11-02",
        "order": {"placed_at": "2024-06-30", "n": 3},
    }


def test_lint_refuses_a_version_used_on_another_branch(
    history_repo: GitRepoBuilder,
) -> None:
    # feature: greeting 1.2.0 = "Hey"; main's working tree: 1.2.0 = "Yo" → reused.
    history_repo.switch("feature", create=True)
    history_repo.write(
        "prompts/greeting.yaml",
        make_prompt_yaml(version="1.2.0", template="Hey {{ name }}!\n"),
    )
    history_repo.commit("feature: hey")
    history_repo.switch("main")
    path = history_repo.path / "prompts" / "greeting.yaml"
    path.write_text(make_prompt_yaml(version="1.2.0", template="Yo {{ name }}!\n"))
    result = invoke("lint", history_repo.path)
    assert result.exit_code == 1, result.stdout
    assert "[version-reused]" in result.stdout
    # The same content as feature's 1.2.0 is the same version: fine.
    path.write_text(make_prompt_yaml(version="1.2.0", template="Hey {{ name }}!\n"))
    ok = invoke("lint", history_repo.path)
    assert ok.exit_code == 0, ok.stdout
    # And a fresh version number is fine too.
    path.write_text(make_prompt_yaml(version="1.3.0", template="Yo {{ name }}!\n"))
    assert invoke("lint", history_repo.path).exit_code == 0
