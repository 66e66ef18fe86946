"""Request and response schemas of the runtime API (separate input and output models).

Read routes return pre-encoded bytes (docs/design.md §7), so the output models here document
the bodies in OpenAPI (``/docs``) rather than serialize them; a test checks the real
bodies against them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# -- text fields ------------------------------------------------------------------------


def unicode_text(value: str | None) -> str | None:
    """A string field that can be encoded: valid Unicode (JSON lets a lone surrogate
    such as ``\\ud800`` through, and it cannot become UTF-8 bytes for git). Use as a
    pydantic ``field_validator``; the error names the field (422)."""
    if value is not None:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(
                "must be valid Unicode text (it holds a lone surrogate such as \\ud800)"
            ) from None
    return value


def unencodable_at(value: Any, where: str = "") -> str | None:
    """The dotted place of the first string in ``value`` (JSON data: dicts, lists,
    strings) that :func:`unicode_text` refuses, or None when all encode."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return where or "value"
        return None
    items: Any = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        key_text = str(key)
        if unencodable_at(key_text) is not None:
            return f"{where}.<key>" if where else "<key>"
        found = unencodable_at(item, f"{where}.{key_text}" if where else key_text)
        if found is not None:
            return found
    return None


def plain_text(value: str | None) -> str | None:
    """:func:`unicode_text` that can also be stored in the database: no NUL character
    (PostgreSQL text refuses it)."""
    if value is not None and "\x00" in value:
        raise ValueError("must not contain the NUL character (\\u0000)")
    return unicode_text(value)


# -- errors -----------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. prompt_not_found")
    message: str
    details: dict[str, Any] | None = None
    findings: list[dict[str, Any]] | None = None
    problems: list[dict[str, Any]] | None = None


class ErrorOut(BaseModel):
    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing or invalid credentials"},
    403: {"model": ErrorOut, "description": "Authenticated but not allowed"},
    404: {"model": ErrorOut, "description": "No such project, prompt, ref or version"},
}

# -- me ---------------------------------------------------------------------------------


class ProjectOut(BaseModel):
    id: str = Field(description="The project's UUID: use it as {project} in URLs")
    workspace: str
    workspace_id: str
    workspace_kind: Literal["personal", "team"] = Field(
        description="personal: one user's own workspace; team: a shared one"
    )
    slug: str
    name: str | None
    ref: str = Field(description="'workspace~slug', also accepted as {project}")
    default_branch: str


class MeOut(BaseModel):
    kind: Literal["key", "user", "local"]
    auth_mode: str
    key: dict[str, Any] | None = None
    user: dict[str, Any] | None = None
    projects: list[ProjectOut]
    default_project: ProjectOut | None = Field(
        default=None,
        description="Where to work when no project is named: an API key's project; "
        "a Clerk user's personal workspace's 'default' project; null otherwise "
        "(e.g. no-auth mode)",
    )


# -- prompts ----------------------------------------------------------------------------


class PromptSummaryOut(BaseModel):
    id: str
    version: str
    description: str | None
    path: str
    blob_sha: str | None
    kind: Literal["text", "chat"] | None = Field(
        default=None, description="?detail=true"
    )
    tags: list[str] | None = Field(default=None, description="?detail=true")


class PromptListOut(BaseModel):
    prompts: list[PromptSummaryOut]
    ref: str | None
    commit: str | None


class PromptOut(BaseModel):
    id: str
    version: str
    description: str | None
    kind: Literal["text", "chat"]
    template: str | None = None
    messages: list[dict[str, str]] | None = None
    inputs: dict[str, dict[str, Any]]
    model: dict[str, Any] | None
    metadata: dict[str, Any] | None
    examples: list[dict[str, Any]]
    commit: str
    ref: str | None = Field(description="Branch or tag served; null for commit/version")
    path: str
    blob_sha: str = Field(description="Also the ETag")
    source: str = Field(description="The prompt file's text, as committed")


class RenderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: dict[str, Any] = Field(default_factory=dict)
    ref: str | None = None
    version: str | None = None
    commit: str | None = None


class RenderOut(BaseModel):
    prompt_id: str
    version: str
    commit: str
    ref: str | None
    kind: Literal["text", "chat"]
    rendered: str | None = None
    messages: list[dict[str, str]] | None = None
    inputs_used: dict[str, Any]


class VersionOut(BaseModel):
    version: str
    commit: str
    path: str
    blob_sha: str
    author: str
    committed_at: datetime
    message: str


class VersionListOut(BaseModel):
    prompt_id: str
    ref: str | None
    commit: str
    versions: list[VersionOut]


class DiffOut(BaseModel):
    prompt_id: str
    from_: str = Field(alias="from")
    to: str
    diff: str = Field(description="Unified diff ('-' old lines, '+' new lines)")


# -- parts ------------------------------------------------------------------------------


class PartSummaryOut(BaseModel):
    name: str = Field(description="category/name, as used in {% include %}")
    category: str
    part: str
    path: str | None


class PartListOut(BaseModel):
    parts: list[PartSummaryOut]
    ref: str | None
    commit: str


class PartOut(BaseModel):
    name: str
    category: str
    path: str
    source: str
    ref: str | None
    commit: str


# -- logs -------------------------------------------------------------------------------


class LogIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt_id: str | None = Field(default=None, max_length=128)
    version: str | None = Field(default=None, max_length=128)
    inputs: dict[str, Any] | None = None
    output: str | None = Field(default=None, max_length=1_048_576)
    provider: str | None = Field(default=None, max_length=100)
    model: str | None = Field(default=None, max_length=200)
    tokens_in: int = Field(default=0, ge=0, le=2**31 - 1)
    tokens_out: int = Field(default=0, ge=0, le=2**31 - 1)
    cost: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    latency_ms: int | None = Field(default=None, ge=0, le=2**31 - 1)


class LogOut(BaseModel):
    id: int
    project_id: str
    prompt_id: str | None
    version: str | None
    inputs: dict[str, Any] | None
    output: str | None
    provider: str | None
    model: str | None
    tokens_in: int
    tokens_out: int
    cost: float | None
    latency_ms: int | None
    created_at: datetime


class QuotaOut(BaseModel):
    tier: str
    tokens_used: int
    tokens_limit: int = Field(description="0 = unlimited")
    period_start: datetime


class LogCreatedOut(BaseModel):
    log: LogOut
    quota: QuotaOut


class LogPageOut(BaseModel):
    logs: list[LogOut]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next (older) page; null at the end"
    )
