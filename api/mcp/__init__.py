"""Prompts over the Model Context Protocol (docs/mcp.md), with the ``mcp`` SDK.

- ``prompts``: the transport-agnostic server (``build_server``) over a
  ``PromptSource``, and the MCP edge of Dakora's errors (``mcp_error``);
- ``http``: the streamable-HTTP endpoint that ``dakora serve`` mounts at
  ``/mcp/{project}`` (``McpEndpoint``);
- ``changes``: ``notifications/prompts/list_changed`` after pushes and API writes.

``dakora mcp`` (cli/mcp.py) serves a local repository with ``build_server`` over stdio.
"""

from __future__ import annotations

from dakora.api.mcp.prompts import (
    PromptServer,
    PromptSource,
    Rendered,
    build_server,
    mcp_error,
    mcp_messages,
    mcp_prompt,
)

__all__ = [
    "PromptServer",
    "PromptSource",
    "Rendered",
    "build_server",
    "mcp_error",
    "mcp_messages",
    "mcp_prompt",
]
