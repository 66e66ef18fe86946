"""The MCP face (``dakora.api.mcp``) in process, driven by the ``mcp`` SDK's own
client on the sample repository (``dakora mcp``'s local source): arguments from the
declared inputs, messages and roles, and the one MCP translation of Dakora's errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from dakora.api.mcp import build_server, mcp_error
from dakora.api.mcp.prompts import argument_description
from dakora.cli.mcp import LocalSource
from dakora.registry.core import (
    InputSpec,
    PromptNotFound,
    RenderLimitError,
)

SAMPLE = Path(__file__).resolve().parents[2] / "sample-repo"


def _with_client(mode: str, fn: Any) -> Any:
    server = build_server(LocalSource(SAMPLE, None), version="test")

    async def go() -> Any:
        with anyio.fail_after(30):
            async with Client(server, mode=mode) as client:
                return await fn(client)

    return anyio.run(go)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_list_and_get_in_process(mode: str) -> None:
    async def go(c: Client) -> tuple[Any, Any]:
        listing = await c.list_prompts()
        got = await c.get_prompt(
            "support-reply",
            {"customer": "Ada", "ticket": "Charged twice", "urgent": "yes"},
        )
        return listing, got

    listing, got = _with_client(mode, go)
    names = [p.name for p in listing.prompts]
    assert names == sorted(names) and "support-reply" in names
    assert got.messages and all(m.role in ("user", "assistant") for m in got.messages)


def test_errors_name_the_input() -> None:
    async def go(c: Client) -> MCPError:
        with pytest.raises(MCPError) as caught:
            await c.get_prompt("summarize", {"text": "x", "max_sentences": "many"})
        return caught.value

    error = _with_client("auto", go)
    assert error.code == types.INVALID_PARAMS
    assert error.message == (
        "invalid arguments for prompt 'summarize': input 'max_sentences': "
        "expected number, got 'many'"
    )
    assert error.data["problems"][0]["input"] == "max_sentences"


def test_error_codes() -> None:
    assert mcp_error(PromptNotFound("prompt 'x' not found")).code == (
        types.INVALID_PARAMS
    )
    limit = mcp_error(RenderLimitError("over the work limit", limit="work"))
    assert limit.code == types.INTERNAL_ERROR
    assert limit.data == {
        "code": "render_limit",
        "message": "over the work limit",
        "details": {"limit": "work"},
    }


def test_argument_descriptions_say_the_type() -> None:
    spec = InputSpec(type="number", description="How many", has_default=True, default=3)
    assert (
        argument_description(spec)
        == "How many. Type: number, e.g. 3 or 2.5. Default: 3."
    )
    choice = InputSpec(type="string", enum=["a", "b"])
    assert argument_description(choice) == "Type: string. One of: a, b."
    flag = InputSpec(type="boolean", has_default=True, default=False)
    assert argument_description(flag).endswith("Default: false.")
