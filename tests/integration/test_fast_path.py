"""The fast path (api/fastpath.py) answers exactly what FastAPI answers.

Two servers on the same data (one SQLite database, one repository folder): the app of
``create_app`` with ``DAKORA_FAST_PATH`` on and with it off, each under uvicorn
(httptools, as ``dakora serve`` runs it) on loopback, in this process so the test can
read how many requests the fast path answered. Every request of the matrix goes to
both, twice (cold caches, then warm), and status, headers (but ``date``) and body
bytes must be equal; the cases the fast path owns must have been answered by it once
warm, and every other case must have fallen through.

Revocation and expiry stay immediate on the fast path: a key revoked by the
``dakora`` CLI (another process) is refused on the next request (SQLite and
PostgreSQL, through a real ``dakora serve``), and a cached key is refused once its
``expires_at`` has passed.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from dakora.api.app import create_app
from dakora.api.fastpath import DakoraApp
from dakora.cli.server import _uvicorn_options
from dakora.registry import tenancy
from dakora.registry.core.settings import Settings
from dakora.registry.db import make_engine, upgrade
from dakora.registry.index.importer import import_into_project
from dakora.registry.tenancy import keys
from tests.fixtures.server import LiveServer, free_port
from tests.integration.api_support import (
    HistoryRepo,
    import_project,
    make_history_repo,
)

pytestmark = pytest.mark.integration
PROMPT = "support-reply"


class ThreadedServer:
    """uvicorn serving one app on loopback from a thread of this process."""

    def __init__(self, app: DakoraApp) -> None:
        self.app = app
        self.port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            access_log=False,
            log_level="warning",
            lifespan="on",
            **_uvicorn_options(),
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        for _ in range(600):
            if self.server.started:
                return self
            if not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        raise RuntimeError("uvicorn did not start in 30 s")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    @property
    def served(self) -> int:
        assert self.app.fast_path is not None
        return self.app.fast_path.served


@dataclass
class Setup:
    on: ThreadedServer
    off: ThreadedServer
    base: str  # /api/projects/<id>
    slug_base: str  # /api/projects/<ws>~<slug>
    other_base: str  # another project's
    repo: HistoryRepo
    keys: dict[str, str] = field(default_factory=dict)
    engine: Any = None
    settings: Settings | None = None


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    base = tmp_path_factory.mktemp("fastpath")
    data_dir = base / "data"
    settings = Settings(data_dir=data_dir)
    settings.ensure_data_dir()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    repo = make_history_repo(base)
    tenancy.create_workspace(engine, "fp")
    project = tenancy.create_project(engine, settings, "fp", "main")
    import_into_project(engine, project, repo.path)
    other = tenancy.create_project(engine, settings, "fp", "other")
    import_into_project(engine, other, repo.path)
    pepper = settings.pepper()

    def key(project_id: str, **kwargs: Any) -> keys.NewKey:
        return keys.create_key(engine, pepper, project_id, **kwargs)

    past = datetime.now(UTC) - timedelta(days=3)
    revoked = key(project.id, name="revoked")
    made = {
        "read": key(project.id, name="read").plaintext,
        "write": key(project.id, scope="write", name="write").plaintext,
        "other": key(other.id, name="other").plaintext,
        "revoked": revoked.plaintext,
        "expired": key(project.id, name="expired", expires_days=1, now=past).plaintext,
    }
    keys.revoke_key(engine, project.id, revoked.record.id)
    on = create_app(Settings(data_dir=data_dir, fast_path=True))
    off = create_app(Settings(data_dir=data_dir, fast_path=False))
    assert isinstance(on, DakoraApp) and isinstance(off, DakoraApp)
    with ThreadedServer(on) as s_on, ThreadedServer(off) as s_off:
        yield Setup(
            s_on,
            s_off,
            f"/api/projects/{project.id}",
            "/api/projects/fp~main",
            f"/api/projects/{other.id}",
            repo,
            made,
            engine,
            settings,
        )
    engine.dispose()


def _exchange(port: int, method: str, path: str, headers: dict[str, str], body: bytes):
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        # the same Host for both (redirects name it)
        sent = {"Host": "dakora.test", **headers}
        response = client.request(method, path, headers=sent, content=body)
    kept = [(k, v) for k, v in response.headers.multi_items() if k.lower() != "date"]
    return response.status_code, kept, response.content


def _settle(setup: Setup) -> None:
    """Wait for the servers' own ``last_used_at`` writes: on SQLite every commit, the
    servers' own included, drops the caches on the next request (api/events.py)."""
    for server in (setup.on, setup.off):
        auth = server.app.state.dakora.auth
        assert auth is not None
        auth.wait_for_touches()


