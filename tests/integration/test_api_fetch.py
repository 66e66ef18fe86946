"""Runtime fetch API against a real ``dakora serve`` on SQLite and on PostgreSQL."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("live_server", ["sqlite", "postgresql"], indirect=True),
]


@dataclass(frozen=True)
class Setup:
    server: LiveServer
    project_id: str
    repo: HistoryRepo
    key: str
    write_key: str

    def client(self, key: str | None = None) -> httpx.Client:
        return self.server.client(key or self.key)

    @property
    def base(self) -> str:
        return f"/api/projects/{self.project_id}"


@pytest.fixture(scope="module")
def setup(
    live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    repo = make_history_repo(tmp_path_factory.mktemp("history"))
    project_id = import_project(live_server, "acme", "web", repo.path)
    key, _ = new_key(live_server, project_id, "read", name="reader")
    write_key, _ = new_key(live_server, project_id, "write", name="writer")
    yield Setup(live_server, project_id, repo, key, write_key)


@pytest.fixture
def c(setup: Setup) -> Iterator[httpx.Client]:
    with setup.client() as client:
        yield client


def _error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code, body
    return body["error"]


# -- health, me, list -------------------------------------------------------------------


def test_health_is_public(setup: Setup) -> None:
    with setup.server.client() as client:
        r = client.get("/api/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.json()["auth_mode"] == "keys"


def test_me_lists_the_project_with_its_uuid(setup: Setup, c: httpx.Client) -> None:
    r = c.get("/api/me")
    assert r.status_code == 200
    body = r.json()
    assert body["kind"] == "key"
    assert body["key"]["scopes"] == ["read"]
    assert [p["id"] for p in body["projects"]] == [setup.project_id]
    assert body["projects"][0]["ref"] == "acme~web"
    assert body["projects"][0]["workspace_kind"] == "team"
    # a key's default project is its own project
    assert body["default_project"] == body["projects"][0]


def test_list_prompts_on_the_default_branch(setup: Setup, c: httpx.Client) -> None:
    r = c.get(f"{setup.base}/prompts")
    assert r.status_code == 200
    body = r.json()
    assert body["ref"] == "main"
    assert body["commit"] == setup.repo.head
    by_id = {p["id"]: p for p in body["prompts"]}
    assert by_id["support-reply"]["version"] == "1.3.0"
    assert by_id["support-reply"]["path"] == "prompts/support/reply.yaml"
    assert "limits-test" in by_id
    assert [p["id"] for p in body["prompts"]] == sorted(by_id)
    # The same list read from the commit itself (not the index).
    by_commit = c.get(f"{setup.base}/prompts", params={"commit": setup.repo.head})
    assert by_commit.json()["prompts"] == body["prompts"]
    # ?detail=true adds kind and metadata.tags (the Studio's list and filters)
    detail = c.get(f"{setup.base}/prompts", params={"detail": "true"}).json()
    rows = {p["id"]: p for p in detail["prompts"]}
    assert rows["support-reply"]["kind"] == "text"
    assert rows["support-reply"]["tags"] == ["support", "email"]
    assert rows["code-review"]["kind"] == "chat"
    assert rows["limits-test"]["tags"] == []
    assert [{k: p[k] for k in by_id["summarize"]} for p in detail["prompts"]] == body[
        "prompts"
    ]


def test_list_prompts_at_a_tag_and_by_workspace_slug(
    setup: Setup, c: httpx.Client
) -> None:
    r = c.get("/api/projects/acme~web/prompts", params={"ref": "v1"})
    assert r.status_code == 200
    body = r.json()
    assert body["commit"] == setup.repo.v1
    versions = {p["id"]: p["version"] for p in body["prompts"]}
    assert versions["support-reply"] == "1.2.0"


# -- get, ETag ---------------------------------------------------------------------------


def test_get_prompt_full_with_version_commit_ref(setup: Setup, c: httpx.Client) -> None:
    r = c.get(f"{setup.base}/prompts/support-reply")
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == "support-reply"
    assert body["version"] == "1.3.0"
    assert body["commit"] == setup.repo.head
    assert body["ref"] == "main"
    assert body["kind"] == "text"
    assert "friendly paragraphs" in body["template"]
    assert body["inputs"]["tier"]["enum"] == ["free", "pro", "enterprise"]
    assert body["model"]["name"] == "gpt-4o-mini"
    blob = git(setup.repo.path, "rev-parse", "HEAD:prompts/support/reply.yaml")
    assert body["blob_sha"] == blob
    assert r.headers["etag"] == f'"{blob}"'
    # the file text as committed (the Studio shows and edits it)
    assert body["source"].rstrip("\n") == git(
        setup.repo.path, "show", "HEAD:prompts/support/reply.yaml"
    )


def test_if_none_match_gives_304(setup: Setup, c: httpx.Client) -> None:
    first = c.get(f"{setup.base}/prompts/support-reply")
    etag = first.headers["etag"]
    again = c.get(
        f"{setup.base}/prompts/support-reply", headers={"If-None-Match": etag}
    )
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    weak = c.get(
        f"{setup.base}/prompts/support-reply",
        headers={"If-None-Match": f'"zzz", W/{etag}'},
    )
    assert weak.status_code == 304
    other = c.get(
        f"{setup.base}/prompts/support-reply", headers={"If-None-Match": '"abc"'}
    )
    assert other.status_code == 200
    # Another version has another blob: the old ETag does not match it.
    old = c.get(
        f"{setup.base}/prompts/support-reply",
        params={"version": "1.2.0"},
        headers={"If-None-Match": etag},
    )
    assert old.status_code == 200
    assert old.json()["version"] == "1.2.0"


def test_select_by_version_ref_and_commit(setup: Setup, c: httpx.Client) -> None:
    by_version = c.get(
        f"{setup.base}/prompts/support-reply", params={"version": "1.2.0"}
    ).json()
    assert by_version["version"] == "1.2.0"
    assert by_version["commit"] == setup.repo.v1
    assert by_version["ref"] is None
    by_ref = c.get(
        f"{setup.base}/prompts/support-reply", params={"ref": "staging"}
    ).json()
    assert (by_ref["version"], by_ref["ref"]) == ("1.2.0", "staging")
    by_commit = c.get(
        f"{setup.base}/prompts/support-reply", params={"commit": setup.repo.v1}
    ).json()
    assert by_commit["version"] == "1.2.0"
    short = c.get(
        f"{setup.base}/prompts/support-reply", params={"commit": setup.repo.v1[:10]}
    ).json()
    assert short["commit"] == setup.repo.v1


def test_selector_errors(setup: Setup, c: httpx.Client) -> None:
    url = f"{setup.base}/prompts/support-reply"
    _error(c.get(url, params={"ref": "main", "version": "1.2.0"}), 400, "bad_request")
    _error(c.get(url, params={"commit": "not-a-sha"}), 400, "bad_request")
    _error(c.get(url, params={"ref": "no-such-branch"}), 404, "ref_not_found")
    _error(c.get(url, params={"version": "9.9.9"}), 404, "ref_not_found")
    _error(c.get(url, params={"commit": "0" * 40}), 404, "ref_not_found")
    _error(c.get(f"{setup.base}/prompts/nope"), 404, "prompt_not_found")


def test_a_misspelt_query_parameter_is_a_400_not_the_default_branch(
    setup: Setup, c: httpx.Client
) -> None:
    """``?verison=`` would otherwise silently serve the default branch."""
    for path in (
        "/prompts/support-reply",
        "/prompts",
        "/prompts/support-reply/versions",
    ):
        r = c.get(f"{setup.base}{path}", params={"verison": "1.2.0"})
        body = _error(r, 400, "bad_request")
        assert "unknown query parameter 'verison'" in str(body["message"]), path
    # the declared ones still work, on the hand-parsed warm route and the others
    assert c.get(f"{setup.base}/prompts/support-reply?version=1.3.0").status_code == 200
    assert c.get(f"{setup.base}/prompts?ref=main").status_code == 200
    r = c.get(f"{setup.base}/prompts/support-reply/diff", params={"from": "main"})
    assert r.status_code != 400, r.text


# -- render ------------------------------------------------------------------------------


def test_render_text_prompt(setup: Setup, c: httpx.Client) -> None:
    r = c.post(
        f"{setup.base}/prompts/support-reply/render",
        json={
            "inputs": {"customer": "Ada", "ticket": "Charged twice.", "urgent": "yes"}
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["prompt_id"] == "support-reply"
    assert body["version"] == "1.3.0"
    assert body["commit"] == setup.repo.head
    assert "Customer: Ada (free plan, marked urgent)" in body["rendered"]
    assert "messages" not in body
    assert body["inputs_used"] == {
        "customer": "Ada",
        "ticket": "Charged twice.",
        "tier": "free",
        "urgent": True,
        "max_paragraphs": 3,
    }


def test_render_by_version(setup: Setup, c: httpx.Client) -> None:
    r = c.post(
        f"{setup.base}/prompts/support-reply/render",
        json={"inputs": {"customer": "Ada", "ticket": "x"}, "version": "1.2.0"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == "1.2.0"
    assert "friendly" not in r.json()["rendered"]


def test_render_chat_prompt(setup: Setup, c: httpx.Client) -> None:
    listing = c.get(f"{setup.base}/prompts").json()["prompts"]
    prompts = [c.get(f"{setup.base}/prompts/{p['id']}").json() for p in listing]
    prompt = next(p for p in prompts if p["kind"] == "chat")
    chat = {"id": prompt["id"]}
    examples = prompt["examples"]
    inputs = examples[0] if examples else {}
    r = c.post(f"{setup.base}/prompts/{chat['id']}/render", json={"inputs": inputs})
    assert r.status_code == 200, r.text
    body = r.json()
    assert "rendered" not in body
    assert [m["role"] for m in body["messages"]] == [
        m["role"] for m in prompt["messages"]
    ]
    assert all(isinstance(m["content"], str) for m in body["messages"])


def test_render_lists_every_bad_input(setup: Setup, c: httpx.Client) -> None:
    r = c.post(
        f"{setup.base}/prompts/support-reply/render",
        json={
            "inputs": {
                "tier": "gold",
                "urgent": "banana",
                "max_paragraphs": "many",
                "nmae": "typo",
            }
        },
    )
    err = _error(r, 422, "invalid_inputs")
    names = {p["input"] for p in err["problems"]}  # type: ignore[union-attr]
    assert names == {"customer", "ticket", "tier", "urgent", "max_paragraphs", "nmae"}


def test_render_template_error_is_400(setup: Setup, c: httpx.Client) -> None:
    r = c.post(
        f"{setup.base}/prompts/limits-test/render", json={"inputs": {"n": 100_000}}
    )
    _error(r, 400, "render_error")
    ok = c.post(f"{setup.base}/prompts/limits-test/render", json={"inputs": {"n": 3}})
    assert ok.json()["rendered"] == "xxx"


def test_render_malformed_body_is_422_naming_the_field(
    setup: Setup, c: httpx.Client
) -> None:
    r = c.post(f"{setup.base}/prompts/support-reply/render", json={"inputs": [1, 2]})
    err = _error(r, 422, "invalid_request")
    assert "body.inputs" in {p["field"] for p in err["problems"]}  # type: ignore[union-attr]
    r = c.post(f"{setup.base}/prompts/support-reply/render", json={"input": {}})
    _error(r, 422, "invalid_request")


# -- versions, diff, parts ---------------------------------------------------------------


def test_versions_newest_first(setup: Setup, c: httpx.Client) -> None:
    r = c.get(f"{setup.base}/prompts/support-reply/versions")
    assert r.status_code == 200
    body = r.json()
    assert [v["version"] for v in body["versions"]] == ["1.3.0", "1.2.0"]
    assert body["versions"][0]["commit"] == setup.repo.head
    assert body["versions"][1]["commit"] == setup.repo.v1
    at_tag = c.get(
        f"{setup.base}/prompts/support-reply/versions", params={"ref": "v1"}
    ).json()
    assert [v["version"] for v in at_tag["versions"]] == ["1.2.0"]
    _error(c.get(f"{setup.base}/prompts/nope/versions"), 404, "prompt_not_found")


def test_diff_between_versions(setup: Setup, c: httpx.Client) -> None:
    r = c.get(
        f"{setup.base}/prompts/support-reply/diff",
        params={"from": "1.2.0", "to": "1.3.0"},
    )
    assert r.status_code == 200, r.text
    diff = r.json()["diff"]
    assert '-version: "1.2.0"' in diff
    assert '+version: "1.3.0"' in diff
    added = [line for line in diff.splitlines() if line.startswith("+")]
    assert any("short, friendly paragraphs." in line for line in added)
    default_to = c.get(
        f"{setup.base}/prompts/support-reply/diff", params={"from": "v1"}
    ).json()
    assert default_to["to"] == "main"
    assert '+version: "1.3.0"' in default_to["diff"]
    _error(c.get(f"{setup.base}/prompts/support-reply/diff"), 422, "invalid_request")


def test_parts(setup: Setup, c: httpx.Client) -> None:
    r = c.get(f"{setup.base}/parts")
    assert r.status_code == 200
    names = [p["name"] for p in r.json()["parts"]]
    assert "system/tone" in names
    tone = c.get(f"{setup.base}/parts/system/tone")
    assert tone.status_code == 200
    body = tone.json()
    assert body["path"].startswith("parts/system/tone")
    assert "Acme" in body["source"]
    etag = tone.headers["etag"]
    assert (
        c.get(
            f"{setup.base}/parts/system/tone", headers={"If-None-Match": etag}
        ).status_code
        == 304
    )
    suffix = Path(body["path"]).suffix
    with_ext = c.get(f"{setup.base}/parts/system/tone{suffix}")
    assert with_ext.status_code == 200
    assert with_ext.json()["source"] == body["source"]
    _error(c.get(f"{setup.base}/parts/system/nope"), 404, "part_not_found")


def test_openapi_documents_the_routes(setup: Setup) -> None:
    with setup.server.client() as client:
        spec = client.get("/openapi.json").json()
        docs = client.get("/docs")
    assert docs.status_code == 200
    paths = set(spec["paths"])
    for path in (
        "/api/health",
        "/api/me",
        "/api/projects/{project}/prompts",
        "/api/projects/{project}/prompts/{prompt_id}",
        "/api/projects/{project}/prompts/{prompt_id}/render",
        "/api/projects/{project}/prompts/{prompt_id}/versions",
        "/api/projects/{project}/prompts/{prompt_id}/diff",
        "/api/projects/{project}/parts",
        "/api/projects/{project}/parts/{category}/{name}",
        "/api/projects/{project}/logs",
        "/api/webhooks/clerk",
    ):
        assert path in paths


# -- a push is served on the next request -----------------------------------------------


def test_push_is_served_on_the_next_request(
    setup: Setup, tmp_path: Path, c: httpx.Client
) -> None:
    # Warm every cache first.
    assert c.get(f"{setup.base}/prompts/summarize").status_code == 200
    host = setup.server.base_url.removeprefix("http://")
    url = f"http://git:{setup.write_key}@{host}/git/acme/web.git"
    work = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "-q", url, str(work)], check=True, capture_output=True
    )
    path = work / "prompts" / "general" / "summarize.yaml"
    text = path.read_text()
    old_version = c.get(f"{setup.base}/prompts/summarize").json()["version"]
    major, minor, patch = (int(x) for x in old_version.split("."))
    new_version = f"{major}.{minor}.{patch + 1}"
    path.write_text(
        text.replace(f'version: "{old_version}"', f'version: "{new_version}"')
        + "\n# pushed\n"
    )
    git(work, "commit", "-q", "-am", "summarize: bump")
    git(work, "push", "-q", "origin", "main")
    head = git(work, "rev-parse", "HEAD")
    fresh = c.get(f"{setup.base}/prompts/summarize").json()
    assert (fresh["version"], fresh["commit"]) == (new_version, head)
    listed = c.get(f"{setup.base}/prompts").json()
    assert listed["commit"] == head
    # The older version is still served by version.
    old = c.get(f"{setup.base}/prompts/summarize", params={"version": old_version})
    assert old.json()["version"] == old_version


def test_bodies_match_the_documented_schemas(setup: Setup, c: httpx.Client) -> None:
    """The read routes return pre-encoded bytes; their OpenAPI models must still fit."""
    from dakora.api import schemas

    b = setup.base
    cases = [
        (schemas.PromptListOut, c.get(f"{b}/prompts")),
        (schemas.PromptOut, c.get(f"{b}/prompts/support-reply")),
        (schemas.VersionListOut, c.get(f"{b}/prompts/support-reply/versions")),
        (
            schemas.DiffOut,
            c.get(f"{b}/prompts/support-reply/diff", params={"from": "1.2.0"}),
        ),
        (schemas.PartListOut, c.get(f"{b}/parts")),
        (schemas.PartOut, c.get(f"{b}/parts/system/tone")),
        (
            schemas.RenderOut,
            c.post(
                f"{b}/prompts/support-reply/render",
                json={"inputs": {"customer": "Ada", "ticket": "x"}},
            ),
        ),
        (schemas.MeOut, c.get("/api/me")),
        (schemas.ErrorOut, c.get(f"{b}/prompts/nope")),
    ]
    for model, response in cases:
        data = response.json()
        model.model_validate(data)
        documented = set(model.model_fields) | {
            f.alias for f in model.model_fields.values() if f.alias
        }
        assert set(data) <= documented, (model.__name__, set(data) - documented)
