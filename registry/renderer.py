"""The sandboxed renderer (DESIGN §4).

``SandboxedEnvironment`` + ``StrictUndefined``, ``autoescape=False``,
``keep_trailing_newline=True``; filters ``yaml`` and ``default``; includes from the
snapshot's ``parts/`` with depth ≤ 10 and cycles reported with the chain; limits:
output ≤ 1 MiB, template source ≤ 256 KiB, ``range`` ≤ 10,000 items. Compiled templates
are cached by (blob sha, parts key). SSTI payloads fail with ``RenderError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from dakora.registry.model import Prompt
from dakora.registry.snapshot import PartsSource

MAX_OUTPUT_BYTES = 1024 * 1024
MAX_SOURCE_BYTES = 256 * 1024
MAX_RANGE = 10_000
MAX_INCLUDE_DEPTH = 10


@dataclass(frozen=True)
class RenderResult:
    kind: Literal["text", "chat"]
    rendered: str | None  # text prompts
    messages: list[dict[str, str]] | None  # chat prompts: [{role, content}]
    inputs_used: dict[str, Any]  # the coerced inputs the template saw


class Renderer:
    """Renders prompts; one instance is shared (thread-safe) and owns the compile cache."""

    def render(
        self,
        prompt: Prompt,
        inputs: dict[str, Any],
        parts: PartsSource,
        *,
        cache_key: str | None = None,
    ) -> RenderResult:
        """Render with already-coerced inputs. Raises RenderError."""
        raise NotImplementedError


def analyze_template(source: str, parts: PartsSource) -> TemplateInfo:
    """Parse (not compile) a template and everything it includes."""
    raise NotImplementedError


@dataclass(frozen=True)
class TemplateInfo:
    variables: frozenset[str]  # undeclared names used, including inside parts
    includes: tuple[str, ...]  # include targets, transitively, in order
    missing_includes: tuple[tuple[str, int], ...]  # (name, line in the source)
    variable_lines: dict[str, int]  # first line each variable appears on (source's own)
