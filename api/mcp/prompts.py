"""The MCP face of a prompt repository, shared by both transports (docs/mcp.md).

:func:`build_server` returns the ``mcp`` SDK's low-level ``Server`` answering
``prompts/list`` and ``prompts/get`` from a :class:`PromptSource`: the server's
projects over streamable HTTP (``dakora.api.mcp.http``) or a local checkout over
stdio (``dakora mcp``). This module is the MCP edge of Dakora's errors: every
:class:`DakoraError` becomes one ``MCPError`` (:func:`mcp_error`), never a traceback.

- A prompt's declared inputs are its MCP arguments: name, a description that says
  the declared type (MCP arguments are strings) and whether it is required.
- ``prompts/get`` arguments are coerced by the declared types with the rules of
  ``dakora render -i`` (``coerce_inputs(..., source="cli")``, docs/inputs.md).
- A chat prompt's messages keep their roles; a ``system`` message (MCP prompt
  messages are ``user`` or ``assistant`` only) is sent as a ``user`` message whose
  text content carries ``_meta: {"dakora/role": "system"}``. A text prompt is one
  ``user`` message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio.to_thread
import mcp_types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import NotificationOptions
from mcp.server.models import InitializationOptions
from mcp.shared.exceptions import MCPError

from dakora.registry.core import (
    BadRequest,
    DakoraError,
    InputError,
    InputSpec,
    NotFound,
    Prompt,
)

log = logging.getLogger("dakora.api.mcp")

ROLE_META_KEY = "dakora/role"
PROMPT_META_KEY = "dakora/prompt"

_TYPE_HINTS = {
    "string": "string",
    "number": "number, e.g. 3 or 2.5",
    "boolean": "boolean: true/false, yes/no, on/off or 1/0",
    "array<string>": 'array<string>: a JSON array such as ["a", "b"], or one string',
    "object": 'object: a JSON object such as {"id": 1}',
}


@dataclass(frozen=True)
class Rendered:
    """A rendered prompt, as a :class:`PromptSource` returns it."""

    prompt: Prompt
    kind: str
    rendered: str | None = None
    messages: list[dict[str, str]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)  # commit, ref, version


class PromptSource(Protocol):
    """Where the prompts come from. Both methods are blocking (they run in a worker
    thread); ``request`` is the HTTP request of streamable HTTP, None on stdio."""

    def list_prompts(self, request: Any) -> list[Prompt]: ...

    def render(self, request: Any, name: str, arguments: Mapping[str, str]) -> Rendered:
        """Coerce ``arguments`` (strings) by the declared inputs and render."""
        ...


# -- Dakora → MCP ---------------------------------------------------------------------


def argument_description(spec: InputSpec) -> str:
    """The input's own description plus what its string must look like."""
    parts = []
    if spec.description and spec.description.strip():
        text = spec.description.strip()
        parts.append(text if text.endswith((".", "!", "?")) else text + ".")
    parts.append(f"Type: {_TYPE_HINTS.get(spec.type, spec.type)}.")
    if spec.enum is not None:
        parts.append("One of: " + ", ".join(_json(e) for e in spec.enum) + ".")
    if spec.has_default:
        parts.append(f"Default: {_json(spec.default)}.")
    return " ".join(parts)


