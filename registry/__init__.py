"""dakora.registry — domain and storage, no web framework.

What other layers may import is re-exported here; the rest is private.
"""

from dakora.registry.errors import (
    AccessDenied,
    BadRequest,
    ConfigError,
    DakoraError,
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
)
from dakora.registry.findings import Finding, has_errors
from dakora.registry.model import InputSpec, Message, Prompt

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
