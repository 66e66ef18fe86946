"""OpenTelemetry attributes on the caller's span (docs/sdk.md, "Tracing").

When ``opentelemetry-api`` is installed, ``prompts.get`` and ``prompts.render`` set
``gen_ai.prompt.name``, ``gen_ai.prompt.version``, ``dakora.prompt.commit`` (the
commit sha the prompt was read at, which leads to its review) and
``dakora.prompt.source`` (network, cache, stale or fallback) on the *current* span.
The SDK starts no span of its own and has no hard dependency: without the API (or
without a recording span) this is a no-op.
"""

from __future__ import annotations

from typing import Any

PROMPT_NAME = "gen_ai.prompt.name"
PROMPT_VERSION = "gen_ai.prompt.version"
PROMPT_COMMIT = "dakora.prompt.commit"
PROMPT_SOURCE = "dakora.prompt.source"

_trace: Any = None  # the opentelemetry.trace module once looked up; False: absent


def _api() -> Any:
    global _trace
    if _trace is None:
        try:
            from opentelemetry import trace
        except ImportError:
            _trace = False
        else:
            _trace = trace
    return _trace


def annotate(name: str, version: str | None, commit: str | None, source: str) -> None:
    """Set the prompt's attributes on the current span (when one is recording)."""
    trace = _api()
    if not trace:
        return
    span = trace.get_current_span()
    if not span.is_recording():
        return
    span.set_attribute(PROMPT_NAME, name)
    if version:
        span.set_attribute(PROMPT_VERSION, version)
    if commit:
        span.set_attribute(PROMPT_COMMIT, commit)
    span.set_attribute(PROMPT_SOURCE, source)
