"""dakora.registry — domain and storage, no web framework.

What other layers may import is re-exported here; the rest is private. The Pydantic
model classes load on first use, as in ``dakora.registry.core``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dakora.registry.core import (
    AccessDenied,
    BadRequest,
    ConfigError,
    DakoraError,
    Finding,
    InputError,
    InputProblem,
    InvalidPrompt,
    LimitExceeded,
    NotFound,
    PartNotFound,
    PreconditionFailed,
    ProjectNotFound,
    PromptNotFound,
    QuotaExceeded,
    RefConflict,
    RefNotFound,
    RenderError,
    StorageError,
    Unauthenticated,
    has_errors,
)

if TYPE_CHECKING:
    from dakora.registry.core import InputSpec, Message, Prompt

_LAZY = ("InputSpec", "Message", "Prompt")


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from dakora.registry import core

    value = getattr(core, name)
    globals()[name] = value
    return value


__all__ = [
    "AccessDenied",
    "BadRequest",
    "ConfigError",
    "DakoraError",
    "Finding",
    "InputError",
    "InputProblem",
    "InputSpec",
    "InvalidPrompt",
    "LimitExceeded",
    "Message",
    "NotFound",
    "PartNotFound",
    "PreconditionFailed",
    "ProjectNotFound",
    "Prompt",
    "PromptNotFound",
    "QuotaExceeded",
    "RefConflict",
    "RefNotFound",
    "RenderError",
    "StorageError",
    "Unauthenticated",
    "has_errors",
]
