"""The render time budget as a setting (``DAKORA_RENDER_TIMEOUT_MS``), readable without
the server's settings: ``dakora render`` and ``dakora review`` must not import
pydantic-settings to learn it (their start-up time)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated

from pydantic import Field, TypeAdapter, ValidationError

from dakora.registry.core.errors import ConfigError

DEFAULT_RENDER_TIMEOUT_MS = 2000
RenderTimeoutMs = Annotated[int, Field(ge=1, le=600_000)]


def render_timeout_from_env(environ: Mapping[str, str] | None = None) -> int:
    """``DAKORA_RENDER_TIMEOUT_MS`` alone, for the commands that render without the
    server's other settings (``dakora render``, ``dakora review``): a bad value is a
    ``ConfigError`` naming the variable, an unrelated bad variable is not their
    business."""
    env = os.environ if environ is None else environ
    raw = env.get("DAKORA_RENDER_TIMEOUT_MS", "").strip()
    if not raw:
        return DEFAULT_RENDER_TIMEOUT_MS
    try:
        return int(TypeAdapter(RenderTimeoutMs).validate_python(raw))
    except ValidationError:
        raise ConfigError(
            f"DAKORA_RENDER_TIMEOUT_MS={raw!r}: expected a whole number of "
            "milliseconds from 1 to 600000"
        ) from None