def _compare(
    setup: Setup, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, int]:
    """Send the request to both servers three times (cold, after the caches were
    dropped by the servers' own bookkeeping writes, warm); assert equal answers every
    time; return (status, 1 when the fast path answered the warm one, else 0)."""
    answers = []
    served = 0
    for round_ in range(3):
        before = setup.on.served
        fast = _exchange(setup.on.port, method, path, headers, body)
        served = setup.on.served - before
        slow = _exchange(setup.off.port, method, path, headers, body)
        assert fast == slow, f"{method} {path} {headers} {body!r}"
        answers.append(fast)
        if round_ == 0:
            _settle(setup)
    assert len({a[0] for a in answers}) == 1
    assert setup.off.served == 0
    return answers[-1][0], served


def _auth(setup: Setup, name: str = "read") -> dict[str, str]:
    return {"Authorization": f"Bearer {setup.keys[name]}"}


def _json(setup: Setup, name: str = "read") -> dict[str, str]:
    return {**_auth(setup, name), "Content-Type": "application/json"}


# -- GET …/prompts/{id} ---------------------------------------------------------------


def _etag(setup: Setup) -> str:
    with httpx.Client(base_url=f"http://127.0.0.1:{setup.on.port}") as client:
        return client.get(
            f"{setup.base}/prompts/{PROMPT}", headers=_auth(setup)
        ).headers["etag"]


GET_SERVED = [
    ("", {}),
    ("?ref=staging", {}),
    ("?ref=v1", {}),
    ("?version=1.2.0", {}),
    ("?version=1.3.0", {}),
    ("?ref=main&ref=staging", {}),
    ("?ref=", {}),
]


@pytest.mark.parametrize(("query", "extra"), GET_SERVED)
def test_get_served_from_the_caches_is_byte_for_byte(
    setup: Setup, query: str, extra: dict[str, str]
) -> None:
    status, served = _compare(
        setup, "GET", f"{setup.base}/prompts/{PROMPT}{query}", {**_auth(setup), **extra}
    )
    assert status == 200
    assert served == 1  # the warm one at least


def test_get_by_commit_and_by_slug_and_x_api_key(setup: Setup) -> None:
    for path, headers in [
        (f"{setup.base}/prompts/{PROMPT}?commit={setup.repo.v1}", _auth(setup)),
        (f"{setup.base}/prompts/{PROMPT}?commit={setup.repo.v1[:10]}", _auth(setup)),
        (f"{setup.slug_base}/prompts/{PROMPT}", _auth(setup)),
        (f"/api/projects/{_project_id(setup).upper()}/prompts/{PROMPT}", _auth(setup)),
        (f"{setup.base}/prompts/{PROMPT}", {"X-API-Key": setup.keys["read"]}),
        (
            f"{setup.base}/prompts/{PROMPT}",
            {"authorization": "bearer  " + setup.keys["read"]},
        ),
        (f"{setup.base}/prompts/{PROMPT}", _auth(setup, "write")),
    ]:
        status, served = _compare(setup, "GET", path, headers)
        assert (status, served) == (200, 1), path


