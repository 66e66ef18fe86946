"""YAML loading of prompt files and ``dakora.yaml`` with ``path:line`` errors.

Built on PyYAML's C loader (CSafeLoader) with duplicate keys refused. Reports, as
findings (never exceptions escaping as tracebacks): syntax errors, duplicate keys,
unknown top-level keys, a non-string ``version`` (``version: 1.0``), a non-semver
version, both/neither of template/messages, bad input types, defaults that don't match
their type, ids that break ``ID_PATTERN``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dakora.registry.findings import Finding
from dakora.registry.model import Prompt


@dataclass(frozen=True)
class LoadedPrompt:
    """A prompt with where it came from.

    ``lines`` maps dotted key paths to 1-based line numbers: ``"id"``, ``"version"``,
    ``"template"`` (line of the key), ``"messages.0.content"``, ``"inputs.customer"``,
    ``"inputs.customer.default"``… so checks can point at the right line.
    ``template_line`` is where the template *text* starts (the first line of a block
    scalar), for mapping Jinja2 line numbers back to the file.
    """

    prompt: Prompt
    path: str
    blob_sha: str | None = None
    lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, key: str, default: int | None = 1) -> int | None:
        return self.lines.get(key, default)


@dataclass(frozen=True)
class RepoConfig:
    """``dakora.yaml`` (all optional)."""

    default_branch: str = "main"
    protected_refs: tuple[str, ...] = ()
    prompts_dir: str = "prompts"
    parts_dir: str = "parts"
    raw: dict[str, Any] = field(default_factory=dict)


def load_prompt(data: bytes, path: str, blob_sha: str | None = None) -> LoadedPrompt:
    """Parse and validate one prompt file. Raises ``InvalidPrompt`` with findings."""
    raise NotImplementedError


def load_prompt_findings(
    data: bytes, path: str, blob_sha: str | None = None
) -> tuple[LoadedPrompt | None, list[Finding]]:
    """Like ``load_prompt`` but returns (prompt or None, findings) and never raises."""
    raise NotImplementedError


def load_config(
    data: bytes | None, path: str = "dakora.yaml"
) -> tuple[RepoConfig, list[Finding]]:
    """Parse ``dakora.yaml``; missing file (None) gives the defaults and no findings."""
    raise NotImplementedError
