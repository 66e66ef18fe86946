"""The README's tour past the quickstart, run as written against ``dakora serve --demo``.

The quickstart's first block (init, lint, render) is pinned by
``test_cli_local.test_readme_quickstart_works_as_written``. Here the rest: the banner
``make run`` prints, then each ``bash`` block of the tour (clone, change, push; a
refused push) runs in one shell session against a real demo server, and its output
must be the ``text`` block that follows it in the README. What differs from run to run
is normalised on both sides: the API key, the project id, commit shas, the port and the
padding git puts after ``remote:`` lines.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.server import ServerFactory, dakora_executable

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SHA_RANGE = re.compile(r"\b[0-9a-f]{7,12}\.\.[0-9a-f]{7,12}\b")
KEY = re.compile(r"dk_[A-Za-z0-9_-]{20,}")


def _tour_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("<!-- section:tour -->")
    end = text.index("<!-- section:", start + 1)
    return text[start:end]


def _normalise(text: str, port: int) -> str:
    text = KEY.sub("dk_…", text)
    text = UUID.sub("<uuid>", text)
    text = SHA_RANGE.sub("<old>..<new>", text)
    text = text.replace(f"127.0.0.1:{port}", "127.0.0.1:54321")
    return "\n".join(line.rstrip() for line in text.splitlines()).strip()


def test_readme_tour_runs_as_written(
    start_live_server: ServerFactory, tmp_path: Path
) -> None:
    blocks = BLOCK.findall(_tour_section())
    banner, steps = blocks[0], blocks[1:]
    assert banner[0] == "text"
    assert [lang for lang, _ in steps] == ["bash", "text", "bash", "text"]

    server = start_live_server(tmp_path / "server", extra_args=("--demo",))
    key = (server.data_dir / "demo-key.txt").read_text().strip()
    port = server.port

    # The banner lines the README shows are the ones the server printed (the README
    # shows `make run`'s relative data folder).
    printed = _normalise(
        server.log_text().replace(str(server.data_dir), ".dakora"), port
    )
    for line in _normalise(banner[1], port).splitlines():
        assert line in printed.splitlines(), (line, printed)

    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Ada Lovelace\n\temail = ada@example.com\n"
        "[init]\n\tdefaultBranch = main\n"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DAKORA_")},
        "HOME": str(home),
        "PATH": f"{Path(dakora_executable()).parent}{os.pathsep}{os.environ['PATH']}",
        "NO_COLOR": "1",
        "GIT_TERMINAL_PROMPT": "0",
    }
    cwd = home
    for (_, script), (_, expected) in zip(steps[::2], steps[1::2], strict=True):
        script = script.replace("dk_…", key).replace(
            "127.0.0.1:54321", f"127.0.0.1:{port}"
        )
        # Each block runs as written; `cd` carries over to the next block, as in a
        # terminal. A refused push exits non-zero: the output is what is compared.
        proc = subprocess.run(
            ["bash", "-c", script],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
        )
        output = proc.stdout
        assert _normalise(output, port) == _normalise(expected, port), output
        if "cd demo" in script:
            cwd = home / "demo"

    with server.client(key) as c:
        prompt = c.get("/api/projects/demo~demo/prompts/summarize").json()
        assert prompt["version"] == "2.3.0"