def test_if_none_match_is_byte_for_byte(setup: Setup) -> None:
    tag = _etag(setup)
    path = f"{setup.base}/prompts/{PROMPT}"
    for header, expected in [
        (tag, 304),
        (f"W/{tag}", 304),
        (f'"nope", {tag}', 304),
        ("*", 304),
        ('"0000000000000000000000000000000000000000"', 200),
        ("", 200),
    ]:
        status, served = _compare(
            setup, "GET", path, {**_auth(setup), "If-None-Match": header}
        )
        assert (status, served) == (expected, 1), header


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no key", 401),
        ("revoked", 401),
        ("expired", 401),
        ("other project's key", 404),
        ("unknown key", 401),
        ("basic scheme", 401),
        ("empty bearer", 401),
        ("unknown prompt", 404),
        ("unknown project", 404),
        ("unknown ref", 404),
        ("unknown version", 404),
        ("two selectors", 400),
        ("misspelt parameter", 400),
        ("control character", 400),
        ("bad commit", 400),
        ("trailing slash", 307),
        ("HEAD", 405),
        ("OPTIONS", 405),
        ("DELETE", 403),  # the write route, with a read key
        ("empty segment", 307),
    ],
)
def test_get_cases_the_fast_path_leaves_to_fastapi(
    setup: Setup, case: str, expected: int
) -> None:
    path = f"{setup.base}/prompts/{PROMPT}"
    method, headers = "GET", _auth(setup)
    if case == "no key":
        headers = {}
    elif case in ("revoked", "expired"):
        headers = _auth(setup, case)
    elif case == "other project's key":
        headers = _auth(setup, "other")
    elif case == "unknown key":
        headers = {"Authorization": "Bearer dk_not_a_real_key_at_all"}
    elif case == "basic scheme":
        headers = {"Authorization": f"Basic {setup.keys['read']}"}
    elif case == "empty bearer":
        headers = {"Authorization": "Bearer"}
    elif case == "unknown prompt":
        path = f"{setup.base}/prompts/no-such-prompt"
    elif case == "unknown project":
        path = f"/api/projects/fp~nope/prompts/{PROMPT}"
    elif case == "unknown ref":
        path += "?ref=no-such-branch"
    elif case == "unknown version":
        path += "?version=9.9.9"
    elif case == "two selectors":
        path += "?ref=main&version=1.2.0"
    elif case == "misspelt parameter":
        path += "?verison=1.2.0"
    elif case == "control character":
        path += "?ref=%00"
    elif case == "bad commit":
        path += "?commit=xyz"
    elif case == "trailing slash":
        path += "/"
    elif case == "empty segment":
        path = f"{setup.base}/prompts/"
    elif case in ("HEAD", "OPTIONS", "DELETE"):
        method = case
    status, served = _compare(setup, method, path, headers)
    assert status == expected
    assert served == 0


# -- POST …/render --------------------------------------------------------------------

GOOD = {"inputs": {"customer": "Ada", "ticket": "Charged twice"}}


@pytest.mark.parametrize(
    "body",
    [
        GOOD,
        {**GOOD, "ref": "staging"},
        {**GOOD, "version": "1.2.0"},
        {**GOOD, "ref": None, "commit": None},
    ],
)
def test_render_served_is_byte_for_byte(setup: Setup, body: dict[str, Any]) -> None:
    status, served = _compare(
        setup,
        "POST",
        f"{setup.base}/prompts/{PROMPT}/render",
        _json(setup),
        json.dumps(body).encode(),
    )
    assert status == 200
    assert served == 1


@pytest.mark.parametrize(
    "body",
    [
        {"inputs": {"text": 'Grüße, "{name}" 😀\n', "target_language": "Français"}},
        {
            "inputs": {
                "text": "**Deploy**",
                "target_language": "German",
                "formal": True,
                "glossary": {"deploy": "bereitstellen", "edge": "Edge"},
            }
        },
    ],
)
def test_chat_render_served_is_byte_for_byte(
    setup: Setup, body: dict[str, Any]
) -> None:
    """A chat prompt, non-ASCII and escaped text: the body the render worker encodes
    half of (``encode_result``) is the same on both paths."""
    status, served = _compare(
        setup,
        "POST",
        f"{setup.base}/prompts/translate/render",
        _json(setup),
        json.dumps(body, ensure_ascii=False).encode(),
    )
    assert status == 200
    assert served == 1