def _json(value: Any) -> str:
    """A value as the user would type it: strings bare, the rest as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def mcp_prompt(prompt: Prompt) -> types.Prompt:
    """``prompts/list`` entry: id, description, typed inputs as arguments."""
    return types.Prompt(
        name=prompt.id,
        description=prompt.description,
        arguments=[
            types.PromptArgument(
                name=name,
                description=argument_description(spec),
                required=spec.is_required,
            )
            for name, spec in prompt.inputs.items()
        ],
        _meta={
            PROMPT_META_KEY: {
                "version": prompt.version,
                "kind": prompt.kind,
                "inputs": {k: v.public_dict() for k, v in prompt.inputs.items()},
            }
        },
    )


def mcp_messages(rendered: Rendered) -> list[types.PromptMessage]:
    """A text prompt as one user message; a chat prompt's messages in order, a
    system message as a user message tagged ``_meta["dakora/role"] = "system"``."""
    if rendered.kind != "chat":
        return [
            types.PromptMessage(
                role="user", content=types.TextContent(text=rendered.rendered or "")
            )
        ]
    out = []
    for message in rendered.messages:
        role = message["role"]
        if role in ("user", "assistant"):
            content = types.TextContent(text=message["content"])
            mcp_role: types.Role = "user" if role == "user" else "assistant"
            out.append(types.PromptMessage(role=mcp_role, content=content))
        else:
            content = types.TextContent(
                text=message["content"], _meta={ROLE_META_KEY: role}
            )
            out.append(types.PromptMessage(role="user", content=content))
    return out


def mcp_result(rendered: Rendered) -> types.GetPromptResult:
    return types.GetPromptResult(
        description=rendered.prompt.description,
        messages=mcp_messages(rendered),
        _meta={PROMPT_META_KEY: rendered.meta},
    )


def mcp_error(exc: DakoraError, prompt_name: str | None = None) -> MCPError:
    """The MCP edge of Dakora's errors: a bad argument, an unknown prompt or ref, a
    malformed request → ``INVALID_PARAMS``; anything else → ``INTERNAL_ERROR``.
    ``data`` is the same body the HTTP API returns (``code``, ``message``,
    ``problems`` naming each input)."""
    message = exc.message
    if isinstance(exc, InputError):
        where = f" for prompt '{prompt_name}'" if prompt_name else ""
        message = f"invalid arguments{where}: {exc.message}"
    code = (
        types.INVALID_PARAMS
        if isinstance(exc, InputError | NotFound | BadRequest)
        else types.INTERNAL_ERROR
    )
    return MCPError(code, message, exc.to_dict())


# -- the server -----------------------------------------------------------------------


class PromptServer(Server[Any]):
    """The SDK's low-level server, advertising ``prompts.listChanged`` to
    handshake-era clients when this transport sends the notification."""

    def __init__(self, name: str, *, list_changed: bool, **kw: Any) -> None:
        super().__init__(name, **kw)
        self.list_changed = list_changed

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        options = notification_options or NotificationOptions(
            prompts_changed=self.list_changed
        )
        return super().create_initialization_options(
            options, experimental_capabilities, extensions
        )


def build_server(
    source: PromptSource,
    *,
    name: str = "dakora",
    version: str = "",
    list_changed: bool = False,
) -> PromptServer:
    """The SDK's low-level server for ``source``: prompts only."""

    async def list_prompts(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        try:
            prompts = await anyio.to_thread.run_sync(source.list_prompts, ctx.request)
        except DakoraError as exc:
            raise mcp_error(exc) from exc
        except Exception as exc:
            raise _internal(exc, "prompts/list") from exc
        return types.ListPromptsResult(prompts=[mcp_prompt(p) for p in prompts])

    async def get_prompt(
        ctx: ServerRequestContext[Any, Any], params: types.GetPromptRequestParams
    ) -> types.GetPromptResult:
        arguments = dict(params.arguments or {})
        try:
            rendered = await anyio.to_thread.run_sync(
                source.render, ctx.request, params.name, arguments
            )
        except DakoraError as exc:
            raise mcp_error(exc, params.name) from exc
        except Exception as exc:
            raise _internal(exc, f"prompts/get {params.name!r}") from exc
        return mcp_result(rendered)

    return PromptServer(
        name,
        list_changed=list_changed,
        version=version,
        title="Dakora prompts",
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
    )


def _internal(exc: Exception, what: str) -> MCPError:
    """An unexpected failure: logged here, an opaque INTERNAL_ERROR for the client."""
    log.error("MCP %s failed unexpectedly", what, exc_info=exc)
    return MCPError(types.INTERNAL_ERROR, f"internal error in {what}")
