"""Request and response bodies of the API writes (``api/routes/writes.py``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dakora.api.schemas import unencodable_at, unicode_text


class PromptWriteIn(BaseModel):
    """A prompt as JSON fields (docs/design.md §2), or its file text as ``yaml``.

    Unknown keys are written into the file, so the checks name them (file:line).
    """

    model_config = ConfigDict(extra="allow")

    yaml: str | None = Field(default=None, description="The whole prompt file")
    id: Any = None
    version: Any = None
    description: Any = None
    template: Any = None
    messages: Any = None
    inputs: Any = None
    model: Any = None
    metadata: Any = None
    examples: Any = None
    branch: str | None = Field(default=None, description="Default: default branch")
    message: str | None = Field(default=None, description="Commit message")

    @model_validator(mode="before")
    @classmethod
    def _encodable(cls, data: Any) -> Any:
        # a lone surrogate (\\ud800) anywhere cannot become the file's UTF-8 bytes
        where = unencodable_at(data)
        if where is not None:
            raise ValueError(f"{where}: must be valid Unicode text (a lone surrogate)")
        return data

    def fields(self) -> dict[str, Any]:
        data = self.model_dump(exclude={"yaml", "branch", "message"})
        data.update(self.model_extra or {})
        return {k: v for k, v in data.items() if v is not None}


class PartWriteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str | None = Field(default=None, description="parts/<category>/")
    name: str | None = Field(default=None, description="File name without extension")
    ext: str | None = Field(default=None, description="md (default), txt or j2")
    content: str
    branch: str | None = None
    message: str | None = None

    _text = field_validator("category", "name", "ext", "content", "branch", "message")(
        unicode_text
    )


class CommitOut(BaseModel):
    commit: str = Field(description="The new head of the branch")
    parent: str | None = Field(description="The head before the write")
    branch: str
    changed: bool = Field(description="False when the content was already there")
    messages: list[str] = Field(default_factory=list)


class PromptWriteOut(CommitOut):
    id: str
    version: str | None
    path: str


class PromptDeleteOut(CommitOut):
    id: str
    path: str
    deleted: bool = True


class PartWriteOut(CommitOut):
    category: str
    name: str
    path: str


class PartDeleteOut(PartWriteOut):
    deleted: bool = True
