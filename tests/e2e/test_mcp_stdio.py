"""``dakora mcp`` through the installed executable, driven by the ``mcp`` SDK's own
stdio client: the sample repository's prompts with typed arguments, renders with
``-i`` coercion and chat roles, errors naming the input, the working tree re-read on
every request (edits show before a commit), ``--ref``, and a bad ``--repo``.

Every wait is bounded (``anyio.fail_after``): a regression is a red test, not a hang.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from tests.fixtures.gitrepos import GitRepoBuilder

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DAKORA = ROOT / ".venv" / "bin" / "dakora"
SAMPLE = ROOT / "sample-repo"
WAIT_S = 60

T = TypeVar("T")


def with_client(
    args: list[str], fn: Callable[[Client], Awaitable[T]], mode: str = "auto"
) -> T:
    params = StdioServerParameters(command=str(DAKORA), args=["mcp", *args])

    async def go() -> T:
        with anyio.fail_after(WAIT_S):
            async with Client(params, mode=mode) as client:
                return await fn(client)

    return anyio.run(go)


@pytest.fixture
def checkout(tmp_path: Path) -> GitRepoBuilder:
    repo = GitRepoBuilder.init(tmp_path / "prompts-repo")
    for item in SAMPLE.iterdir():
        if item.is_dir():
            shutil.copytree(item, repo.path / item.name)
        else:
            shutil.copy2(item, repo.path / item.name)
    repo.git("add", "-A")
    repo.commit("the sample prompts")
    return repo


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_sample_repo_prompts_and_renders(mode: str) -> None:
    async def go(c: Client) -> tuple[Any, Any, Any]:
        listing = await c.list_prompts()
        chat = await c.get_prompt(
            "refund-decision", {"order": '{"id": "ord_7"}', "policy_days": "7"}
        )
        text = await c.get_prompt(
            "escalation-summary", {"thread": '["Customer: help", "Agent: on it"]'}
        )
        return listing, chat, text

    listing, chat, text = with_client(["--repo", str(SAMPLE)], go, mode)
    by_name = {p.name: p for p in listing.prompts}
    assert {"summarize", "refund-decision", "code-review"} <= set(by_name)
    args = {a.name: a for a in by_name["code-review"].arguments or []}
    assert args["language"].required is True
    assert "One of: python, typescript, go, rust, sql." in (
        args["language"].description or ""
    )
    assert args["strict"].required is False
    assert [m.role for m in chat.messages] == ["user", "user"]
    assert (chat.messages[0].content.meta or {}).get("dakora/role") == "system"
    assert "7-day" in chat.messages[0].content.text
    assert "id: ord_7" in chat.messages[1].content.text
    assert len(text.messages) == 1 and text.messages[0].role == "user"
    assert "1. Customer: help" in text.messages[0].content.text
    assert "2. Agent: on it" in text.messages[0].content.text


def test_bad_arguments_name_the_input() -> None:
    async def go(c: Client) -> list[MCPError]:
        out = []
        for name, args in [
            ("summarize", {"text": "x", "max_sentences": "three"}),
            ("code-review", {"language": "cobol", "diff": "-a\n+b"}),
            ("missing", {}),
        ]:
            with pytest.raises(MCPError) as caught:
                await c.get_prompt(name, args)
            out.append(caught.value)
        return out

    number, enum, missing = with_client(["--repo", str(SAMPLE)], go)
    assert number.code == types.INVALID_PARAMS
    assert "input 'max_sentences': expected number, got 'three'" in number.message
    assert number.data["problems"][0]["input"] == "max_sentences"
    assert "input 'language': expected one of" in enum.message
    assert missing.code == types.INVALID_PARAMS
    assert missing.data["code"] == "prompt_not_found"


def test_working_tree_edits_show_and_ref_serves_the_commit(
    checkout: GitRepoBuilder,
) -> None:
    path = checkout.path / "prompts/general/summarize.yaml"
    original = path.read_text()

    async def edit_between(c: Client) -> tuple[str, str]:
        first = await c.get_prompt("summarize", {"text": "x"})
        path.write_text(original.replace("Summarise the text", "Condense the text"))
        second = await c.get_prompt("summarize", {"text": "x"})
        return first.messages[0].content.text, second.messages[0].content.text

    before, after = with_client(["--repo", str(checkout.path)], edit_between)
    assert "Summarise the text" in before and "Condense the text" in after

    async def at_head(c: Client) -> str:
        got = await c.get_prompt("summarize", {"text": "x"})
        assert got.meta is not None and got.meta["dakora/prompt"]["ref"] == "main"
        return str(got.messages[0].content.text)

    committed = with_client(["--repo", str(checkout.path), "--ref", "main"], at_head)
    assert "Summarise the text" in committed  # the edit is not committed


def test_bad_repo_or_ref_is_an_error_not_a_traceback(
    checkout: GitRepoBuilder, tmp_path: Path
) -> None:
    for args, words in [
        (["--repo", str(tmp_path / "nowhere")], "no such folder"),
        (["--repo", str(checkout.path), "--ref", "nope"], "nope"),
    ]:
        proc = subprocess.run(
            [str(DAKORA), "mcp", *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=WAIT_S,
            check=False,
        )
        assert proc.returncode == 1, proc.stderr
        assert words in proc.stderr and "Traceback" not in proc.stderr
        assert proc.stdout == ""  # stdout is the protocol channel
