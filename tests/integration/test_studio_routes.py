"""The routes the Studio needs, through a real ``dakora serve``: ``GET …/refs`` and
``POST …/check`` (SQLite and PostgreSQL).

``/check`` must say exactly what a write would meet: the same content is then sent to
the write API, and its 422 carries the very findings ``/check`` returned (or the write
succeeds when ``/check`` said ok). A check writes nothing: refs, objects and the push
audit log are compared before and after.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.server import LiveServer
from tests.integration.api_support import (
    HistoryRepo,
    git,
    import_project,
    make_history_repo,
    new_key,
)
from tests.integration.git_server_support import bare_objects, bare_refs

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("live_server", ["sqlite", "postgresql"], indirect=True),
]

REPLY = "prompts/support/reply.yaml"


class World:
    def __init__(self, server: LiveServer, history: HistoryRepo, project: str) -> None:
        self.server = server
        self.history = history
        self.id = project
        self.read_key, _ = new_key(server, project, "read")
        self.write_key, _ = new_key(server, project, "write")
        from dakora.registry import tenancy

        self.repo_path = Path(tenancy.get_project(server.engine(), project).repo_path)

    def p(self, path: str) -> str:
        return f"/api/projects/{self.id}{path}"

    def client(self, key: str | None = None) -> httpx.Client:
        return self.server.client(key or self.read_key)

    def source(self, path: str, ref: str = "main") -> str:
        return git(self.history.path, "show", f"{ref}:{path}") + "\n"


@pytest.fixture(scope="module")
def world(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> World:
    history = make_history_repo(tmp_path_factory.mktemp("studio-src"))
    src = history.path
    git(src, "branch", "production", history.v1)
    git(src, "branch", "feature/x", history.v1)
    git(src, "tag", "-a", "v1.1", "-m", "annotated", history.head)
    project = import_project(live_server, "acme", "studio", src)
    return World(live_server, history, project)


# -- refs ------------------------------------------------------------------------------


def test_refs_lists_branches_and_tags(world: World) -> None:
    with world.client() as c:
        r = c.get(world.p("/refs"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["default_branch"] == "main"
    assert body["protected_refs"] == ["production"]  # sample-repo/dakora.yaml
    names = [(x["kind"], x["name"]) for x in body["refs"]]
    # default branch first, then branches, then tags, each by name
    assert names == [
        ("branch", "main"),
        ("branch", "feature/x"),
        ("branch", "production"),
        ("branch", "staging"),
        ("tag", "v1"),
        ("tag", "v1.1"),
    ]
    by_name = {x["name"]: x for x in body["refs"]}
    src = world.history.path
    for name, ref in by_name.items():
        full = ("refs/heads/" if ref["kind"] == "branch" else "refs/tags/") + name
        assert ref["ref"] == full
        assert ref["commit"] == git(src, "rev-parse", f"{full}^{{commit}}")
        iso = git(src, "log", "-1", "--format=%cI", ref["commit"])
        expected = datetime.fromisoformat(iso).astimezone(UTC)
        assert ref["committed_at"].endswith("Z"), ref["committed_at"]
        assert datetime.fromisoformat(ref["committed_at"]) == expected
        assert ref["default"] is (name == "main")
        assert ref["protected"] is (name in ("main", "production")), name
    # an annotated tag is peeled to its commit
    assert by_name["v1.1"]["commit"] == world.history.head


def test_refs_follow_a_push_and_need_credentials(world: World) -> None:
    with world.client(world.write_key) as c:
        r = c.put(
            world.p("/parts/system/tone"),
            json={"content": "Be warm.\n", "branch": "studio-new"},
        )
        assert r.status_code == 200, r.text
        refs = {x["name"]: x for x in c.get(world.p("/refs")).json()["refs"]}
    assert refs["studio-new"]["commit"] == r.json()["commit"]
    assert refs["studio-new"]["protected"] is False
    with world.server.client() as anonymous:
        assert anonymous.get(world.p("/refs")).status_code == 401
    with world.client() as c:
        r = c.get(world.p("/refs"), params={"kind": "tag"})
    assert r.status_code == 400 and "kind" in r.json()["error"]["message"]


# -- check -----------------------------------------------------------------------------


def _check(world: World, body: dict[str, Any], key: str | None = None) -> Any:
    # json.dumps escapes non-ASCII (\\ud800 stays sendable, as from a browser)
    with world.client(key) as c:
        return c.post(
            world.p("/check"),
            content=json.dumps(body),
            headers={"Content-Type": "application/json"},
        )


def _state(world: World) -> tuple[dict[str, str], set[str], int]:
    with world.client() as c:
        pushes = c.get(world.p("/pushes"), params={"limit": 500}).json()["pushes"]
    return bare_refs(world.repo_path), bare_objects(world.repo_path), len(pushes)


def _rules(findings: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(f["path"], f["rule"]) for f in findings}


def _same(findings: list[dict[str, Any]]) -> list[tuple[tuple[str, Any], ...]]:
    return sorted(tuple(sorted(f.items())) for f in findings)


def test_check_the_current_file_is_ok(world: World) -> None:
    r = _check(world, {"path": REPLY, "content": world.source(REPLY)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is True
    assert body["branch"] == "main"
    assert body["base"] == git(world.history.path, "rev-parse", "main")
    assert all(f["severity"] != "error" for f in body["findings"])
    for f in body["findings"]:
        assert set(f) == {"severity", "path", "line", "rule", "message"}


def test_check_finds_what_the_write_would_refuse(world: World) -> None:
    before = _state(world)
    text = world.source(REPLY).replace("short, friendly", "{{ tone }}")
    r = _check(world, {"path": REPLY, "content": text})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is False
    found = {(f["rule"], f["line"]) for f in body["findings"] if f["path"] == REPLY}
    assert ("version-not-bumped", 2) in found, body
    assert any(rule == "undeclared-variable" for rule, _ in found), body
    assert _state(world) == before  # nothing written, not even an audit row
    # the write API refuses the same content with the same findings
    with world.client(world.write_key) as c:
        w = c.put(world.p("/prompts/support-reply"), json={"yaml": text})
    assert w.status_code == 422, w.text
    assert _same(w.json()["error"]["findings"]) == _same(body["findings"])


def test_check_ok_means_the_write_goes_through(world: World) -> None:
    text = world.source(REPLY, "staging")  # 1.2.0
    text = text.replace('version: "1.2.0"', 'version: "1.4.0"').replace(
        "short paragraphs", "short, clear paragraphs"
    )
    body = {"path": REPLY, "content": text, "branch": "staging"}
    r = _check(world, body)
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is True, r.json()
    assert r.json()["base"] == world.history.v1
    with world.client(world.write_key) as c:
        w = c.put(
            world.p("/prompts/support-reply"), json={"yaml": text, "branch": "staging"}
        )
    assert w.status_code == 200, w.text
    # now the same 1.4.0 with other content is a reused version on main
    reused = world.source(REPLY).replace('version: "1.3.0"', 'version: "1.4.0"')
    r = _check(world, {"path": REPLY, "content": reused})
    assert "version-reused" in {f["rule"] for f in r.json()["findings"]}, r.json()


def test_check_a_new_prompt_and_a_part(world: World) -> None:
    dup = world.source(REPLY).replace('version: "1.3.0"', 'version: "9.0.0"')
    r = _check(world, {"path": "prompts/copy/reply.yaml", "content": dup})
    assert r.json()["ok"] is False
    assert ("prompts/copy/reply.yaml", "duplicate-id") in _rules(r.json()["findings"])

    fresh = 'id: fresh\nversion: "1.0.0"\ntemplate: "Hi {{ name }}"\n'
    fresh += "inputs:\n  name: {type: string}\n"
    r = _check(world, {"path": "prompts/fresh.yaml", "content": fresh})
    assert r.json() == {
        "ok": True,
        "findings": [],
        "branch": "main",
        "base": r.json()["base"],
    }

    # a broken part: the part itself, and the prompts including it, are named
    r = _check(world, {"path": "parts/system/tone.md", "content": "{% if %}\n"})
    body = r.json()
    assert body["ok"] is False
    paths = {f["path"] for f in body["findings"] if f["severity"] == "error"}
    assert "parts/system/tone.md" in paths and REPLY in paths, body


def test_check_a_branch_that_does_not_exist_yet(world: World) -> None:
    r = _check(
        world,
        {"path": REPLY, "content": world.source(REPLY), "branch": "brand-new"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["branch"] == "brand-new"
    assert r.json()["base"] == git(world.history.path, "rev-parse", "main")
    assert r.json()["ok"] is True
    with world.client() as c:
        names = {x["name"] for x in c.get(world.p("/refs")).json()["refs"]}
    assert "brand-new" not in names


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"content": "x"}, 422, "body.path"),
        ({"path": REPLY}, 422, "body.content"),
        ({"path": REPLY, "content": 5}, 422, "body.content"),
        ({"path": REPLY, "content": "x", "brnach": "main"}, 422, "body.brnach"),
        ({"path": "../etc/passwd", "content": "x"}, 400, "path"),
        ({"path": "README.md", "content": "x"}, 400, "path"),
        ({"path": "prompts/x.txt", "content": "x"}, 400, "path"),
        ({"path": "parts/tone.md", "content": "x"}, 400, "path"),
        ({"path": "parts/a/b/c.md", "content": "x"}, 400, "path"),
        ({"path": REPLY, "content": "x", "branch": "a..b"}, 400, "branch"),
        ({"path": REPLY, "content": "lone \ud800"}, 422, "body.content"),
        ({"path": "prompts/\ud800.yaml", "content": "x"}, 422, "body.path"),
        ({"path": REPLY, "content": "x", "branch": "\udfff"}, 422, "body.branch"),
        ({"path": "prompts/a\x00.yaml", "content": "x"}, 400, "path"),
    ],
)
def test_check_bad_bodies_name_the_field(
    world: World, body: dict[str, Any], status: int, field: str
) -> None:
    r = _check(world, body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    if status == 422:
        assert err["code"] == "invalid_request"
        assert field in [p["field"] for p in err["problems"]], err
    else:
        assert err["code"] == "bad_request"
        assert field in err["details"], err


def test_check_a_nul_character_is_a_finding_like_a_write(world: World) -> None:
    r = _check(world, {"path": "prompts/nul.yaml", "content": "id: nul\x00\n"})
    assert r.status_code == 200, r.text
    assert ("prompts/nul.yaml", "yaml-syntax") in _rules(r.json()["findings"])


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/parts/system/tone", {"content": "lone \ud800"}),
        ("POST", "/parts", {"category": "a", "name": "b\udc00", "content": "x"}),
        ("PUT", "/prompts/support-reply", {"yaml": "id: x\ud800"}),
        ("PUT", "/prompts/support-reply", {"inputs": {"x": {"description": "\ud800"}}}),
        ("POST", "/prompts", {"id": "x", "metadata": {"\ud800": 1}}),
    ],
)
def test_writes_refuse_a_lone_surrogate_like_the_check(
    world: World, method: str, path: str, body: dict[str, Any]
) -> None:
    """The same text /check refuses (422) is refused by the writes — never a 500."""
    with world.client(world.write_key) as c:
        r = c.request(
            method,
            world.p(path),
            content=json.dumps(body),
            headers={"Content-Type": "application/json"},
        )
    assert r.status_code == 422, r.text
    assert "valid Unicode" in r.json()["error"]["message"]


def test_check_with_a_body_that_is_not_json(world: World) -> None:
    with world.client() as c:
        r = c.post(
            world.p("/check"),
            content=b'{"path": ',
            headers={"Content-Type": "application/json"},
        )
    assert r.status_code == 422
    assert "not valid JSON" in r.json()["error"]["message"]


def test_check_is_in_the_openapi_document(world: World) -> None:
    spec = httpx.get(world.server.url("/openapi.json")).json()
    for path, method in (
        ("/api/projects/{project}/refs", "get"),
        ("/api/projects/{project}/check", "post"),
    ):
        op = spec["paths"][path][method]
        schema = op["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["$ref"].startswith("#/components/schemas/"), op


def test_repository_is_sound_after_checks(world: World) -> None:
    """The checks build objects in memory only: the repository stays consistent."""
    fsck = subprocess.run(
        ["git", "fsck", "--no-dangling"],
        cwd=world.repo_path,
        capture_output=True,
        text=True,
    )
    assert fsck.returncode == 0, fsck.stderr