def test_render_errors_after_the_render_are_answered_alike(setup: Setup) -> None:
    """A render over a limit is the fast path's to answer (the render ran there)."""
    path = f"{setup.base}/prompts/limits-test/render"
    body = json.dumps({"inputs": {"n": 10**9}}).encode()
    status, served = _compare(setup, "POST", path, _json(setup), body)
    assert status == 422
    assert served == 1


@pytest.mark.parametrize(
    ("case", "body", "headers", "expected"),
    [
        ("bad JSON", b'{"inputs": {', "json", 422),
        ("bad JSON, second line", b'{\n  "inputs": x}', "json", 422),
        ("not UTF-8", b'{"inputs": "\xff"}', "json", 400),
        ("missing input", b'{"inputs": {"customer": "Ada"}}', "json", 422),
        (
            "wrong input type",
            b'{"inputs": {"customer": "Ada", "urgent": "maybe"}}',
            "json",
            422,
        ),
        (
            "extra input",
            b'{"inputs": {"customer": "Ada", "ticket": "x", "zzz": 1}}',
            "json",
            422,
        ),
        ("extra field", b'{"inputs": {}, "extra": 1}', "json", 422),
        ("inputs not an object", b'{"inputs": [1]}', "json", 422),
        ("ref not a string", b'{"inputs": {}, "ref": 5}', "json", 422),
        ("body a list", b"[1, 2]", "json", 422),
        ("empty body", b"", "json", 422),
        ("no content type", json.dumps(GOOD).encode(), "auth", 422),
        ("text/plain", json.dumps(GOOD).encode(), "text", 422),
        (
            "two selectors",
            b'{"inputs": {}, "ref": "main", "version": "1.2.0"}',
            "json",
            400,
        ),
        ("unknown version", b'{"inputs": {}, "version": "9.9.9"}', "json", 404),
        ("no key", json.dumps(GOOD).encode(), "none", 401),
        ("bad JSON, no key", b"{", "none", 422),
        ("other project's key", json.dumps(GOOD).encode(), "other", 404),
        ("revoked key", json.dumps(GOOD).encode(), "revoked", 401),
        ("query string", json.dumps(GOOD).encode(), "query", 400),
        ("unknown prompt", json.dumps(GOOD).encode(), "prompt", 404),
    ],
)
def test_render_cases_the_fast_path_leaves_to_fastapi(
    setup: Setup, case: str, body: bytes, headers: str, expected: int
) -> None:
    path = f"{setup.base}/prompts/{PROMPT}/render"
    sent = _json(setup)
    if headers == "auth":
        sent = _auth(setup)
    elif headers == "text":
        sent = {**_auth(setup), "Content-Type": "text/plain"}
    elif headers == "none":
        sent = {"Content-Type": "application/json"}
    elif headers in ("other", "revoked"):
        sent = _json(setup, headers)
    elif headers == "query":
        path += "?ref=main"
    elif headers == "prompt":
        path = f"{setup.base}/prompts/no-such-prompt/render"
    # warm the prompt's render target so only the case itself can make it fall through
    _compare(
        setup,
        "POST",
        f"{setup.base}/prompts/{PROMPT}/render",
        _json(setup),
        json.dumps(GOOD).encode(),
    )
    status, served = _compare(setup, "POST", path, sent, body)
    assert status == expected, case
    assert served == 0, case


