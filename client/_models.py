"""What the SDK returns: small frozen dataclasses over the server's JSON.

Each keeps the whole JSON in ``raw`` (so fields the server adds later are not lost) and
says where it came from in ``source``: ``"network"`` (fetched now, or revalidated with a
304), ``"cache"`` (fresh in the in-memory cache), ``"stale"`` (served from the cache
while a refresh runs, or because the server was unreachable) or ``"fallback"``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Source = Literal["network", "cache", "stale", "fallback"]


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class PromptSummary:
    id: str
    version: str
    description: str | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PromptSummary:
        return cls(
            id=str(data.get("id", "")),
            version=str(data.get("version", "")),
            description=_opt_str(data.get("description")),
            raw=data,
        )


@dataclass(frozen=True)
class PromptList:
    prompts: list[PromptSummary]
    ref: str | None
    commit: str | None
    source: Source = "network"
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __iter__(self) -> Iterator[PromptSummary]:
        return iter(self.prompts)

    def __len__(self) -> int:
        return len(self.prompts)

    def ids(self) -> list[str]:
        return [p.id for p in self.prompts]

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: Source) -> PromptList:
        items = data.get("prompts") or []
        return cls(
            prompts=[PromptSummary.from_json(p) for p in items if isinstance(p, dict)],
            ref=_opt_str(data.get("ref")),
            commit=_opt_str(data.get("commit")),
            source=source,
            raw=data,
        )


@dataclass(frozen=True)
class Prompt:
    """One prompt as the server serves it, with the commit and ref it came from."""

    id: str
    version: str
    description: str | None
    kind: Literal["text", "chat"]
    template: str | None
    messages: list[dict[str, str]] | None
    inputs: dict[str, dict[str, Any]]
    model: dict[str, Any] | None
    metadata: dict[str, Any] | None
    examples: list[dict[str, Any]]
    commit: str | None
    ref: str | None
    etag: str | None = None
    source: Source = "network"
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(
        cls, data: Mapping[str, Any], source: Source, etag: str | None = None
    ) -> Prompt:
        messages = data.get("messages")
        kind = data.get("kind") or ("chat" if messages is not None else "text")
        return cls(
            id=str(data.get("id", "")),
            version=str(data.get("version", "")),
            description=_opt_str(data.get("description")),
            kind="chat" if kind == "chat" else "text",
            template=_opt_str(data.get("template")),
            messages=list(messages) if isinstance(messages, list) else None,
            inputs=dict(data.get("inputs") or {}),
            model=data.get("model") if isinstance(data.get("model"), dict) else None,
            metadata=(
                data.get("metadata") if isinstance(data.get("metadata"), dict) else None
            ),
            examples=list(data.get("examples") or []),
            commit=_opt_str(data.get("commit")),
            ref=_opt_str(data.get("ref")),
            etag=etag,
            source=source,
            raw=data,
        )


@dataclass(frozen=True)
class RenderResult:
    """A rendered prompt: ``rendered`` (text prompts) or ``messages`` (chat)."""

    prompt_id: str
    version: str
    commit: str | None
    rendered: str | None
    messages: list[dict[str, str]] | None
    inputs_used: dict[str, Any]
    source: Source = "network"
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def text(self) -> str:
        """The rendered text; for a chat prompt, the messages as ``role: content``."""
        if self.rendered is not None:
            return self.rendered
        return "\n".join(f"{m['role']}: {m['content']}" for m in self.messages or [])

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: Source) -> RenderResult:
        messages = data.get("messages")
        return cls(
            prompt_id=str(data.get("prompt_id") or data.get("id") or ""),
            version=str(data.get("version", "")),
            commit=_opt_str(data.get("commit")),
            rendered=_opt_str(data.get("rendered")),
            messages=list(messages) if isinstance(messages, list) else None,
            inputs_used=dict(data.get("inputs_used") or {}),
            source=source,
            raw=data,
        )


@dataclass(frozen=True)
class WriteResult:
    """What a write did: the commit it made on ``branch`` (``parent`` was the head
    before it). ``changed`` is False when the content was already there (no commit).
    ``prompt_id``/``version`` are set for prompt writes, ``part`` (``category/name``)
    for part writes; ``deleted`` for deletes."""

    commit: str
    parent: str | None
    branch: str
    changed: bool
    path: str
    messages: list[str]
    deleted: bool = False
    prompt_id: str | None = None
    version: str | None = None
    part: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WriteResult:
        part = None
        if isinstance(data.get("category"), str) and isinstance(data.get("name"), str):
            part = f"{data['category']}/{data['name']}"
        return cls(
            commit=str(data.get("commit", "")),
            parent=_opt_str(data.get("parent")),
            branch=str(data.get("branch", "")),
            changed=bool(data.get("changed", True)),
            path=str(data.get("path", "")),
            messages=[str(m) for m in data.get("messages") or []],
            deleted=bool(data.get("deleted", False)),
            prompt_id=_opt_str(data.get("id")),
            version=_opt_str(data.get("version")),
            part=part,
            raw=data,
        )


@dataclass(frozen=True)
class PartSummary:
    """One part in a listing: ``name`` is ``category/name`` as ``{% include %}``
    uses it."""

    name: str
    category: str
    path: str | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PartSummary:
        return cls(
            name=str(data.get("name", "")),
            category=str(data.get("category", "")),
            path=_opt_str(data.get("path")),
            raw=data,
        )


@dataclass(frozen=True)
class PartList:
    parts: list[PartSummary]
    ref: str | None
    commit: str | None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __iter__(self) -> Iterator[PartSummary]:
        return iter(self.parts)

    def __len__(self) -> int:
        return len(self.parts)

    def names(self) -> list[str]:
        return [p.name for p in self.parts]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PartList:
        items = data.get("parts") or []
        return cls(
            parts=[PartSummary.from_json(p) for p in items if isinstance(p, dict)],
            ref=_opt_str(data.get("ref")),
            commit=_opt_str(data.get("commit")),
            raw=data,
        )


@dataclass(frozen=True)
class Part:
    """One part's source at a commit; ``etag`` is its blob sha (an ``if_match``)."""

    name: str
    category: str
    path: str
    source: str
    commit: str | None
    ref: str | None
    etag: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], etag: str | None = None) -> Part:
        return cls(
            name=str(data.get("name", "")),
            category=str(data.get("category", "")),
            path=str(data.get("path", "")),
            source=str(data.get("source", "")),
            commit=_opt_str(data.get("commit")),
            ref=_opt_str(data.get("ref")),
            etag=etag,
            raw=data,
        )
