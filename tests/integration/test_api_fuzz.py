"""Schemathesis against the live server's own OpenAPI: no generated request, valid or
not, may get a 5xx (docs/security.md, "Hardening").

Every operation of ``/openapi.json`` is called with cases generated from its schema,
with a write key of a project that holds the sample repository (so the generated
requests reach the real lookups, renders and writes, not only the 404 of an unknown
project). Bounded for CI: a few examples per operation (``DAKORA_FUZZ_EXAMPLES``
raises it for a longer local run).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.fixtures.server import LiveServer, ServerFactory

pytestmark = [pytest.mark.integration, pytest.mark.fuzz]

SAMPLE = Path(__file__).resolve().parents[2] / "sample-repo"
EXAMPLES = int(os.environ.get("DAKORA_FUZZ_EXAMPLES", "8"))


@pytest.fixture(scope="module")
def fuzz_server(start_live_server: ServerFactory) -> Iterator[dict[str, Any]]:
    server: LiveServer = start_live_server(None)
    project = server.create_project("fuzz", "prompts", from_path=SAMPLE)
    key = server.create_key(project["id"], "write", name="fuzzer")["key"]
    try:
        yield {"server": server, "project": project["id"], "key": key}
    finally:
        server.close()


def _operations(server: LiveServer) -> list[Any]:
    # schemathesis' pytest plugin (from_fixture) does not run on this pytest; the
    # operations' hypothesis strategies are driven directly instead.
    schema = schemathesis.openapi.from_url(server.url("/openapi.json"))
    return [result.ok() for result in schema.get_all_operations()]


def test_no_request_gets_a_server_error(fuzz_server: dict[str, Any]) -> None:
    server: LiveServer = fuzz_server["server"]
    headers = {"Authorization": f"Bearer {fuzz_server['key']}"}
    failures: list[str] = []
    calls = 0
    operations = _operations(server)
    assert len(operations) >= 20, "the OpenAPI lists fewer operations than expected"
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Any) -> None:
            nonlocal calls
            if "project" in (case.path_parameters or {}):
                case.path_parameters["project"] = fuzz_server["project"]
            response = case.call(headers=headers, timeout=30)
            calls += 1
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> "
                    f"{response.status_code}: {response.text[:300]}"
                )

        call()
    assert calls >= len(operations), f"only {calls} generated calls were made"
    assert not failures, "\n".join(failures)
