"""``GET /metrics``: the server's Prometheus metrics (docs/telemetry.md).

Off unless ``DAKORA_METRICS=true``; then ``install_metrics`` adds one pure ASGI
middleware (requests and latency by route *template*, never the raw path) and the
``/metrics`` route (``Authorization: Bearer <DAKORA_METRICS_TOKEN>`` when the token is
set, compared in constant time). When metrics are off neither exists: no middleware
runs on any request.

Each app has its own ``CollectorRegistry`` (never prometheus_client's global one), so
several apps in one process (tests, replicas) never collide. What other modules
call:

- ``Metrics.observe_push(result)`` — the receive pipeline (``api/telemetry.py``);
  git pushes run in git worker processes, which send their results back with each
  request (``api/git_workers.py``) to ``Metrics.count_push``;
- ``Metrics.render_seconds.observe(s)`` — the render route;
- ``record_webhook_delivery(result)`` — the outgoing-webhook dispatcher, once per
  delivery attempt (``delivered`` / ``failed`` / ``gave_up``; anything else counts
  as ``other``). It reaches every live app of the process and is a no-op when metrics
  are off.

Cache hits, mirror backlog and lag are read at scrape time by a collector (one
database query per scrape), not kept up to date on the request path.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from fastapi import FastAPI

    from dakora.api.state import ServerState
    from dakora.hooks.receive import PushResult

log = logging.getLogger("dakora.api")

METRICS_PATH = "/metrics"
UNMATCHED = "unmatched"  # the route label of a request no route matched (404s)
WEBHOOK_RESULTS = frozenset({"delivered", "failed", "gave_up"})

# Latency buckets: the warm fetch path is well under a millisecond, renders and
# pushes take longer (docs/design.md §7).
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

ASGIApp = Any  # (scope, receive, send) -> awaitable


class Metrics:
    """The metrics of one app: its own registry, the instruments, the collector."""

    def __init__(self, state: ServerState | None = None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "dakora_http_requests",
            "HTTP requests by route template, method and status code.",
            ("route", "method", "status"),
            registry=r,
        )
        self.latency = Histogram(
            "dakora_http_request_duration_seconds",
            "Time from request to the end of the response, by route template.",
            ("route", "method"),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.pushes = Counter(
            "dakora_pushes",
            "Pushes (git push and API writes) by result: accepted or rejected.",
            ("result",),
            registry=r,
        )
        self.render_seconds = Histogram(
            "dakora_render_duration_seconds",
            "Time of one API render (resolve, coerce, render), errors included.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.webhook_deliveries = Counter(
            "dakora_webhook_deliveries",
            "Outgoing webhook delivery attempts by result.",
            ("result",),
            registry=r,
        )
        for result in ("accepted", "rejected"):
            self.pushes.labels(result)  # both series exist from the start
        for result in sorted(WEBHOOK_RESULTS):
            self.webhook_deliveries.labels(result)
        if state is not None:
            r.register(StateCollector(state))
        # (route, method, status) -> (counter child, histogram child): the label
        # lookup of prometheus_client costs more than the rest of the middleware
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe_request(
        self, route: str, method: str, status: int, seconds: float
    ) -> None:
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route, method),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_push(self, result: PushResult) -> None:
        self.count_push("accepted" if result.accepted else "rejected")

    def count_push(self, result: str) -> None:
        """One push by result (``accepted`` / ``rejected``), e.g. from a git worker."""
        self.pushes.labels(
            result if result in ("accepted", "rejected") else "rejected"
        ).inc()

    def webhook_delivery(self, result: str) -> None:
        self.webhook_deliveries.labels(
            result if result in WEBHOOK_RESULTS else "other"
        ).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class StateCollector(Collector):
    """Read at scrape time: the response cache's hits and misses, and the mirror
    outbox's pending rows and lag (one query)."""

    def __init__(self, state: ServerState) -> None:
        self.state = state

    def describe(self) -> Iterable[Metric]:
        return []  # collected lazily: no database query when the registry is built

    def collect(self) -> Iterator[Metric]:
        content = self.state.content
        if content is not None:
            hits, misses = content.cache_stats()
            yield _counter("dakora_cache_hits", "Response cache hits.", hits)
            yield _counter("dakora_cache_misses", "Response cache misses.", misses)
            total = hits + misses
            yield GaugeMetricFamily(
                "dakora_cache_hit_ratio",
                "Hits / lookups of the response cache since start (0 before any).",
                value=hits / total if total else 0.0,
            )
        engine = getattr(self.state, "_engine", None)
        if engine is None:
            return
        from dakora.registry.mirror import outbox_backlog

        try:
            backlog = outbox_backlog(engine)
        except Exception as exc:  # noqa: BLE001 - never fail a scrape
            log.warning("metrics: reading the mirror outbox failed: %s", exc)
            return
        yield GaugeMetricFamily(
            "dakora_mirror_outbox_pending",
            "Mirror outbox rows not mirrored yet (every project).",
            value=backlog.pending,
        )
        yield GaugeMetricFamily(
            "dakora_mirror_lag_seconds",
            "Age of the oldest pending mirror outbox row (0 when none is pending).",
            value=backlog.lag_seconds,
        )


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def route_label(scope: dict[str, Any]) -> str:
    """The matched route's template (``/api/projects/{project}/prompts/{prompt_id}``,
    a mount's prefix such as ``/git``), or ``unmatched``: never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class MetricsMiddleware:
    """Pure ASGI: one ``perf_counter`` pair, the status from ``http.response.start``
    and the route the router left in the scope."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # an exception before the response started is a 500

        async def send_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.observe_request(
                route_label(scope),
                scope["method"],
                status,
                time.perf_counter() - start,
            )


def authorized(token: str | None, authorization: str | None) -> bool:
    """No token configured: open. Else ``Bearer <token>``, compared in constant time."""
    if token is None:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def install_metrics(app: FastAPI, state: ServerState) -> Metrics | None:
    """With ``DAKORA_METRICS=true``: the middleware, ``GET /metrics`` and
    ``state.metrics``; otherwise nothing at all (None)."""
    settings = state.settings
    if not settings.metrics:
        return None
    from starlette.requests import Request
    from starlette.responses import Response

    from dakora.registry.core import Unauthenticated

    metrics = Metrics(state)
    state.metrics = metrics
    secret = settings.metrics_token
    token = secret.get_secret_value() if secret is not None else None

    async def scrape(request: Request) -> Response:
        if not authorized(token, request.headers.get("authorization")):
            raise Unauthenticated(
                "GET /metrics needs Authorization: Bearer <DAKORA_METRICS_TOKEN>"
            )
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    app.add_route(METRICS_PATH, scrape, methods=["GET"], include_in_schema=False)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return metrics


def record_webhook_delivery(result: str) -> None:
    """Count one outgoing webhook delivery attempt in every live app with metrics on
    (``delivered``, ``failed`` or ``gave_up``). Never raises."""
    from dakora.api.state import live_states

    for state in live_states():
        metrics = state.metrics
        if metrics is not None:
            try:
                metrics.webhook_delivery(result)
            except Exception:  # noqa: BLE001 - metrics must never break a delivery
                log.exception("metrics: counting a webhook delivery failed")
