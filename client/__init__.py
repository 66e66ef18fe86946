"""dakora.client — the Python SDK (httpx): ``Dakora`` and ``AsyncDakora``.

    from dakora.client import Dakora

    with Dakora("http://127.0.0.1:54321", "dk_…", "demo/demo") as dakora:
        prompt = dakora.prompts.get("greeting", ref="production")
        out = dakora.prompts.render("greeting", {"name": "Ada"})
        print(out.rendered)
        dakora.prompts.update("greeting", version="1.1.0", template="Hi {{ name }}!")

See ``docs/sdk.md`` for caching, fallbacks and errors.
"""

from dakora.client._async import AsyncDakora
from dakora.client._errors import (
    AuthError,
    Conflict,
    DakoraAPIError,
    DakoraClientError,
    DakoraConnectionError,
    Finding,
    InputError,
    InvalidPrompt,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    RateLimited,
    RenderError,
    ServerError,
)
from dakora.client._models import (
    Part,
    PartList,
    PartSummary,
    Prompt,
    PromptList,
    PromptSummary,
    RenderResult,
    WriteResult,
)
from dakora.client._sync import Dakora
from dakora.client.config import resolve_remote

__all__ = [
    "AsyncDakora",
    "AuthError",
    "Conflict",
    "Dakora",
    "DakoraAPIError",
    "DakoraClientError",
    "DakoraConnectionError",
    "Finding",
    "InputError",
    "InvalidPrompt",
    "NotFound",
    "Part",
    "PartList",
    "PartSummary",
    "PermissionDenied",
    "PreconditionFailed",
    "Prompt",
    "PromptList",
    "PromptSummary",
    "RateLimited",
    "RenderError",
    "RenderResult",
    "ServerError",
    "WriteResult",
    "resolve_remote",
]
