"""Server-side OpenTelemetry spans for render and push (docs/telemetry.md).

Spans exist only when ``opentelemetry-api`` is installed *and* the process has a
tracer provider configured (``trace.set_tracer_provider``, or the
``opentelemetry-instrument`` launcher): without one, ``span`` yields None and costs a
global lookup. ``InstrumentedPipeline`` is the server's receive pipeline with a
``dakora.push`` span around each push and the ``dakora_pushes_total`` count
(``api/metrics.py``) when metrics are on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from dulwich.repo import Repo

from dakora.hooks.receive import PushResult, ReceivePipeline

if TYPE_CHECKING:
    from dakora.api.metrics import Metrics

TRACER_NAME = "dakora"

# Attribute names (the SDK sets the same gen_ai.* ones on the caller's span).
PROMPT_NAME = "gen_ai.prompt.name"
PROMPT_VERSION = "gen_ai.prompt.version"
PROMPT_COMMIT = "dakora.prompt.commit"
PROMPT_REF = "dakora.prompt.ref"
PROJECT = "dakora.project"


_trace_api: Any = None  # the opentelemetry.trace module; False: not installed


def _tracer() -> Any:
    """The ``dakora`` tracer of the configured provider, or None (no API installed,
    or only the default proxy / no-op provider)."""
    global _trace_api
    if _trace_api is None:
        try:
            from opentelemetry import trace

            _trace_api = trace
        except ImportError:
            _trace_api = False
    if _trace_api is False:
        return None
    trace = _trace_api
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return None
    return provider.get_tracer(TRACER_NAME)


@contextmanager
def span(name: str, attributes: Mapping[str, Any] | None = None) -> Iterator[Any]:
    """A span named ``name`` when tracing is configured, else None."""
    tracer = _tracer()
    if tracer is None:
        yield None
        return
    with tracer.start_as_current_span(name, attributes=dict(attributes or {})) as s:
        yield s


def set_prompt_attributes(target: Any, data: Mapping[str, Any]) -> None:
    """``gen_ai.prompt.*`` and the commit from a render or prompt response."""
    if target is None:
        return
    for key, attr in (
        ("prompt_id", PROMPT_NAME),
        ("version", PROMPT_VERSION),
        ("commit", PROMPT_COMMIT),
        ("ref", PROMPT_REF),
    ):
        value = data.get(key)
        if isinstance(value, str) and value:
            target.set_attribute(attr, value)


class InstrumentedPipeline(ReceivePipeline):
    """``ReceivePipeline`` + a ``dakora.push`` span per push + push counts."""

    def __init__(self, *, state: Any = None, **kw: Any) -> None:
        super().__init__(**kw)
        self._state = state  # its ``metrics`` are read per push (set after start-up)

    @property
    def metrics(self) -> Metrics | None:
        return getattr(self._state, "metrics", None)

    def process(self, repo: Repo, updates: list[Any], **kw: Any) -> PushResult:
        context = kw.get("context")
        attributes: dict[str, Any] = {"dakora.push.refs": len(updates)}
        if context is not None:
            attributes["dakora.push.source"] = context.source
            if context.workspace and context.project:
                attributes[PROJECT] = f"{context.workspace}/{context.project}"
        with span("dakora.push", attributes) as s:
            result = super().process(repo, updates, **kw)
            if s is not None:
                s.set_attribute("dakora.push.accepted", result.accepted)
                if result.reason:
                    s.set_attribute("dakora.push.reason", result.reason)
        metrics = self.metrics
        if result.accepted and metrics is not None:
            metrics.observe_push(result)
        return result

    def rejected(self, repo: Repo, result: PushResult) -> None:
        # every refusal passes here: from process() and the transport's early ones
        super().rejected(repo, result)
        metrics = self.metrics
        if metrics is not None:
            metrics.observe_push(result)
