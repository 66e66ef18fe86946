"""``dakora lint`` / ``dakora render`` without Typer (cli/direct.py).

Three guards: the direct parser's table matches the Typer commands' real parameters;
for every argument vector it accepts it sets exactly the values Click's parser sets
(and it declines the rest); and the installed executable, run on a real repository,
imports the lean module set (no Typer, Click, Rich; no dulwich for a working-tree
render or a plain-folder lint). Module sets, never wall-clock time: the start-up
times are in tests/perf/bench_cli.py. That both paths print the same bytes and exit
codes is tests/e2e/test_cli_direct.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.core import TyperArgument, TyperOption

from dakora.cli import direct
from dakora.cli.commands import load

# Typer options the direct path leaves to Typer on purpose (see RENDER in direct.py).
TYPER_ONLY = {"--help", "-h", "--remote", "--project", "--api-key"}


def _command(name: str) -> typer.core.TyperCommand:
    command = load(name)
    assert isinstance(command, typer.core.TyperCommand)
    return command


@pytest.mark.parametrize("name", sorted(direct.SPECS))
def test_the_direct_table_matches_the_typer_command(name: str) -> None:
    spec = direct.SPECS[name]
    command = _command(name)
    ctx = command.make_context(name, ["--help"], resilient_parsing=True)
    arguments = []
    seen: set[str] = set()
    for param in command.get_params(ctx):
        if isinstance(param, TyperArgument):
            arguments.append(param)
            continue
        assert isinstance(param, TyperOption)
        for opt in [*param.opts, *param.secondary_opts]:
            if opt in TYPER_ONLY:
                continue
            assert opt in spec.options, f"{name} {opt}: missing from direct.{name}"
            option = spec.options[opt]
            assert option.dest == param.name, opt
            assert option.flag == param.is_flag, opt
            assert option.multiple == param.multiple, opt
            assert param.envvar is None, opt  # Click would read an env var
            seen.add(opt)
            default = spec.defaults[option.dest]
            assert default == (param.default or ([] if param.multiple else None)) or (
                default is False and param.default is False
            ), opt
    assert seen == set(spec.options), sorted(set(spec.options) - seen)
    assert tuple(a.name for a in arguments) == spec.arguments
    assert sum(1 for a in arguments if a.required) == spec.required
    for argument in arguments:
        if not argument.required:
            assert spec.defaults[argument.name or ""] == argument.default


def _click_params(name: str, args: list[str]) -> dict[str, Any]:
    """The values Click's parser (through Typer's conversions) sets for ``args``."""
    ctx = _command(name).make_context(name, list(args))
    params = dict(ctx.params)
    for key in ("remote", "project", "api_key"):
        params.pop(key, None)
    if "inputs" in params:  # () when not given: the command body reads ``inputs or []``
        params["inputs"] = list(params["inputs"] or [])
    return params


ACCEPTED = [
    ("lint", []),
    ("lint", ["repo"]),
    ("lint", ["--json"]),
    ("lint", ["repo", "--allow-empty", "--json"]),
    ("lint", ["--ref", "main", "repo"]),
    ("lint", ["--ref=HEAD~1"]),
    ("lint", ["sub/dir", "--ref", "v1.0"]),
    ("render", ["greet"]),
    ("render", ["greet", "-iname=Ada", "-i", "vip=true", "--input", "count=2"]),
    ("render", ["greet", "-i=x"]),  # Click: the value of -i is "=x"
    ("render", ["--repo", "p", "greet", "--json"]),
    ("render", ["greet", "--repo=p", "--ref", "main"]),
    ("render", ["greet", "--version", "1.0.0"]),
    ("render", ["greet", "--commit", "abc123"]),
    ("render", ["greet", "--inputs-file", "-"]),
    ("render", ["greet", "--inputs-file", "in.json", "-iname=A b=c"]),
    ("render", ["greet", "-idiff=-  old\n+  new"]),
]

DECLINED = [
    ("lint", ["--help"]),
    ("lint", ["-h"]),
    ("lint", ["--bogus"]),
    ("lint", ["a", "b"]),
    ("lint", ["--ref"]),
    ("lint", ["--ref", "--json"]),
    ("lint", ["--ref", "a", "--ref", "b"]),
    ("lint", ["--json", "--json"]),
    ("lint", ["--json=1"]),
    ("lint", ["--"]),
    ("lint", ["--", "repo"]),
    ("lint", [""]),
    ("lint", ["-"]),
    ("lint", ["--ref="]),
    ("render", []),
    ("render", ["a", "b"]),
    ("render", ["greet", "-i"]),
    ("render", ["greet", "-x"]),
    ("render", ["greet", "-i", "-x"]),
    ("render", ["greet", "--remote", "http://localhost"]),
    ("render", ["greet", "--project", "w/p"]),
    ("render", ["greet", "--api-key", "k"]),
    ("render", ["greet", "--repo"]),
    ("render", ["greet", "--ver", "1.0.0"]),  # Click knows no abbreviations
]


@pytest.mark.parametrize(("name", "args"), ACCEPTED)
def test_what_the_direct_parser_accepts_click_parses_the_same(
    name: str, args: list[str]
) -> None:
    parsed = direct.parse(direct.SPECS[name], args)
    assert parsed is not None, args
    assert parsed == _click_params(name, args)


@pytest.mark.parametrize(("name", "args"), DECLINED)
def test_the_direct_parser_declines_what_it_does_not_parse_exactly(
    name: str, args: list[str]
) -> None:
    assert direct.parse(direct.SPECS[name], args) is None


def test_only_lint_and_render_go_direct(monkeypatch: pytest.MonkeyPatch) -> None:
    assert direct.direct_call(["lint"]) is not None
    assert direct.direct_call(["render", "x"]) is not None
    for args in ([], ["--help"], ["history", "x"], ["--version"], ["review"]):
        assert direct.direct_call(args) is None, args
    monkeypatch.setenv("_DAKORA_COMPLETE", "bash_complete")  # Click's completion
    assert direct.direct_call(["lint"]) is None


# -- the lean import set of the installed executable ----------------------------------

PROMPT = (
    'id: hi\nversion: "1.0.0"\ntemplate: "Hi {{ name }}"\n'
    "inputs:\n  name: {type: string}\n"
)
# Never on the lint/render path: the CLI framework, terminal drawing (output is piped),
# the server's dependencies, settings, the SDK's HTTP client.
NEVER = {
    "typer",
    "click",
    "rich",
    "fastapi",
    "starlette",
    "sqlalchemy",
    "uvicorn",
    "alembic",
    "pydantic_settings",
    "httpx",
    "azure",
    "mcp",
}


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def _imports(args: list[str], cwd: Path) -> tuple[set[str], str]:
    """(modules the installed ``dakora`` imported, its stdout)."""
    exe = Path(sys.executable).with_name("dakora")
    proc = subprocess.run(
        [str(exe), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(cwd),
            "PYTHONPROFILEIMPORTTIME": "1",
        },
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    } - {"imported package"}
    return modules, proc.stdout


def _top(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("lean")
    work = base / "work"
    (work / "prompts").mkdir(parents=True)
    (work / "prompts" / "hi.yaml").write_text(PROMPT)
    _git(work, "init", "-q", "-b", "main")
    _git(work, "add", "-A")
    _git(work, "commit", "-qm", "hi")
    folder = base / "folder"
    (folder / "prompts").mkdir(parents=True)
    (folder / "prompts" / "hi.yaml").write_text(PROMPT)
    return {"work": work, "folder": folder}


def test_a_working_tree_render_imports_no_typer_and_no_dulwich(
    repos: dict[str, Path],
) -> None:
    for where in ("work", "folder"):
        modules, out = _imports(["render", "hi", "-iname=Ada"], repos[where])
        assert out == "Hi Ada", out  # it ran
        top = _top(modules)
        assert {"jinja2", "yaml", "pydantic"} <= top, sorted(top)
        assert not top & (NEVER | {"dulwich"}), (
            where,
            sorted(top & (NEVER | {"dulwich"})),
        )
        assert (
            "dakora.cli.app" not in modules and "dakora.cli.local_render" not in modules
        )


def test_a_lint_imports_no_typer_and_reads_git_only_in_a_repository(
    repos: dict[str, Path],
) -> None:
    modules, out = _imports(["lint"], repos["work"])
    assert out.startswith("ok: 1 prompt checked"), out
    top = _top(modules)
    assert "dulwich" in top  # the version rules read HEAD
    assert not top & NEVER, sorted(top & NEVER)
    assert not {m for m in modules if m.startswith(("dulwich.server", "dulwich.web"))}
    assert "dakora.cli.app" not in modules and "dakora.cli.local_lint" not in modules
    modules, out = _imports(["lint", "--json"], repos["folder"])
    assert json.loads(out)["target"] == "folder"
    assert not _top(modules) & NEVER, sorted(_top(modules) & NEVER)


def test_a_render_at_a_ref_reads_git(repos: dict[str, Path]) -> None:
    modules, out = _imports(
        ["render", "hi", "--ref", "main", "-iname=Ada"], repos["work"]
    )
    assert out == "Hi Ada"
    assert "dulwich" in _top(modules) and not _top(modules) & NEVER


# -- where a folder is, without dulwich (repo_access.locate) ---------------------------


def test_locate_agrees_with_dulwich_or_says_it_is_unsure(tmp_path: Path) -> None:
    from dakora.cli.repo_access import locate
    from dakora.registry.core import RepositoryNotFound
    from dakora.registry.git import PromptRepository

    work = tmp_path / "work"
    (work / "app" / "prompts").mkdir(parents=True)
    (work / "app" / "prompts" / "hi.yaml").write_text(PROMPT)
    _git(work, "init", "-q", "-b", "main")
    _git(work, "add", "-A")
    _git(work, "commit", "-qm", "hi")
    _git(work, "worktree", "add", "-q", str(tmp_path / "linked"))
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(work), str(tmp_path / "bare.git")],
        check=True,
        capture_output=True,
    )
    odd = tmp_path / "odd"
    odd.mkdir()
    _git(odd, "init", "-q")
    _git(odd, "config", "extensions.unknownThing", "true")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _git(elsewhere, "init", "-q")
    _git(elsewhere, "config", "core.worktree", str(work))  # the work tree is not here
    plain = tmp_path / "plain" / "sub"
    plain.mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(work / "app")

    for path in (work, work / "app", work / "app" / "prompts", link):
        where, root = locate(path)
        assert where == "work tree", path
        repo = PromptRepository.open(str(path))  # what dulwich finds
        assert not repo.bare and repo.root == root, path
    for path in (
        tmp_path / "linked",  # .git is a gitdir: file
        tmp_path / "bare.git",
        work / ".git",
        work / ".git" / "refs",
        odd,  # an extension dulwich refuses
        elsewhere,
        tmp_path / "missing",
        work / "app" / "prompts" / "hi.yaml",
    ):
        assert locate(path) == ("unsure", None), path
    where, _ = locate(plain)
    if where == "no repository":  # unless the temporary folder is inside a repository
        with pytest.raises(RepositoryNotFound):
            PromptRepository.open(str(plain))
    else:
        assert where in ("work tree", "unsure")
