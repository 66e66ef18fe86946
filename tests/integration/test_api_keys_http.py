"""``GET/POST …/api-keys`` and ``DELETE …/api-keys/{key_id}`` through a real server.

A Clerk-mode server (RS256 tokens from a loopback JWKS endpoint, as in the tenancy
matrix) with workspace ``acme`` (owner, admin, member, viewer) and ``rival`` (its own
owner); a server in auth mode ``none``. Checked: the created key is shown once and
works at once; a revoked key fails on the next request; the limit and the storage are
those of ``dakora admin`` (the CLI lists what HTTP created); and every caller that may
not manage keys is refused: API keys of either scope 403, member and viewer 403,
another workspace's owner 404, no credentials 401.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
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

LIMIT = 4


@dataclass
class World:
    server: LiveServer
    jwks: JwksEndpoint
    web: str
    other: str  # acme/other: a second project of the same workspace
    users: dict[str, str]  # role name → users.id
    read_key: str
    write_key: str

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.jwks.token(f'user_{who}')}"}

    def client(self, who: str) -> httpx.Client:
        return self.server.client(headers=self.headers(who))

    def p(self, path: str, project: str | None = None) -> str:
        return f"/api/projects/{project or self.web}{path}"


@pytest.fixture(scope="module")
def world(start_live_server: ServerFactory) -> Iterator[World]:
    from dakora.registry import tenancy

    jwks = JwksEndpoint()
    server = start_live_server(
        env={
            "DAKORA_AUTH_MODE": "clerk",
            "DAKORA_CLERK_ISSUER": ISSUER,
            "DAKORA_CLERK_JWKS_URL": jwks.url,
            "DAKORA_MAX_KEYS_PER_PROJECT": str(LIMIT),
        }
    )
    web = import_project(server, "acme", "web", SAMPLE_REPO)
    other = import_project(server, "acme", "other", None)
    import_project(server, "rival", "app", None)
    engine = server.engine()
    users = {}
    for name, ws, role in (
        ("owner", "acme", "owner"),
        ("admin", "acme", "admin"),
        ("member", "acme", "member"),
        ("viewer", "acme", "viewer"),
        ("rival", "rival", "owner"),
    ):
        user = tenancy.create_user(
            engine, email=f"{name}@example.com", external_id=f"user_{name}"
        )
        tenancy.set_member(engine, tenancy.get_workspace(engine, ws).id, user.id, role)
        users[name] = user.id
    read_key, _ = new_key(server, web, "read")
    write_key, _ = new_key(server, web, "write")
    try:
        yield World(server, jwks, web, other, users, read_key, write_key)
    finally:
        server.close()
        jwks.close()


def _active_ids(world: World, project: str) -> list[str]:
    return [k["id"] for k in _active(world, project)]


def _active(world: World, project: str) -> list[dict[str, Any]]:
    with world.client("owner") as c:
        r = c.get(world.p("/api-keys", project))
    assert r.status_code == 200, r.text
    return [k for k in r.json()["keys"] if k["status"] == "active"]


def test_owner_creates_lists_and_revokes(world: World) -> None:
    with world.client("owner") as c:
        r = c.post(
            world.p("/api-keys"),
            json={"scope": "write", "name": "studio", "expires_days": 30},
        )
        assert r.status_code == 201, r.text
        made = r.json()
        plaintext = made["key"]
        assert plaintext.startswith("dk_") and made["display"].startswith("dk_")
        assert (made["scope"], made["scopes"]) == ("write", ["read", "write"])
        assert made["status"] == "active" and made["name"] == "studio"
        assert made["user_id"] == world.users["owner"]  # who created it
        assert made["created_at"].endswith("Z") and made["expires_at"].endswith("Z")

        listing = c.get(world.p("/api-keys"))
        assert listing.status_code == 200
        body = listing.json()
        assert body["project_id"] == world.web and body["limit"] == LIMIT
        assert made["id"] in [k["id"] for k in body["keys"]]
        assert plaintext not in listing.text  # shown once, never again
        assert all("key" not in k for k in body["keys"])

    # the key works at once, for writing too
    with world.server.client(plaintext) as k:
        assert k.get(world.p("/prompts")).status_code == 200
        w = k.put(world.p("/parts/system/tone"), json={"content": "Be kind.\n"})
        assert w.status_code == 200, w.text

    # the CLI sees the key HTTP created (one storage)
    cli = world.server.admin("list-keys", "acme/web")
    assert made["id"] in [k["id"] for k in cli["keys"]]

    with world.client("owner") as c:
        r = c.delete(world.p(f"/api-keys/{made['id']}"))
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "revoked" and r.json()["revoked_at"]
        assert "key" not in r.json()
        revoked_at = r.json()["revoked_at"]
    with world.server.client(plaintext) as k:
        r = k.get(world.p("/prompts"))
        assert r.status_code == 401  # on the very next request
    with world.client("owner") as c:
        again = c.delete(world.p(f"/api-keys/{made['id']}"))
        assert again.status_code == 200  # revoking twice is a no-op
        assert again.json()["revoked_at"] == revoked_at
        assert again.json()["status"] == "revoked"


def test_admin_may_manage_and_keys_of_other_projects_are_not_found(
    world: World,
) -> None:
    with world.client("admin") as c:
        r = c.post(world.p("/api-keys", world.other), json={})
        assert r.status_code == 201, r.text
        assert r.json()["scope"] == "read"  # the default, as for the CLI
        other_key = r.json()["id"]
        # a key of acme/other cannot be revoked through acme/web
        r = c.delete(world.p(f"/api-keys/{other_key}"))
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "key_not_found"
        for odd in ("no-such-key", "nul%00byte", "%ED%A0%80"):
            r = c.delete(world.p(f"/api-keys/{odd}"))
            assert r.status_code == 404, (odd, r.text)
        r = c.delete(world.p("/api-keys/" + "x" * 201))
        assert r.status_code == 422
        assert r.json()["error"]["problems"][0]["field"] == "path.key_id"
        assert c.delete(world.p(f"/api-keys/{other_key}", world.other)).is_success


def test_the_limit_is_the_cli_limit(world: World) -> None:
    with world.client("owner") as c:
        while len(_active(world, world.other)) < LIMIT:
            made = c.post(world.p("/api-keys", world.other), json={"name": "fill"})
            assert made.status_code == 201, made.text
        r = c.post(world.p("/api-keys", world.other), json={"name": "one too many"})
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert err["code"] == "limit_exceeded"
        assert str(LIMIT) in err["message"]
    # the CLI meets the same limit on the same count
    proc = world.server.admin(
        "create-key", "acme/other", "--scope", "read", check=False
    )
    assert proc.returncode != 0
    assert "limit" in (proc.stdout + proc.stderr)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scope": "admin"}, "body.scope"),
        ({"expires_days": 0}, "body.expires_days"),
        ({"expires_days": "soon"}, "body.expires_days"),
        ({"name": "x" * 201}, "body.name"),
        ({"scopes": ["write"]}, "body.scopes"),
        ({"name": "a\x00b"}, "body.name"),
        ({"name": "lone \ud800"}, "body.name"),
    ],
)
def test_bad_bodies_name_the_field(
    world: World, body: dict[str, Any], field: str
) -> None:
    before = _active_ids(world, world.web)
    with world.client("owner") as c:
        r = c.post(
            world.p("/api-keys"),
            content=json.dumps(body),  # escapes \\ud800, as a browser would send it
            headers={"Content-Type": "application/json"},
        )
    assert r.status_code == 422, r.text
    assert field in [p["field"] for p in r.json()["error"]["problems"]]
    assert _active_ids(world, world.web) == before


DENIED = [
    ("read_key", 403, "forbidden"),
    ("write_key", 403, "forbidden"),
    ("member", 403, "forbidden"),
    ("viewer", 403, "forbidden"),
    ("rival", 404, "project_not_found"),
    ("nobody", 404, "project_not_found"),  # a valid token of an unknown user
    ("anonymous", 401, "unauthenticated"),
]


def _denied_headers(world: World, who: str) -> dict[str, str]:
    if who == "read_key":
        return {"Authorization": f"Bearer {world.read_key}"}
    if who == "write_key":
        return {"X-API-Key": world.write_key}
    if who == "anonymous":
        return {}
    return world.headers(who)


@pytest.mark.parametrize(("who", "status", "code"), DENIED)
def test_callers_who_may_not_manage_keys(
    world: World, who: str, status: int, code: str
) -> None:
    with world.client("owner") as c:
        victim = c.post(world.p("/api-keys"), json={"name": "victim"}).json()
    before = _active_ids(world, world.web)
    with world.server.client(headers=_denied_headers(world, who)) as c:
        for method, path, body in (
            ("GET", "/api-keys", None),
            ("POST", "/api-keys", {"scope": "write"}),
            ("DELETE", f"/api-keys/{victim['id']}", None),
        ):
            r = c.request(method, world.p(path), json=body)
            assert r.status_code == status, (who, method, r.text)
            err = r.json()["error"]
            assert err["code"] == code, (who, method, err)
            if who in ("read_key", "write_key"):
                assert "API keys cannot manage API keys" in err["message"]
            if who in ("member", "viewer"):
                assert "owner or admin" in err["message"]
    assert _active_ids(world, world.web) == before  # nothing created or revoked
    with world.client("owner") as c:
        assert c.delete(world.p(f"/api-keys/{victim['id']}")).status_code == 200


def test_routes_are_in_the_openapi_document(world: World) -> None:
    spec = httpx.get(world.server.url("/openapi.json")).json()
    paths = spec["paths"]
    ops = {
        ("get", "200"): paths["/api/projects/{project}/api-keys"]["get"],
        ("post", "201"): paths["/api/projects/{project}/api-keys"]["post"],
        ("delete", "200"): paths["/api/projects/{project}/api-keys/{key_id}"]["delete"],
    }
    for (_method, status), op in ops.items():
        schema = op["responses"][status]["content"]["application/json"]["schema"]
        assert schema["$ref"].startswith("#/components/schemas/"), op
        assert "403" in op["responses"]
    created = spec["components"]["schemas"]["KeyCreatedOut"]
    assert "key" in created["required"]


# -- auth mode none -------------------------------------------------------------------


@pytest.fixture(scope="module")
def local(start_live_server: ServerFactory) -> LiveServer:
    server = start_live_server(env={"DAKORA_AUTH_MODE": "none"})
    import_project(server, "demo", "demo", SAMPLE_REPO)
    return server


def test_no_auth_mode_manages_keys_but_keys_still_may_not(local: LiveServer) -> None:
    with local.client() as c:
        project = c.get("/api/me").json()["projects"][0]["id"]
        base = f"/api/projects/{project}/api-keys"
        r = c.post(base, json={"scope": "read", "name": "laptop"})
        assert r.status_code == 201, r.text
        made = r.json()
        assert made["user_id"] is None
        assert [k["id"] for k in c.get(base).json()["keys"]] == [made["id"]]
        r = c.get(base, headers={"Authorization": f"Bearer {made['key']}"})
        assert r.status_code == 403
        assert c.get(base, params={"limit": 5}).status_code == 400  # unknown param
        assert c.delete(f"{base}/{made['id']}").json()["status"] == "revoked"
