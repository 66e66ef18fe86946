"""Tenancy isolation: every project route × every kind of wrong credential.

One server in auth mode ``clerk`` (API keys work too), its JWKS served by a small
HTTP endpoint in this process from a locally generated RSA key. Two workspaces
(``acme`` with projects ``web`` and ``api``; ``rival`` with ``app``). The routes are
read from the server's own OpenAPI document, so a route added later is covered too.

Expected: no or bad credentials, a revoked key (revoked by ``dakora admin revoke-key``
in another process after the server cached it), an expired key → 401; a read key on a
write route → 403; another project's key and another workspace's user → 404 with
exactly the body of a project that does not exist. No error body names anything the
caller could not already see.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest

from tests.fixtures.server import LiveServer, ServerFactory
from tests.integration.api_support import (
    ISSUER,
    SAMPLE_REPO,
    JwksEndpoint,
    import_project,
    new_key,
)

pytestmark = pytest.mark.integration


# (method, path under /api/projects/{project}, needs write) of the routes this test
# knows how to call with a valid body; anything else found in OpenAPI is called too.
PROMPT = "support-reply"
KNOWN_BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/prompts/{prompt_id}/render"): {
        "inputs": {"customer": "Ada", "ticket": "x"}
    },
    ("POST", "/logs"): {"prompt_id": PROMPT, "tokens_in": 1, "tokens_out": 1},
    ("POST", "/check"): {"path": "parts/system/tone.md", "content": "Be kind.\n"},
}
QUERIES: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/prompts/{prompt_id}/diff"): {"from": "main"},
    ("GET", "/compare"): {"head": "main"},
}
READ_POSTS = {"/prompts/{prompt_id}/render", "/check"}
# Key management: workspace owners and admins only; no API key, whatever its scope.
MANAGE_ROUTES = {
    "/api-keys",
    "/api-keys/{key_id}",
    "/webhooks",
    "/webhooks/{webhook_id}",
    "/webhooks/{webhook_id}/deliveries",
}
# path parameters that name a thing the world fixture made (see _call)
PATH_IDS: dict[str, str] = {}
MANAGERS = {"owner_jwt"}


@dataclass
class World:
    server: LiveServer
    jwks: JwksEndpoint
    web: str  # acme/web id: the project every route is called on
    api: str  # acme/api id
    app: str  # rival/app id
    creds: dict[str, dict[str, str]]  # case → headers
    routes: list[tuple[str, str, bool]]  # (method, path template, write)
    secrets: list[str]  # strings no error body may contain


def _bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


@pytest.fixture(scope="module")
def jwks() -> Iterator[JwksEndpoint]:
    endpoint = JwksEndpoint()
    yield endpoint
    endpoint.close()


@pytest.fixture(scope="module")
def world(start_live_server: ServerFactory, jwks: JwksEndpoint) -> World:
    from dakora.registry import tenancy
    from dakora.registry.db import utcnow

    server = start_live_server(
        env={
            "DAKORA_AUTH_MODE": "clerk",
            "DAKORA_CLERK_ISSUER": ISSUER,
            "DAKORA_CLERK_JWKS_URL": jwks.url,
        }
    )
    web = import_project(server, "acme", "web", SAMPLE_REPO)
    api = import_project(server, "acme", "api", SAMPLE_REPO)
    app = import_project(server, "rival", "app", SAMPLE_REPO)
    engine = server.engine()
    acme = tenancy.get_workspace(engine, "acme")
    rival = tenancy.get_workspace(engine, "rival")

    from dakora.registry.webhooks import add_endpoint

    hook = add_endpoint(
        engine, web, "http://127.0.0.1:9/hook", "ref.updated", allow_private=True
    )
    PATH_IDS["{webhook_id}"] = hook.endpoint.id
    read_key, _ = new_key(server, web, "read")
    write_key, _ = new_key(server, web, "write")
    api_key, _ = new_key(server, api, "write")
    rival_key, _ = new_key(server, app, "write")

    # Revoked by the CLI (another process) after this server cached it.
    revoked = server.create_key("acme/web", "write", name="to-revoke")
    with server.client(revoked["key"]) as c:
        assert c.get(f"/api/projects/{web}/prompts").status_code == 200
    server.revoke_key("acme/web", revoked["id"])

    # Expires while cached: used once now, refused once its time has passed.
    expires_at = utcnow() + timedelta(seconds=3)
    expiring, _ = new_key(server, web, "write", expires_at=expires_at)
    with server.client(expiring) as c:
        assert c.get(f"/api/projects/{web}/prompts").status_code == 200
    expired_before, _ = new_key(
        server, web, "write", expires_at=utcnow() - timedelta(minutes=1)
    )

    users = {}
    for name, ws, role in (
        ("owner", acme, "owner"),
        ("member", acme, "member"),
        ("viewer", acme, "viewer"),
        ("rival", rival, "owner"),
    ):
        user = tenancy.create_user(
            engine, email=f"{name}@example.com", external_id=f"user_{name}"
        )
        tenancy.set_member(engine, ws.id, user.id, role)
        users[name] = user
    creds = {
        "none": {},
        "bad_key": _bearer("dk_" + uuid.uuid4().hex * 2),
        "bad_key_header": {"X-API-Key": "dk_" + uuid.uuid4().hex * 2},
        "not_a_key": {"X-API-Key": "hunter2"},
        "basic": {"Authorization": "Basic dXNlcjpwYXNz"},
        "revoked": _bearer(revoked["key"]),
        "expired": _bearer(expiring),
        "expired_at_creation": _bearer(expired_before),
        "read_key": _bearer(read_key),
        "write_key": _bearer(write_key),
        "write_key_header": {"X-API-Key": write_key},
        "other_project_key": _bearer(api_key),
        "other_workspace_key": _bearer(rival_key),
        "owner_jwt": _bearer(jwks.token("user_owner")),
        "member_jwt": _bearer(jwks.token("user_member")),
        "viewer_jwt": _bearer(jwks.token("user_viewer")),
        "other_workspace_jwt": _bearer(jwks.token("user_rival")),
        "unknown_user_jwt": _bearer(jwks.token("user_nobody")),
        "expired_jwt": _bearer(
            jwks.token("user_owner", exp=int(time.time()) - 120, iat=0, nbf=0)
        ),
        "wrong_issuer_jwt": _bearer(jwks.token("user_owner", iss="https://evil")),
        "alg_none_jwt": _bearer(
            jwt.encode(
                {"sub": "user_owner", "iss": ISSUER, "exp": int(time.time()) + 60},
                None,
                algorithm="none",
            )
        ),
    }
    spec = httpx.get(server.url("/openapi.json")).json()
    routes: list[tuple[str, str, bool]] = []
    prefix = "/api/projects/{project}"
    for path, methods in spec["paths"].items():
        if not path.startswith(prefix):
            continue
        rest = path[len(prefix) :]
        for method in methods:
            m = method.upper()
            write = m in ("POST", "PUT", "PATCH", "DELETE") and rest not in READ_POSTS
            write = write or rest in MANAGE_ROUTES  # refused like a write (403)
            routes.append((m, rest, write))
    assert ("GET", "/prompts/{prompt_id}", False) in routes
    assert ("POST", "/logs", True) in routes
    assert ("GET", "/api-keys", True) in routes
    # Let the expiring key expire (it was cached above while still valid).
    while utcnow() <= expires_at:
        time.sleep(0.05)
    return World(
        server=server,
        jwks=jwks,
        web=web,
        api=api,
        app=app,
        creds=creds,
        routes=sorted(routes),
        secrets=[
            api,
            app,
            "rival",
            str(server.data_dir),
            api_key,
            rival_key,
            "Traceback",
        ],
    )


def _call(client: httpx.Client, method: str, rest: str, project: str) -> httpx.Response:
    path = rest.replace("{prompt_id}", PROMPT).replace("{id}", PROMPT)
    path = path.replace("{category}", "system").replace("{name}", "tone")
    path = path.replace("{ref}", "main")
    for placeholder, value in PATH_IDS.items():
        path = path.replace(placeholder, value)
    url = f"/api/projects/{project}{path}"
    body = KNOWN_BODIES.get((method, rest), {})
    params = QUERIES.get((method, rest))
    if method in ("GET", "DELETE"):
        return client.request(method, url, params=params)
    return client.request(method, url, params=params, json=body)


def _assert_clean(world: World, response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) <= {"code", "message", "details"}, body
    text = response.text
    for secret in world.secrets:
        assert secret not in text, (secret, text)
    return body["error"]


UNAUTHENTICATED = [
    "none",
    "bad_key",
    "bad_key_header",
    "not_a_key",
    "basic",
    "revoked",
    "expired",
    "expired_at_creation",
    "expired_jwt",
    "wrong_issuer_jwt",
    "alg_none_jwt",
]
INVISIBLE = ["other_project_key", "other_workspace_key", "other_workspace_jwt"]


@pytest.mark.parametrize("case", UNAUTHENTICATED)
def test_unauthenticated_is_401_on_every_route(world: World, case: str) -> None:
    with world.server.client(headers=world.creds[case]) as client:
        for method, rest, _write in world.routes:
            r = _call(client, method, rest, world.web)
            assert r.status_code == 401, (case, method, rest, r.text)
            err = _assert_clean(world, r)
            assert err["code"] == "unauthenticated"
        me = client.get("/api/me")
        assert me.status_code == 401


@pytest.mark.parametrize("case", [*INVISIBLE, "unknown_user_jwt"])
def test_invisible_project_is_the_same_404_as_a_missing_one(
    world: World, case: str
) -> None:
    missing = str(uuid.uuid4())
    with world.server.client(headers=world.creds[case]) as client:
        for method, rest, _write in world.routes:
            for target in (world.web, "acme~web", missing, "nope~nope"):
                r = _call(client, method, rest, target)
                assert r.status_code == 404, (case, method, rest, target, r.text)
                err = _assert_clean(world, r)
                assert err == {
                    "code": "project_not_found",
                    "message": f"project {target!r} not found",
                }, (case, method, rest)


def test_read_key_reads_but_may_not_write(world: World) -> None:
    with world.server.client(headers=world.creds["read_key"]) as client:
        for method, rest, write in world.routes:
            r = _call(client, method, rest, world.web)
            if write:
                assert r.status_code == 403, (method, rest, r.text)
                err = _assert_clean(world, r)
                assert err["code"] == "forbidden"
            else:
                assert r.status_code == 200, (method, rest, r.text)


def test_viewer_reads_but_may_not_write(world: World) -> None:
    with world.server.client(headers=world.creds["viewer_jwt"]) as client:
        for method, rest, write in world.routes:
            r = _call(client, method, rest, world.web)
            expected = 403 if write else 200
            assert r.status_code == expected, (method, rest, r.text)
            if write:
                assert _assert_clean(world, r)["code"] == "forbidden"


@pytest.mark.parametrize(
    "case", ["write_key", "write_key_header", "owner_jwt", "member_jwt"]
)
def test_allowed_callers_get_through(world: World, case: str) -> None:
    with world.server.client(headers=world.creds[case]) as client:
        for method, rest, _write in world.routes:
            if (method, rest) not in KNOWN_BODIES and method != "GET":
                continue  # others' write routes need bodies of their own
            r = _call(client, method, rest, world.web)
            if rest in MANAGE_ROUTES and case not in MANAGERS:
                assert r.status_code == 403, (case, method, rest, r.text)
                assert _assert_clean(world, r)["code"] == "forbidden"
                continue
            assert r.status_code in (200, 201), (case, method, rest, r.text)
        r = _call(client, "GET", "/prompts/{prompt_id}", "acme~web")
        assert r.status_code == 200


def test_me_lists_only_what_the_caller_can_see(world: World) -> None:
    def ids(case: str) -> set[str]:
        with world.server.client(headers=world.creds[case]) as client:
            r = client.get("/api/me")
        assert r.status_code == 200, r.text
        return {p["id"] for p in r.json()["projects"]}

    assert ids("read_key") == {world.web}
    assert ids("other_project_key") == {world.api}
    assert ids("viewer_jwt") == {world.web, world.api}
    assert ids("other_workspace_jwt") == {world.app}
    assert ids("unknown_user_jwt") == set()


def test_revocation_by_the_library_applies_on_the_next_request(world: World) -> None:
    """Another process revokes a key the server has cached: refused right after."""
    from dakora.registry.tenancy import keys

    key, key_id = new_key(world.server, world.web, "read")
    with world.server.client(key) as client:
        for _ in range(3):
            assert client.get(f"/api/projects/{world.web}/prompts").status_code == 200
        keys.revoke_key(world.server.engine(), world.web, key_id)
        r = client.get(f"/api/projects/{world.web}/prompts")
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")


def test_removed_membership_applies_on_the_next_request(world: World) -> None:
    from dakora.registry import tenancy

    engine = world.server.engine()
    acme = tenancy.get_workspace(engine, "acme")
    user = tenancy.create_user(engine, email="temp@example.com", external_id="user_t")
    tenancy.set_member(engine, acme.id, user.id, "member")
    headers = _bearer(world.jwks.token("user_t"))
    with world.server.client(headers=headers) as client:
        assert client.get(f"/api/projects/{world.web}/prompts").status_code == 200
        tenancy.remove_member(engine, acme.id, user.id)
        assert client.get(f"/api/projects/{world.web}/prompts").status_code == 404