def test_chunked_render_body_falls_through_alike(setup: Setup) -> None:
    def chunks() -> Iterator[bytes]:
        yield json.dumps(GOOD).encode()

    answers = []
    for port in (setup.on.port, setup.off.port):
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            r = client.post(
                f"{setup.base}/prompts/{PROMPT}/render",
                headers=_json(setup),
                content=chunks(),
            )
        answers.append((r.status_code, r.content))
    assert answers[0] == answers[1]
    assert answers[0][0] == 200


# -- revocation and expiry on the fast path --------------------------------------------


def test_a_cached_key_that_expires_is_refused_at_once(setup: Setup) -> None:
    assert setup.settings is not None
    expires = datetime.now(UTC) + timedelta(seconds=2)
    new = keys.create_key(
        setup.engine, setup.settings.pepper(), _project_id(setup), expires_at=expires
    )
    headers = {"Authorization": f"Bearer {new.plaintext}"}
    path = f"{setup.base}/prompts/{PROMPT}"
    before = setup.on.served
    with httpx.Client(base_url=f"http://127.0.0.1:{setup.on.port}") as client:
        assert client.get(path, headers=headers).status_code == 200
        _settle(setup)
        assert client.get(path, headers=headers).status_code == 200
        assert client.get(path, headers=headers).status_code == 200
        assert setup.on.served > before  # answered from the key cache
        while datetime.now(UTC) <= expires:
            time.sleep(0.05)
        assert client.get(path, headers=headers).status_code == 401


def test_revoked_in_process_through_the_database_is_refused_next_request(
    setup: Setup,
) -> None:
    assert setup.settings is not None
    new = keys.create_key(setup.engine, setup.settings.pepper(), _project_id(setup))
    headers = {"Authorization": f"Bearer {new.plaintext}"}
    path = f"{setup.base}/prompts/{PROMPT}"
    with httpx.Client(base_url=f"http://127.0.0.1:{setup.on.port}") as client:
        assert client.get(path, headers=headers).status_code == 200
        _settle(setup)
        before = setup.on.served
        for _ in range(3):
            assert client.get(path, headers=headers).status_code == 200
        assert setup.on.served > before  # answered from the key cache
        keys.revoke_key(setup.engine, _project_id(setup), new.record.id)
        assert client.get(path, headers=headers).status_code == 401


def _project_id(setup: Setup) -> str:
    return setup.base.rsplit("/", 1)[1]


@pytest.mark.parametrize("live_server", ["sqlite", "postgresql"], indirect=True)
def test_revoked_by_the_cli_is_refused_on_the_fast_path(
    live_server: LiveServer, tmp_path: Path
) -> None:
    project_id = import_project(
        live_server, "fpcli", "p", make_history_repo(tmp_path).path
    )
    created = live_server.create_key("fpcli/p", "read", name="cli")
    path = f"/api/projects/{project_id}/prompts/{PROMPT}"
    render = f"{path}/render"
    with live_server.client(created["key"]) as c:
        for _ in range(3):  # cached: answered by the fast path
            assert c.get(path).status_code == 200
            assert c.post(render, json=GOOD).status_code == 200
        live_server.revoke_key("fpcli/p", created["id"])
        status = c.get(path).status_code
        if live_server.database_url.startswith("postgresql"):
            # NOTIFY is delivered asynchronously right after the commit (see
            # test_api_events.py): a bounded wait for it, never a race
            for _ in range(100):
                if status != 200:
                    break
                time.sleep(0.02)
                status = c.get(path).status_code
        assert status == 401
        assert c.post(render, json=GOOD).status_code == 401


def test_a_read_key_made_after_start_is_served_once_verified(setup: Setup) -> None:
    """A key the server has never seen goes through FastAPI once (verification),
    then the fast path."""
    assert setup.settings is not None
    new = keys.create_key(setup.engine, setup.settings.pepper(), _project_id(setup))
    headers = {"Authorization": f"Bearer {new.plaintext}"}
    status, served = _compare(setup, "GET", f"{setup.base}/prompts/{PROMPT}", headers)
    assert (status, served) == (200, 1)
