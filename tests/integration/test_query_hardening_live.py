"""Query values through the installed ``dakora serve`` (issue 10 findings 6 and 7):
bad paging cursors and other hostile query values are a 400 naming the parameter,
never a 500; a read key never gets the receive-pack advertisement, however the
``service`` query is percent-encoded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.receive_attack_support import LiveProject

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("live_server", ["sqlite", "postgresql"], indirect=True),
]


@pytest.fixture(scope="module")
def project(live_server: Any, tmp_path_factory: pytest.TempPathFactory) -> LiveProject:
    return LiveProject(live_server, "queries", tmp_path_factory.mktemp("q"))


@pytest.mark.parametrize("route", ["pushes", "logs"])
@pytest.mark.parametrize(
    "cursor",
    [
        "99999999999999999999",  # past a 64-bit integer
        "9223372036854775808",  # one past
        "%C2%B2",  # '²'.isdigit() is True
        "%D9%A3",  # an Arabic-Indic digit
        "-1",
        "1.5",
        "%20",
    ],
)
def test_bad_cursor_is_400_naming_it(
    project: LiveProject, live_server: Any, route: str, cursor: str
) -> None:
    with live_server.client(project.read_key) as client:
        r = client.get(f"/api/projects/{project.id}/{route}?cursor={cursor}")
    assert r.status_code == 400, r.text
    body = r.json()["error"]
    assert body["code"] == "bad_request"
    assert "cursor" in body["message"]


@pytest.mark.parametrize("route", ["pushes", "logs"])
def test_good_cursors_still_page(
    project: LiveProject, live_server: Any, route: str
) -> None:
    with live_server.client(project.read_key) as client:
        for cursor in ("1", "9223372036854775807"):
            r = client.get(f"/api/projects/{project.id}/{route}?cursor={cursor}")
            assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("pushes?ref=main%00x", "ref"),
        ("pushes?result=%00", "result"),
        ("logs?prompt_id=a%00b", "prompt_id"),
        ("logs?version=%01", "version"),
        ("prompts/greeting?ref=%FF", None),  # not UTF-8
        ("logs?since=0001-01-01T00:00:00%2B01:00", "since"),  # before year 1 in UTC
        ("logs?until=0001-01-01T00:00:00%2B14:00", "until"),
    ],
)
def test_hostile_query_values_are_400_naming_the_parameter(
    project: LiveProject, live_server: Any, query: str, parameter: str | None
) -> None:
    with live_server.client(project.read_key) as client:
        r = client.get(f"/api/projects/{project.id}/{query}")
    assert r.status_code == 400, r.text
    if parameter is not None:
        assert repr(parameter) in r.json()["error"]["message"], r.text


@pytest.mark.parametrize(
    "service",
    [
        "git-receive-pack",
        "git%2Dreceive%2Dpack",
        "git%2dreceive%2dpack",
        "%67it-receive-pack",
        "git-receive-pack&service=git-upload-pack",
        "git-upload-pack&service=git-receive-pack",
    ],
)
def test_read_key_never_gets_the_receive_pack_advertisement(
    project: LiveProject, live_server: Any, service: str
) -> None:
    path = f"/git/acme/{project.slug}.git/info/refs?service={service}"
    with live_server.client(project.read_key) as client:
        r = client.get(path)
    assert r.status_code == 403, r.text
    assert b"# service=git-receive-pack" not in r.content


def test_read_key_still_fetches_and_write_key_still_pushes(
    project: LiveProject, live_server: Any, tmp_path: Path
) -> None:
    base = f"/git/acme/{project.slug}.git/info/refs?service="
    with live_server.client(project.read_key) as client:
        r = client.get(base + "git%2Dupload%2Dpack")
        assert r.status_code == 200
        assert b"# service=git-upload-pack" in r.content
    with live_server.client(project.write_key) as client:
        r = client.get(base + "git%2Dreceive%2Dpack")
        assert r.status_code == 200
        assert b"# service=git-receive-pack" in r.content
