"""``api/metrics.py`` without a server: off means no middleware and no route, each app
has its own registry, route labels are templates, the token check, the webhook hook."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from dakora.api.app import create_app
from dakora.api.metrics import (
    Metrics,
    MetricsMiddleware,
    authorized,
    record_webhook_delivery,
    route_label,
)
from dakora.api.state import ServerState
from dakora.registry.core import Settings


def _settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'data' / 'dakora.db'}",
        mirror_backend="none",
        **kw,  # type: ignore[arg-type]
    )


def _values(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.exposition().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_off_means_no_middleware_and_no_route(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path))
    assert not [m for m in app.user_middleware if m.cls is MetricsMiddleware]
    assert "/metrics" not in {getattr(r, "path", None) for r in app.routes}
    assert app.state.dakora.metrics is None


def test_metrics_on_adds_both(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path, metrics=True))
    assert [m for m in app.user_middleware if m.cls is MetricsMiddleware]
    assert "/metrics" in {getattr(r, "path", None) for r in app.routes}
    assert isinstance(app.state.dakora.metrics, Metrics)


def test_each_app_has_its_own_registry() -> None:
    a, b = Metrics(), Metrics()  # the global registry would refuse the second
    a.observe_request("/api/health", "GET", 200, 0.001)
    key = (
        "dakora_http_requests_total",
        (("method", "GET"), ("route", "/api/health"), ("status", "200")),
    )
    assert _values(a)[key] == 1
    assert key not in _values(b)


def test_route_label_is_the_template_or_unmatched() -> None:
    class Route:
        path = "/api/projects/{project}/prompts/{prompt_id}"

    assert route_label({"route": Route()}) == Route.path
    assert route_label({"path": "/api/projects/a~b/prompts/x"}) == "unmatched"


def test_token_check() -> None:
    assert authorized(None, None)
    assert authorized("s3cret", "Bearer s3cret")
    assert authorized("s3cret", "bearer s3cret")
    for header in (None, "", "Bearer", "Bearer nope", "Basic s3cret", "s3cret"):
        assert not authorized("s3cret", header), header


def test_webhook_deliveries_reach_every_live_app(tmp_path: Path) -> None:
    record_webhook_delivery("delivered")  # no live app: a no-op, never an error
    state = ServerState(_settings(tmp_path, metrics=True, render_workers=1))
    state.metrics = Metrics(state)
    state.start()
    try:
        for result in ("delivered", "delivered", "failed", "something-new"):
            record_webhook_delivery(result)
        found = _values(state.metrics)
    finally:
        state.close()
    name = "dakora_webhook_deliveries_total"
    assert found[(name, (("result", "delivered"),))] == 2
    assert found[(name, (("result", "failed"),))] == 1
    assert found[(name, (("result", "gave_up"),))] == 0
    assert found[(name, (("result", "other"),))] == 1
    # read at scrape time from the started state
    assert found[("dakora_mirror_outbox_pending", ())] == 0
    assert found[("dakora_cache_hit_ratio", ())] == 0
