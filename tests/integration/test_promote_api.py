"""Promotion through a real ``dakora serve`` (SQLite and PostgreSQL):
``POST …/promote`` moves exactly the named prompts and their parts onto a protected
branch as one fast-forward commit, through the push checks; ``GET …/refs/{ref}/history``
tells who moved it, when, from what to what and how (docs/promotion.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.gitrepos import GitRepoBuilder, make_prompt_yaml
from tests.integration.git_server_support import run_git

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("live_server", ["sqlite", "postgresql"], indirect=True),
]

CONFIG = "protected_refs:\n  - production\n"


def _prompt(pid: str, version: str, template: str) -> str:
    return make_prompt_yaml(id=pid, version=version, template=template, inputs={})


class Setup:
    """main and production equal at first: greeting and faq both include
    tone/polite; note includes nothing."""

    def __init__(self, server: Any, tmp: Path, slug: str) -> None:
        self.server = server
        info = server.create_project("acme", slug)
        self.pid = info["id"]
        made = server.create_key(f"acme/{slug}", "write", name="releaser")
        self.key, self.key_id = made["key"], made["id"]
        self.read_key = server.create_key(f"acme/{slug}", "read")["key"]
        host = f"{server.host}:{server.port}"
        url = f"http://git:{self.key}@{host}/git/acme/{slug}.git"
        out = run_git(tmp, "clone", "-q", url, slug)
        assert out.returncode == 0, out.stderr
        self.repo = GitRepoBuilder(tmp / slug)
        self.repo.write("dakora.yaml", CONFIG)
        self.repo.write("parts/tone/polite.md", "Be polite.\n")
        inc = '{% include "tone/polite" %}\n'
        self.repo.write("prompts/greeting.yaml", _prompt("greeting", "1.0.0", inc))
        self.repo.write("prompts/faq.yaml", _prompt("faq", "1.0.0", inc + "FAQ\n"))
        self.repo.write("prompts/note.yaml", _prompt("note", "1.0.0", "A note.\n"))
        self.repo.commit("start")
        for target in ("main", "production"):
            out = run_git(self.repo.path, "push", "-q", "origin", f"HEAD:{target}")
            assert out.returncode == 0, out.stderr

    def p(self, path: str) -> str:
        return f"/api/projects/{self.pid}{path}"

    def api(self, key: str | None = None, **headers: str) -> Any:
        return self.server.client(key or self.key, headers=headers)

    def put_prompt(self, pid: str, version: str, template: str, **extra: Any) -> str:
        with self.api() as api:
            r = api.put(
                self.p(f"/prompts/{pid}"),
                json={"version": version, "template": template, "inputs": {}, **extra},
            )
        assert r.status_code == 200, r.text
        commit: str = r.json()["commit"]
        return commit

    def versions(self, ref: str) -> dict[str, str]:
        with self.api(self.read_key) as api:
            r = api.get(self.p("/prompts"), params={"ref": ref})
        assert r.status_code == 200, r.text
        return {p["id"]: p["version"] for p in r.json()["prompts"]}

    def tip(self, ref: str) -> str:
        with self.api(self.read_key) as api:
            refs = api.get(self.p("/refs")).json()["refs"]
        return next(r["commit"] for r in refs if r["name"] == ref)

    def promote(self, *ids: str, **extra: Any) -> Any:
        body = {"prompts": list(ids), "from": "main", "to": "production", **extra}
        with self.api() as api:
            return api.post(self.p("/promote"), json=body)

    def history(self, ref: str, **params: Any) -> Any:
        with self.api(self.read_key) as api:
            return api.get(self.p(f"/refs/{ref}/history"), params=params)


@pytest.fixture(scope="module")
def setup(live_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Setup:
    return Setup(live_server, tmp_path_factory.mktemp("promote"), "promo")


def test_promote_moves_exactly_the_named_prompt(setup: Setup, tmp_path: Path) -> None:
    setup.put_prompt("note", "1.1.0", "A better note.\n")
    setup.put_prompt("faq", "1.1.0", '{% include "tone/polite" %}\nFAQ v2\n')
    before = setup.tip("production")

    r = setup.promote("note")
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["changed"] is True and out["parent"] == before
    assert out["from"] == "main" and out["to"] == "production"
    assert out["prompts"] == [
        {
            "id": "note",
            "version": "1.1.0",
            "previous_version": "1.0.0",
            "path": "prompts/note.yaml",
            "changed": True,
        }
    ]
    assert out["parts"] == []
    assert setup.versions("production") == {
        "greeting": "1.0.0",
        "faq": "1.0.0",  # changed on main, not named: stays
        "note": "1.1.0",
    }
    # one commit, child of the old tip (a fast-forward of the protected ref); its
    # message names what moved
    clone = tmp_path / "c"
    assert run_git(tmp_path, "clone", "-q", _url(setup), "c").returncode == 0
    log = run_git(clone, "log", "--format=%P%n%B", "-1", "origin/production").stdout
    assert log.splitlines()[0] == before
    assert "Promote note 1.1.0 from main to production" in log
    assert "prompt note: 1.0.0 -> 1.1.0" in log

    # again: nothing to do, no commit
    r = setup.promote("note")
    assert r.status_code == 200, r.text
    assert r.json()["changed"] is False
    assert setup.tip("production") == out["commit"]


def test_shared_part_is_refused_then_allowed(setup: Setup) -> None:
    setup.put_prompt("greeting", "1.1.0", '{% include "tone/polite" %}\nHi!\n')
    with setup.api() as api:
        r = api.put(
            setup.p("/parts/tone/polite"), json={"content": "Be very polite.\n"}
        )
        assert r.status_code == 200, r.text
    before = setup.tip("production")

    r = setup.promote("greeting")
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_prompt"
    [finding] = [f for f in error["findings"] if f["rule"] == "shared-part-changed"]
    assert finding["path"] == "parts/tone/polite.md"
    assert "'faq'" in finding["message"] and finding["severity"] == "error"
    assert setup.tip("production") == before  # nothing moved

    r = setup.promote("greeting", allow_shared_parts=True)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["parts"] == [
        {
            "name": "tone/polite",
            "path": "parts/tone/polite.md",
            "status": "changed",
            "included_by": ["greeting"],
            "shared_with": ["faq"],
        }
    ]
    assert [f["severity"] for f in out["findings"]] == ["warning"]
    assert setup.versions("production")["greeting"] == "1.1.0"
    assert setup.versions("production")["faq"] == "1.0.0"


def test_version_conflict_on_the_target_is_refused(setup: Setup) -> None:
    # a hotfix straight on production: 1.5.0 there, main still has 1.1.0
    with setup.api() as api:
        r = api.put(
            setup.p("/prompts/note"),
            json={
                "version": "1.5.0",
                "template": "Hotfix.\n",
                "inputs": {},
                "branch": "production",
            },
        )
        assert r.status_code == 200, r.text
    r = setup.promote("note")
    assert r.status_code == 422, r.text
    rules = {f["rule"] for f in r.json()["error"]["findings"]}
    assert "version-not-bumped" in rules
    assert setup.versions("production")["note"] == "1.5.0"


def test_bad_promotions_are_clear_errors(setup: Setup) -> None:
    with setup.api() as api:
        body = {"prompts": ["note"], "from": "main", "to": "nowhere"}
        r = api.post(setup.p("/promote"), json=body)
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "ref_not_found"
        assert "does not exist" in r.json()["error"]["message"]
        body = {"prompts": ["ghost"], "from": "main", "to": "production"}
        r = api.post(setup.p("/promote"), json=body)
        assert r.status_code == 404 and "ghost" in r.text
        body = {"prompts": ["note"], "from": "nope", "to": "production"}
        r = api.post(setup.p("/promote"), json=body)
        assert r.status_code == 404 and "nope" in r.text
        body = {"prompts": ["Not An Id"], "from": "main", "to": "production"}
        r = api.post(setup.p("/promote"), json=body)
        assert r.status_code == 400 and "invalid prompt id" in r.text
        r = api.post(setup.p("/promote"), json={"prompts": [], "to": "production"})
        assert r.status_code == 422, r.text
    with setup.api(setup.read_key) as reader:
        body = {"prompts": ["note"], "from": "main", "to": "production"}
        assert reader.post(setup.p("/promote"), json=body).status_code == 403


def test_ref_history_says_who_when_what_and_how(setup: Setup) -> None:
    with setup.api(**{"X-Dakora-Source": "studio"}) as studio:
        r = studio.put(
            setup.p("/prompts/faq"),
            json={
                "version": "1.0.1",
                "template": '{% include "tone/polite" %}\nFAQ!\n',
                "inputs": {},
                "branch": "production",
            },
        )
        assert r.status_code == 200, r.text
    with setup.api(**{"X-Dakora-Source": "cron"}) as bad:
        r = bad.put(setup.p("/prompts/faq"), json={"version": "9.0.0"})
        assert r.status_code == 400 and "X-Dakora-Source" in r.text

    r = setup.history("production")
    assert r.status_code == 200, r.text
    moves = r.json()["moves"]
    sources = [(m["source"], m["result"]) for m in moves]
    # newest first: studio write, refused promote (version), hotfix (api),
    # promote with shared parts, refused promote (shared part), promote, git push
    assert sources == [
        ("studio", "accepted"),
        ("promote", "rejected"),
        ("api", "accepted"),
        ("promote", "accepted"),
        ("promote", "rejected"),
        ("promote", "accepted"),
        ("git", "accepted"),
    ]
    newest, refused, created = moves[0], moves[1], moves[-1]
    assert newest["who"]["name"] == "key:releaser"
    assert newest["who"]["key"]["id"] == setup.key_id
    assert newest["old"] == moves[2]["new"] and newest["ref"] == "refs/heads/production"
    assert newest["time"].endswith("Z") or newest["time"].endswith("+00:00")
    assert created["old"] is None
    assert any("version-not-bumped" in m for m in refused["messages"])

    first = setup.history("production", limit=3)
    page = first.json()
    assert [m["id"] for m in page["moves"]] == [m["id"] for m in moves[:3]]
    rest = setup.history("production", limit=50, cursor=page["next_cursor"]).json()
    assert [m["id"] for m in rest["moves"]] == [m["id"] for m in moves[3:]]
    only = setup.history("production", source="promote", result="rejected").json()
    assert len(only["moves"]) == 2

    missing = setup.history("no-such-branch")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ref_not_found"
    assert setup.history("production", source="cron").status_code == 422


def _url(setup: Setup) -> str:
    host = f"{setup.server.host}:{setup.server.port}"
    return f"http://git:{setup.read_key}@{host}/git/acme/promo.git"
