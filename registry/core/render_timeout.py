"""``DAKORA_RENDER_TIMEOUT_MS``, the time budget of one render, read on its own.

The server reads it with its other settings (``Settings.render_timeout_ms``); the
commands that render locally (``dakora render``, ``dakora review``) read only this
variable, without loading the server's settings machinery: a bad value is a
``ConfigError`` naming the variable, an unrelated bad variable is not their business.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from dakora.registry.core.errors import ConfigError

DEFAULT_RENDER_TIMEOUT_MS = 2000
MIN_RENDER_TIMEOUT_MS = 1
MAX_RENDER_TIMEOUT_MS = 600_000


def render_timeout_from_env(environ: Mapping[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    raw = env.get("DAKORA_RENDER_TIMEOUT_MS", "").strip()
    if not raw:
        return DEFAULT_RENDER_TIMEOUT_MS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not MIN_RENDER_TIMEOUT_MS <= value <= MAX_RENDER_TIMEOUT_MS:
        raise ConfigError(
            f"DAKORA_RENDER_TIMEOUT_MS={raw!r}: expected a whole number of "
            f"milliseconds from {MIN_RENDER_TIMEOUT_MS} to {MAX_RENDER_TIMEOUT_MS}"
        )
    return value
