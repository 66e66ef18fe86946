"""CLI conventions, through the installed ``dakora`` executable.

``--version``; ``-h`` everywhere ``--help`` is; no ``<bool>``/``<str>`` types on
options and no RST double backticks in any help screen; help that reflows to the
terminal width; the root help's panels (local commands first); ``lint`` on a folder
without prompts fails unless ``--allow-empty``.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path

import pytest
import typer

from dakora.cli.commands import COMMANDS
from tests.fixtures.server import dakora_executable

pytestmark = pytest.mark.e2e


def dakora(*args: str, columns: int = 80, cwd: Path | None = None) -> tuple[int, str]:
    env = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1"}
    env.pop("TERMINAL_WIDTH", None)
    proc = subprocess.run(
        [dakora_executable(), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def command_paths() -> list[tuple[str, ...]]:
    """Every command and group below the root, e.g. ("admin", "create-key")."""
    out: list[tuple[str, ...]] = []

    def walk(cmd: object, path: tuple[str, ...]) -> None:
        out.append(path)
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            walk(sub, (*path, name))

    for module in dict.fromkeys(spec.module for spec in COMMANDS.values()):
        group = typer.main.get_group(importlib.import_module(module).app)
        for name, cmd in group.commands.items():
            walk(cmd, (name,))
    return out


def test_version() -> None:
    code, out = dakora("--version")
    assert code == 0
    assert out == f"dakora {version('dakora')}\n"


@pytest.mark.parametrize("path", [(), ("lint",), ("admin",), ("admin", "create-key")])
def test_dash_h_is_help(path: tuple[str, ...]) -> None:
    long, short = dakora(*path, "--help"), dakora(*path, "-h")
    assert long[0] == short[0] == 0
    assert long[1] == short[1]
    assert "Usage: dakora" in short[1]


def test_every_help_screen_follows_the_conventions() -> None:
    paths = [(), *command_paths()]
    assert len(paths) > 25  # every command, sub-group and sub-command
    with ThreadPoolExecutor(max_workers=4) as pool:
        screens = list(pool.map(lambda p: (p, dakora(*p, "--help", columns=72)), paths))
    for path, (code, text) in screens:
        where = " ".join(("dakora", *path))
        assert code == 0, (where, text)
        assert "``" not in text, f"{where} --help shows RST backticks:\n{text}"
        options = [line for line in text.splitlines() if line.startswith("│ -")]
        for bad in ("<bool>", "<str>"):
            wrong = [line for line in options if bad in line]
            assert not wrong, f"{where} --help shows {bad} on an option: {wrong}"
        assert "-h" in text, where
        too_wide = [line for line in text.splitlines() if len(line) > 72]
        assert not too_wide, (where, too_wide)


def test_help_paragraphs_reflow_to_the_terminal() -> None:
    # a paragraph written over several source lines is one line on a wide terminal
    _, wide = dakora("render", "--help", columns=200)
    assert re.search(
        r"With no --ref/--version/--commit it renders the working tree, so "
        r"you see edits before committing\. Chat prompts",
        wide,
    ), wide
    _, narrow = dakora("render", "--help", columns=60)
    lines = [line.strip() for line in narrow.splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("With no"))
    paragraph = lines[start : lines.index("", start)]
    assert len(paragraph) > 3, narrow
    # filled to the width (not cut where the source lines end)
    assert all(50 <= len(line) <= 60 for line in paragraph[:-1]), paragraph


def test_root_help_groups_commands_in_panels_local_first() -> None:
    code, text = dakora("--help", columns=100)
    assert code == 0
    titles = re.findall(r"╭─ (.+?) ─", text)
    assert titles == [
        "Options",
        "Prompt repository",
        "Server",
        "Containers",
        "Remote registry",
        "About",
    ]
    panels: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        title = re.match(r"╭─ (.+?) ─", line)
        if title:
            current = title.group(1)
        elif (row := re.match(r"│ ([a-z-]+) ", line)) and current != "Options":
            panels.setdefault(current, []).append(row.group(1))
    assert panels == {
        "Prompt repository": [
            "init",
            "lint",
            "render",
            "history",
            "diff",
            "review",
            "mcp",
            "promote",
        ],
        "Server": ["serve", "db", "admin", "mirror", "restore", "reindex", "hook"],
        "Containers": ["start", "stop"],
        "Remote registry": ["link"],
        "About": ["version"],
    }
    # without arguments: the same help, and a usage error exit code like click's
    bare_code, bare = dakora(columns=100)
    assert bare.strip() == text.strip()
    assert bare_code == 2


def test_option_metavars() -> None:
    _, lint = dakora("lint", "--help")
    assert re.search(r"--ref\s+REF\s", lint), lint
    assert re.search(r"--json\s+Print JSON", lint), lint  # a switch: no type shown
    _, serve = dakora("serve", "--help", columns=120)
    assert re.search(r"--data-dir\s+DIR\s", serve), serve
    assert re.search(r"--port\s+PORT\s", serve), serve


def test_unknown_command_suggests_one() -> None:
    code, text = dakora("lnit")
    assert code == 2
    assert "No such command 'lnit'" in text and "'lint'" in text


def test_lint_without_prompts_fails_unless_allowed(tmp_path: Path) -> None:
    empty = tmp_path / "not-the-prompts"
    empty.mkdir()
    code, text = dakora("lint", str(empty))
    assert code == 1, text
    assert "no prompt files found" in text and "[no-prompts]" in text
    assert "--allow-empty" in text
    code, text = dakora("lint", str(empty), "--json")
    assert code == 1
    body = json.loads(text[: text.rindex("}") + 1])
    assert body["ok"] is False and body["prompts"] == 0
    assert [f["rule"] for f in body["findings"] if f["severity"] == "error"] == [
        "no-prompts"
    ]
    code, text = dakora("lint", str(empty), "--allow-empty")
    assert code == 0, text
    assert "ok: 0 prompts checked" in text
