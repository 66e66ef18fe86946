"""The command table and lazy loading of ``dakora`` (cli/commands.py).

Behavioural, not timing: which modules a command imports is checked in a fresh
interpreter through ``sys.modules``; the start-up times are in tests/perf/bench_cli.py.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from dakora.cli.command_table import ROOT_HELP, ROOT_OPTIONS, ROOT_USAGE
from dakora.cli.commands import COMMANDS, LOCAL, load
from dakora.registry.core import Finding

SERVER_DEPS = ("fastapi", "starlette", "sqlalchemy", "uvicorn", "alembic", "a2wsgi")
HEAVY = (*SERVER_DEPS, "pydantic_settings", "httpx", "azure")
DULWICH_SERVER = ("dulwich.server", "dulwich.web", "dulwich.contrib", "dulwich.client")

PROBE = """
import json, sys
sys.argv = ["dakora", *json.loads(sys.argv[1])]
from dakora.cli.main import run
try:
    run()
except SystemExit:
    pass
sys.stdout.flush()
sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
"""


def _modules_after(args: list[str], cwd: Path) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "NO_COLOR": "1"},
    )
    marker = proc.stderr.rsplit("MODULES ", 1)
    assert len(marker) == 2, proc.stderr
    return set(json.loads(marker[1]))


def _top(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


@pytest.mark.parametrize("args", [["--help"], ["-h"], []])
def test_help_imports_no_typer_no_pydantic_no_command_module(
    tmp_path: Path, args: list[str]
) -> None:
    loaded = _modules_after(args, tmp_path)
    top = _top(loaded)
    # drawn from the command table with Rich alone: no Typer (nor its Click)
    unwanted = {*HEAVY, "typer", "click", "pydantic", "dulwich", "jinja2", "yaml"}
    assert not top & unwanted, sorted(top & unwanted)
    modules = {spec.module for spec in COMMANDS.values()}
    assert not modules & loaded, sorted(modules & loaded)


def _imported_by_executable(args: list[str], cwd: Path) -> set[str]:
    """The modules the installed ``dakora`` imports (``-X importtime`` on stderr)."""
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
            "NO_COLOR": "1",
            "PYTHONPROFILEIMPORTTIME": "1",
        },
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    } - {"imported package"}


def test_the_installed_executable_imports_only_what_each_command_needs(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    (repo / "prompts").mkdir(parents=True)
    (repo / "prompts" / "hi.yaml").write_text(
        'id: hi\nversion: "1.0.0"\ntemplate: "Hi {{ name }}"\n'
        "inputs:\n  name: {type: string}\n"
    )
    help_top = _top(_imported_by_executable(["--help"], tmp_path))
    assert "rich" in help_top  # the screen was drawn
    assert not help_top & {*HEAVY, "typer", "pydantic", "jinja2"}, sorted(help_top)
    for args in (
        ["lint", str(repo)],
        ["render", "hi", "--repo", str(repo), "-iname=A"],
    ):
        loaded = _imported_by_executable(args, tmp_path)
        top = _top(loaded)
        assert {"jinja2", "yaml"} <= top, (args, sorted(top))  # it ran
        # without Typer (cli/direct.py); the lean set: tests/unit/test_cli_direct.py
        assert not top & {"typer", "click"}, (args, sorted(top))
        assert not top & set(HEAVY), (args, sorted(top & set(HEAVY)))
        # dulwich for reading the repository, never its server side
        server_side = {m for m in loaded if m.startswith(DULWICH_SERVER)}
        assert not server_side, (args, sorted(server_side))


def test_the_root_help_table_matches_the_root_group() -> None:
    """``ROOT_HELP``/``ROOT_OPTIONS``/``ROOT_USAGE`` (drawn without Typer) are the
    real root group's help, options and usage."""
    from typer.core import TyperOption

    from dakora.cli.app import app

    group = typer.main.get_group(app)
    ctx = group.make_context("dakora", ["--help"], resilient_parsing=True)
    assert group.help == ROOT_HELP
    assert " ".join(group.collect_usage_pieces(ctx)) == ROOT_USAGE
    options = []
    for param in group.get_params(ctx):
        assert isinstance(param, TyperOption)
        if param.hidden:
            continue
        long = ",".join(o for o in param.opts if o.startswith("--"))
        short = ",".join(
            o for o in [*param.opts, *param.secondary_opts] if o[:2] != "--"
        )
        options.append((long, short, param.help or ""))
    assert tuple(options) == ROOT_OPTIONS


