"""dakora.client — the Python SDK (httpx): ``Dakora`` and ``AsyncDakora``.

    from dakora.client import Dakora

    with Dakora("http://127.0.0.1:54321", "dk_…", "demo/demo") as dakora:
        prompt = dakora.prompts.get("greeting", ref="production")
        out = dakora.prompts.render("greeting", {"name": "Ada"})
        print(out.rendered)

See ``docs/sdk.md`` for caching, fallbacks and errors.
"""

from dakora.client._async import AsyncDakora
from dakora.client._errors import (
    AuthError,
    DakoraAPIError,
    DakoraClientError,
    DakoraConnectionError,
    InputError,
    NotFound,
    RateLimited,
    RenderError,
    ServerError,
)
from dakora.client._models import Prompt, PromptList, PromptSummary, RenderResult
from dakora.client._sync import Dakora
from dakora.client.config import resolve_remote

__all__ = [
    "AsyncDakora",
    "AuthError",
    "Dakora",
    "DakoraAPIError",
    "DakoraClientError",
    "DakoraConnectionError",
    "InputError",
    "NotFound",
    "Prompt",
    "PromptList",
    "PromptSummary",
    "RateLimited",
    "RenderError",
    "RenderResult",
    "ServerError",
    "resolve_remote",
]
