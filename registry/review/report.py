"""The review report's shape (Pydantic, JSON schema version ``SCHEMA_VERSION``,
documented in ``docs/review-schema.md``): ``ReviewReport`` and the parts it holds
(``PromptReview``, ``RenderReport``, ``PartChange``, ``Side``, ``Summary``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from dakora.registry.review.rules import (
    FailOn,
    InputReport,
    Issue,
    Verdict,
    VersionReport,
    _Model,
    blocking_issues,
)

SCHEMA_VERSION = 1

Status = Literal["added", "modified", "removed", "renamed", "affected", "invalid"]


class RenderReport(_Model):
    """One example rendered on both sides."""

    label: str  # "example 1", "defaults"
    inputs: dict[str, Any]
    dropped_base: list[str] = Field(default_factory=list)  # not declared on BASE
    dropped_head: list[str] = Field(default_factory=list)  # not declared on HEAD
    placeholders: list[str] = Field(default_factory=list)  # filled in for "defaults"
    before: str | None = None
    after: str | None = None
    before_error: str | None = None
    after_error: str | None = None
    changed: bool = False
    diff: str = ""


class PromptReview(_Model):
    id: str
    status: Status
    path: str | None  # HEAD path (None when removed)
    old_path: str | None  # BASE path (None when added)
    kind: Literal["text", "chat"] | None
    content_changed: bool
    changed_fields: list[str] = Field(default_factory=list)
    version: VersionReport
    compatibility: Verdict
    inputs: list[InputReport] = Field(default_factory=list)
    via_parts: list[str] = Field(default_factory=list)
    yaml_diff: str = ""
    template_diff: str = ""
    renders: list[RenderReport] = Field(default_factory=list)


class PartChange(_Model):
    name: str
    status: Literal["added", "modified", "removed"]
    path: str | None
    old_path: str | None
    diff: str = ""
    affects: list[str] = Field(default_factory=list)  # prompt ids including it


class Side(_Model):
    rev: str | None
    commit: str | None


class Summary(_Model):
    prompts: int = 0
    added: int = 0
    modified: int = 0
    removed: int = 0
    renamed: int = 0
    affected: int = 0
    invalid: int = 0
    breaking: int = 0
    risky: int = 0
    compatible: int = 0
    parts_changed: int = 0
    errors: int = 0
    lint_errors: int = 0
    lint_warnings: int = 0


class ReviewReport(_Model):
    schema_version: int = SCHEMA_VERSION
    base: Side
    head: Side
    fail_on: FailOn
    allow_removals: bool
    blocking: bool
    blocking_reasons: list[str]
    summary: Summary
    prompts: list[PromptReview]
    parts: list[PartChange]
    lint: list[dict[str, Any]]
    issues: list[Issue]

    def issues_for(self, prompt_id: str) -> list[Issue]:
        return [i for i in self.issues if i.prompt == prompt_id]

    def blocking_issues(self, fail_on: FailOn | str | None = None) -> list[Issue]:
        return blocking_issues(self.issues, fail_on or self.fail_on)