def test_lint_and_render_import_no_server_dependency(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "prompts").mkdir(parents=True)
    (repo / "prompts" / "hi.yaml").write_text(
        'id: hi\nversion: "1.0.0"\ntemplate: "Hi {{ name }}"\n'
        "inputs:\n  name: {type: string}\n"
    )
    for args in (
        ["lint", str(repo)],
        ["render", "hi", "--repo", str(repo), "-iname=A"],
    ):
        top = _top(_modules_after(args, tmp_path))
        assert "jinja2" in top  # the command ran
        assert not top & set(HEAVY), (args, sorted(top & set(HEAVY)))


def test_the_error_tree_does_not_import_the_pydantic_model() -> None:
    code = (
        "import sys; from dakora.registry.core import DakoraError, Finding, NotFound; "
        "import dakora.registry; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic' "
        "or m.endswith(('core.model', 'core.settings'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_the_lazy_names_of_the_core_face_resolve() -> None:
    import dakora.registry as registry
    import dakora.registry.core as core

    for name in core.__all__:
        assert getattr(core, name) is not None, name
    for name in registry.__all__:
        assert getattr(registry, name) is not None, name
    with pytest.raises(AttributeError):
        _ = core.NoSuchName  # type: ignore[attr-defined]


def _first_paragraph(command: typer.core.TyperCommand) -> str:
    return " ".join(inspect.cleandoc(command.help or "").split("\n\n")[0].split())


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_table_matches_the_command_module(name: str) -> None:
    spec = COMMANDS[name]
    command = load(name)
    assert command.name == name
    assert _first_paragraph(command) == " ".join(spec.help.split())
    assert command.rich_help_panel == spec.panel  # type: ignore[attr-defined]


def test_every_command_of_the_modules_is_in_the_table() -> None:
    import importlib

    for module in {spec.module for spec in COMMANDS.values()}:
        group = typer.main.get_group(importlib.import_module(module).app)
        listed = {n for n, s in COMMANDS.items() if s.module == module}
        assert set(group.commands) == listed, module


def test_panels_local_commands_first() -> None:
    names = list(COMMANDS)
    panels = [COMMANDS[n].panel for n in names]
    assert panels[0] == LOCAL
    assert [n for n in names if COMMANDS[n].panel == LOCAL] == [
        "init",
        "lint",
        "render",
        "history",
        "diff",
        "review",
        "mcp",
        "promote",
    ]
    # each panel's commands are listed together
    assert panels == sorted(panels, key=panels.index)


def test_remote_lines_carry_the_lint_rule_id() -> None:
    f = Finding.error(
        "prompts/x.yaml", 4, "unknown input 'nmae'", "undeclared-variable"
    )
    assert f.format() == (
        "prompts/x.yaml:4: error: unknown input 'nmae' [undeclared-variable]"
    )
    assert f.format_remote() == (
        "error: prompts/x.yaml:4: unknown input 'nmae' [undeclared-variable]"
    )
    assert Finding.error("..", None, "m", "unsafe-path").format_remote() == (
        "error: ..: m [unsafe-path]"
    )


def test_run_freezes_the_heap_before_the_interpreter_exits(tmp_path: Path) -> None:
    """``run()`` ends with ``gc.freeze()``: the exit then skips a cycle collection
    over every imported object (cli/main.py); output and atexit still happen."""
    code = (
        "import atexit, gc, sys; sys.argv = ['dakora', 'version']; "
        "atexit.register(lambda: print('atexit ran')); "
        "from dakora.cli.main import run\n"
        "try:\n    run()\nexcept SystemExit:\n    pass\n"
        "print('frozen', gc.get_freeze_count() > 0)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert out[0].startswith("dakora ")
    assert out[1:] == ["frozen True", "atexit ran"]
