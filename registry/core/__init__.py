"""The vocabulary every other sub-package speaks: the error tree (``errors``), findings
(``findings``), id types (``types``), the prompt model (``model``), typed input coercion
(``inputs``), the one LRU shape of the in-process caches (``lru``), a lock per key
(``keyed_locks``) and the server
settings object (``settings``). Nothing here reads a repository, a database or the
network.

Other layers import from this face; the modules behind it are private. The Pydantic
parts (``model``, ``inputs``, ``settings``) load on first use of one of their names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dakora.registry.core.background import BackgroundLoop
from dakora.registry.core.errors import (
    AccessDenied,
    AlreadyExists,
    BadRequest,
    ConfigError,
    DakoraError,
    InputError,
    InputProblem,
    InvalidField,
    InvalidPrompt,
    KeyNotFound,
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
    RenderLimitError,
    RepositoryNotFound,
    ServiceUnavailable,
    StorageError,
    Unauthenticated,
    UserNotFound,
    WebhookNotFound,
    WorkspaceNotFound,
)
from dakora.registry.core.findings import Finding, dedupe, has_errors
from dakora.registry.core.keyed_locks import KeyedThreadLocks
from dakora.registry.core.lazy import lazy_getattr
from dakora.registry.core.lru import LruCache
from dakora.registry.core.types import (
    ZERO_SHA,
    BlobSha,
    CommitSha,
    PromptId,
    RefName,
    TreeSha,
)

# The prompt model and the settings are Pydantic classes (and the settings need
# pydantic-settings): loaded on first use, so that importing the error tree (every
# command of the CLI does) costs no Pydantic import. Type checkers see plain imports.
if TYPE_CHECKING:
    from dakora.registry.core.inputs import coerce_inputs, parse_cli_pairs
    from dakora.registry.core.model import (
        ID_PATTERN,
        INPUT_TYPES,
        PROMPT_KEY_ORDER,
        SEMVER_PATTERN,
        TOP_LEVEL_KEYS,
        InputSpec,
        Message,
        Prompt,
        bump_kind,
        parse_semver,
        semver_gt,
    )
    from dakora.registry.core.render_budget import (
        DEFAULT_RENDER_TIMEOUT_MS,
        render_timeout_from_env,
    )
    from dakora.registry.core.settings import Settings

_LAZY = {
    "coerce_inputs": "inputs",
    "parse_cli_pairs": "inputs",
    **dict.fromkeys(
        (
            "ID_PATTERN",
            "INPUT_TYPES",
            "PROMPT_KEY_ORDER",
            "SEMVER_PATTERN",
            "TOP_LEVEL_KEYS",
            "InputSpec",
            "Message",
            "Prompt",
            "bump_kind",
            "parse_semver",
            "semver_gt",
        ),
        "model",
    ),
    "Settings": "settings",
    "render_timeout_from_env": "render_budget",
    "DEFAULT_RENDER_TIMEOUT_MS": "render_budget",
}


__getattr__ = lazy_getattr(__name__, _LAZY, globals())


__all__ = [
    "lazy_getattr",
    "BackgroundLoop",
    "DEFAULT_RENDER_TIMEOUT_MS",
    "KeyedThreadLocks",
    "AccessDenied",
    "AlreadyExists",
    "BadRequest",
    "BlobSha",
    "CommitSha",
    "PromptId",
    "RefName",
    "TreeSha",
    "ConfigError",
    "DakoraError",
    "Finding",
    "ID_PATTERN",
    "INPUT_TYPES",
    "InputError",
    "InputProblem",
    "InvalidField",
    "InputSpec",
    "InvalidPrompt",
    "KeyNotFound",
    "WebhookNotFound",
    "LimitExceeded",
    "LruCache",
    "Message",
    "NotFound",
    "PROMPT_KEY_ORDER",
    "PartNotFound",
    "PreconditionFailed",
    "ProjectNotFound",
    "Prompt",
    "PromptNotFound",
    "QuotaExceeded",
    "RefConflict",
    "RefNotFound",
    "RenderError",
    "RenderLimitError",
    "RepositoryNotFound",
    "SEMVER_PATTERN",
    "Settings",
    "ServiceUnavailable",
    "StorageError",
    "TOP_LEVEL_KEYS",
    "Unauthenticated",
    "UserNotFound",
    "WorkspaceNotFound",
    "ZERO_SHA",
    "bump_kind",
    "coerce_inputs",
    "dedupe",
    "has_errors",
    "parse_cli_pairs",
    "parse_semver",
    "semver_gt",
    "render_timeout_from_env",
]
