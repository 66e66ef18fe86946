"""The prompt model: what one ``prompts/**/*.yaml`` file holds (docs/design.md §2).

Pure data, validated with Pydantic v2. Loading from YAML with ``path:line`` errors lives
in ``loader``; this module knows nothing about files.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dakora.registry.core.types import PromptId

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")
SEMVER_PATTERN = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)

InputType = Literal["string", "number", "boolean", "array<string>", "object"]
INPUT_TYPES: tuple[str, ...] = (
    "string",
    "number",
    "boolean",
    "array<string>",
    "object",
)
# docs/design.md §2: the top-level keys of a prompt file, in the order they are written.
PROMPT_KEY_ORDER: tuple[str, ...] = (
    "id",
    "version",
    "description",
    "template",
    "messages",
    "inputs",
    "model",
    "metadata",
    "examples",
)
TOP_LEVEL_KEYS: frozenset[str] = frozenset(PROMPT_KEY_ORDER)


class InputSpec(BaseModel):
    """One declared input. Required unless it has a default or says required: false."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: InputType = "string"
    required: bool | None = None
    default: Any = None
    description: str | None = None
    enum: list[Any] | None = None
    has_default: bool = Field(default=False, exclude=True)

    @property
    def is_required(self) -> bool:
        if self.has_default:
            return False
        return self.required is not False

    def public_dict(self) -> dict[str, Any]:
        """The input as written in YAML (only keys that were given)."""
        out: dict[str, Any] = {"type": self.type}
        if self.required is not None:
            out["required"] = self.required
        if self.has_default:
            out["default"] = self.default
        if self.description is not None:
            out["description"] = self.description
        if self.enum is not None:
            out["enum"] = list(self.enum)
        return out


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: str
    content: str


class Prompt(BaseModel):
    """One prompt file. Exactly one of ``template`` / ``messages`` is set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: PromptId
    version: str
    description: str | None = None
    template: str | None = None
    messages: list[Message] | None = None
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    model: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    examples: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def kind(self) -> Literal["text", "chat"]:
        return "chat" if self.messages is not None else "text"

    def sources(self) -> list[tuple[str, str]]:
        """(label, template source) pairs: ``template`` or ``messages[i].content``."""
        if self.messages is not None:
            return [(f"messages[{i}]", m.content) for i, m in enumerate(self.messages)]
        return [("template", self.template or "")]

    def public_dict(self) -> dict[str, Any]:
        """The prompt as the API returns it (inputs as written)."""
        out: dict[str, Any] = {
            "id": self.id,
            "version": self.version,
            "description": self.description,
            "kind": self.kind,
        }
        if self.messages is not None:
            out["messages"] = [m.model_dump() for m in self.messages]
        else:
            out["template"] = self.template
        out["inputs"] = {k: v.public_dict() for k, v in self.inputs.items()}
        out["model"] = self.model
        out["metadata"] = self.metadata
        out["examples"] = self.examples
        return out


def parse_semver(version: str) -> tuple[int, int, int, tuple[Any, ...]] | None:
    """Split a semver string into a sortable key, or None when it is not semver.

    Pre-releases sort before their release (1.0.0-rc.1 < 1.0.0); build metadata is
    ignored for ordering, as semver says.
    """
    m = SEMVER_PATTERN.match(version)
    if not m:
        return None
    major, minor, patch, pre = int(m[1]), int(m[2]), int(m[3]), m[4]
    if pre is None:
        pre_key: tuple[Any, ...] = (1,)
    else:
        parts: list[tuple[int, int | str]] = []
        for ident in pre.split("."):
            parts.append((0, int(ident)) if ident.isdigit() else (1, ident))
        pre_key = (0, *parts)
    return (major, minor, patch, pre_key)


def semver_gt(new: str, old: str) -> bool:
    a, b = parse_semver(new), parse_semver(old)
    if a is None or b is None:
        return False
    return a > b


def bump_kind(
    old: str, new: str
) -> Literal["major", "minor", "patch", "none", "invalid"]:
    """How big the step from old to new is (a 0.x minor counts as major, as semver)."""
    a, b = parse_semver(old), parse_semver(new)
    if a is None or b is None:
        return "invalid"
    if b <= a:
        return "none"
    if b[0] > a[0]:
        return "major"
    if b[1] > a[1]:
        return "major" if a[0] == 0 else "minor"
    return "patch"
