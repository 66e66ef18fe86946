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

from dakora.cli.commands import COMMANDS, LOCAL, load
from dakora.registry.core import Finding

SERVER_DEPS = ("fastapi", "starlette", "sqlalchemy", "uvicorn", "alembic", "a2wsgi")
HEAVY = (*SERVER_DEPS, "pydantic_settings", "httpx", "azure")

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


def test_help_imports_no_server_no_pydantic_no_command_module(tmp_path: Path) -> None:
    loaded = _modules_after(["--help"], tmp_path)
    top = _top(loaded)
    assert not top & {*HEAVY, "pydantic", "dulwich", "jinja2", "yaml"}, sorted(top)
    assert "typer.rich_utils" not in loaded  # the root help is drawn without it
    modules = {spec.module for spec in COMMANDS.values()}
    assert not modules & loaded, sorted(modules & loaded)


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
