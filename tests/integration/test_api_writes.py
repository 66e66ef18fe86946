"""API writes as commits, through a real ``dakora serve`` (SQLite and PostgreSQL).

Every write is checked with the real ``git`` CLI afterwards: a clone shows the commit
authored by the caller, a refused write leaves the bare repository's refs and objects
exactly as they were.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.git_server_support import (
    bare_objects,
    bare_refs,
    quarantine_dirs,
    run_git,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("live_server", ["sqlite", "postgresql"], indirect=True),
]

GREETING = {
    "id": "greeting",
    "version": "1.0.0",
    "description": "Say hello",
    "template": "Hello {{ name }}!\nHave a nice day.\n",
    "inputs": {"name": {"type": "string", "required": True}},
}


class Project:
    def __init__(self, server: Any, slug: str) -> None:
        self.server = server
        self.slug = slug
        self.info = server.create_project("acme", slug)
        self.id = self.info["id"]
        self.path = Path(self.info["repo_path"])
        made = server.create_key(f"acme/{slug}", "write", name="writer")
        self.write_key, self.write_key_id = made["key"], made["id"]
        self.read_key = server.create_key(f"acme/{slug}", "read")["key"]

    def api(self, key: str | None = None) -> httpx.Client:
        return self.server.client(self.write_key if key is None else key)

    def p(self, path: str) -> str:
        return f"/api/projects/{self.id}{path}"

    def git_url(self) -> str:
        host = f"{self.server.host}:{self.server.port}"
        return f"http://git:{self.read_key}@{host}/git/acme/{self.slug}.git"

    def clone(self, dest: Path) -> Path:
        out = run_git(dest.parent, "clone", "-q", self.git_url(), dest.name)
        assert out.returncode == 0, out.stderr
        return dest

    def snapshot(self) -> tuple[dict[str, str], set[str]]:
        return bare_refs(self.path), bare_objects(self.path)


@pytest.fixture(scope="module")
def proj(live_server: Any) -> Project:
    return Project(live_server, "writes")


def _create(proj: Project, body: dict[str, Any]) -> dict[str, Any]:
    with proj.api() as api:
        r = api.post(proj.p("/prompts"), json=body)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def _git(repo: Path, *args: str) -> str:
    out = run_git(repo, *args)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _hash_object(text: str) -> str:
    out = subprocess.run(
        ["git", "hash-object", "--stdin"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_create_then_fetch_and_clone_shows_the_callers_commit(
    proj: Project, tmp_path: Path
) -> None:
    created = _create(proj, {**GREETING, "message": "first prompt"})
    assert created["id"] == "greeting"
    assert created["version"] == "1.0.0"
    assert created["path"] == "prompts/greeting.yaml"
    assert created["branch"] == "main"
    assert created["changed"] is True
    with proj.api(proj.read_key) as api:
        r = api.get(proj.p("/prompts/greeting"))
    assert r.status_code == 200, r.text
    assert r.json()["version"] == "1.0.0"
    assert r.json()["commit"] == created["commit"]
    repo = proj.clone(tmp_path / "clone")
    assert _git(repo, "rev-parse", "HEAD").strip() == created["commit"]
    who = _git(repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%s").strip()
    ident = f"key:writer <{proj.write_key_id}@dakora>"
    assert who == f"{ident}|{ident}|first prompt"
    text = (repo / "prompts/greeting.yaml").read_text()
    assert text.startswith('id: greeting\nversion: "1.0.0"\ndescription: Say hello\n')
    assert "template: |\n  Hello {{ name }}!\n  Have a nice day.\n" in text
    # the same file text when sent as yaml is "no change"
    with proj.api() as api:
        r = api.put(proj.p("/prompts/greeting"), json={"yaml": text})
    assert r.status_code == 200, r.text
    assert r.json()["changed"] is False
    assert r.json()["commit"] == created["commit"]


def test_update_with_bump_is_served_and_without_bump_is_refused(
    proj: Project,
) -> None:
    _create(proj, {**GREETING, "id": "upd"})
    with proj.api(proj.read_key) as reader:
        assert reader.get(proj.p("/prompts/upd")).json()["version"] == "1.0.0"
    body = {**GREETING, "id": "upd", "version": "1.3.0", "template": "Hi {{ name }}\n"}
    with proj.api() as api:
        r = api.put(proj.p("/prompts/upd"), json=body)
        assert r.status_code == 200, r.text
        updated = r.json()
        assert updated["version"] == "1.3.0"
        # cache warmed above: the next request sees the new version
        with proj.api(proj.read_key) as reader:
            got = reader.get(proj.p("/prompts/upd")).json()
        assert got["version"] == "1.3.0"
        assert got["template"] == "Hi {{ name }}\n"
        # both versions are in the index (fetch by version, list versions)
        old = api.get(proj.p("/prompts/upd"), params={"version": "1.0.0"})
        assert old.status_code == 200, old.text
        assert old.json()["template"] == GREETING["template"]
        versions = api.get(proj.p("/prompts/upd/versions")).text
        assert "1.0.0" in versions and "1.3.0" in versions
        before = proj.snapshot()
        r = api.put(
            proj.p("/prompts/upd"), json={**body, "template": "Yo {{ name }}\n"}
        )
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_prompt"
    assert "version-not-bumped" in {f["rule"] for f in err["findings"]}
    assert proj.snapshot() == before
    repo_log = run_git(
        proj.path, "--git-dir", str(proj.path), "log", "-1", "--format=%s"
    )
    assert repo_log.stdout.strip() == "Update prompt upd to 1.3.0"


def test_bad_template_is_refused_with_file_line_and_nothing_is_written(
    proj: Project,
) -> None:
    body = {
        **GREETING,
        "id": "bad",
        "template": "Hello {{ name }}\nand {{ nmae }}\n",
    }
    from dakora.hooks.commit_writer import prompt_yaml

    text = prompt_yaml({k: v for k, v in body.items()})
    blob = _hash_object(text)
    before = proj.snapshot()
    with proj.api() as api:
        r = api.post(proj.p("/prompts"), json=body)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_prompt"
    found = [f for f in err["findings"] if f["rule"] == "undeclared-variable"]
    assert found, err
    assert found[0]["path"] == "prompts/bad.yaml"
    assert isinstance(found[0]["line"], int) and found[0]["line"] > 1
    assert "nmae" in found[0]["message"]
    assert proj.snapshot() == before
    assert blob not in before[1]
    assert not (proj.path / "objects" / blob[:2] / blob[2:]).exists()
    assert quarantine_dirs(proj.path) == []
    with proj.api(proj.read_key) as reader:
        assert reader.get(proj.p("/prompts/bad")).status_code == 404


def test_yaml_body_and_bad_yaml(proj: Project) -> None:
    text = "id: raw\nversion: '0.1.0'\ntemplate: |\n  plain text\n"
    created = _create(proj, {"yaml": text})
    assert created["id"] == "raw" and created["version"] == "0.1.0"
    with proj.api() as api:
        r = api.post(proj.p("/prompts"), json={"yaml": "id: [unclosed\n"})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["findings"][0]["line"] == 2
        r = api.post(proj.p("/prompts"), json={"yaml": text})
        assert r.status_code == 409, r.text
        assert r.json()["error"]["code"] == "already_exists"
        r = api.post(proj.p("/prompts"), json={**GREETING, "id": "../evil"})
        assert r.status_code == 400, r.text
        r = api.post(proj.p("/prompts"), json={**GREETING, "id": "typo", "inptus": {}})
        assert r.status_code == 422, r.text
        assert "inptus" in r.json()["error"]["message"]


def test_if_match(proj: Project) -> None:
    first = _create(proj, {**GREETING, "id": "pinned"})
    with proj.api(proj.read_key) as reader:
        etag = reader.get(proj.p("/prompts/pinned")).headers["etag"]
    v2 = {**GREETING, "id": "pinned", "version": "2.0.0"}
    with proj.api() as api:
        r = api.put(proj.p("/prompts/pinned"), json=v2, headers={"If-Match": "0.9.0"})
        assert r.status_code == 412, r.text
        assert r.json()["error"]["code"] == "precondition_failed"
        r = api.put(proj.p("/prompts/pinned"), json=v2, headers={"If-Match": "1.0.0"})
        assert r.status_code == 200, r.text
        v3 = {**v2, "version": "3.0.0", "template": "v3 {{ name }}\n"}
        # the ETag and the commit of version 1.0.0 are stale now
        for stale in (etag, first["commit"], first["commit"][:10]):
            r = api.put(proj.p("/prompts/pinned"), json=v3, headers={"If-Match": stale})
            assert r.status_code == 412, (stale, r.text)
        r = api.put(
            proj.p("/prompts/pinned"),
            json=v3,
            headers={"If-Match": f'"{r.json()["error"]["details"]["current_blob"]}"'},
        )
        assert r.status_code == 200, r.text
        head = r.json()["commit"]
        v4 = {**v3, "version": "4.0.0", "template": "v4 {{ name }}\n"}
        r = api.put(proj.p("/prompts/pinned"), json=v4, headers={"If-Match": head})
        assert r.status_code == 200, r.text
        r = api.delete(proj.p("/prompts/pinned"), headers={"If-Match": "3.0.0"})
        assert r.status_code == 412, r.text


def test_auth_and_tenancy(proj: Project, live_server: Any) -> None:
    other = Project(live_server, "writes-other")
    before = proj.snapshot()
    body = {**GREETING, "id": "nope"}
    with proj.api(proj.read_key) as api:
        r = api.post(proj.p("/prompts"), json=body)
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "forbidden"
    with proj.api(other.write_key) as api:
        r = api.post(proj.p("/prompts"), json=body)
        assert r.status_code == 404, r.text  # another project's key: not even seen
        r = api.get(proj.p("/pushes"))
        assert r.status_code == 404, r.text
    with live_server.client() as anon:
        r = anon.post(proj.p("/prompts"), json=body)
    assert r.status_code == 401, r.text
    with proj.api(proj.read_key) as api:
        assert api.delete(proj.p("/parts/x/y")).status_code == 403
        assert api.get(proj.p("/pushes")).status_code == 200
    assert proj.snapshot() == before


def test_delete_prompt(proj: Project, tmp_path: Path) -> None:
    _create(proj, {**GREETING, "id": "doomed"})
    with proj.api() as api:
        r = api.delete(proj.p("/prompts/doomed"))
        assert r.status_code == 200, r.text
        assert r.json()["deleted"] is True
        assert r.json()["path"] == "prompts/doomed.yaml"
        assert api.get(proj.p("/prompts/doomed")).status_code == 404
        r = api.delete(proj.p("/prompts/doomed"))
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "prompt_not_found"
    repo = proj.clone(tmp_path / "c")
    assert not (repo / "prompts/doomed.yaml").exists()
    assert _git(repo, "log", "-1", "--format=%s").strip() == "Delete prompt doomed"


def test_parts_crud_and_used_part_cannot_be_deleted(proj: Project) -> None:
    with proj.api() as api:
        r = api.post(
            proj.p("/parts"),
            json={"category": "tone", "name": "polite", "content": "Be polite.\n"},
        )
        assert r.status_code == 201, r.text
        assert r.json()["path"] == "parts/tone/polite.md"
        r = api.post(
            proj.p("/parts"),
            json={"category": "tone", "name": "polite", "content": "again"},
        )
        assert r.status_code == 409, r.text
        r = api.post(
            proj.p("/parts"),
            json={"category": "../x", "name": "polite", "content": "x"},
        )
        assert r.status_code == 400, r.text
        _create(
            proj,
            {
                **GREETING,
                "id": "uses-part",
                "template": '{% include "tone/polite" %}\nHi {{ name }}\n',
            },
        )
        r = api.put(proj.p("/parts/tone/polite"), json={"content": "Be very polite.\n"})
        assert r.status_code == 200, r.text
        got = api.get(proj.p("/parts/tone/polite")).json()
        assert got["source"] == "Be very polite.\n"
        r = api.post(
            proj.p("/prompts/uses-part/render"), json={"inputs": {"name": "Ada"}}
        )
        assert r.status_code == 200, r.text
        assert "Be very polite." in r.text
        before = proj.snapshot()
        r = api.delete(proj.p("/parts/tone/polite"))
        assert r.status_code == 422, r.text
        rules = {f["rule"] for f in r.json()["error"]["findings"]}
        assert "missing-include" in rules
        assert proj.snapshot() == before
        assert api.delete(proj.p("/prompts/uses-part")).status_code == 200
        r = api.delete(proj.p("/parts/tone/polite"))
        assert r.status_code == 200, r.text
        assert api.get(proj.p("/parts/tone/polite")).status_code == 404
        assert api.put(
            proj.p("/parts/tone/polite"), json={"content": "x"}
        ).status_code == (404)


def test_concurrent_writes_one_winner(proj: Project) -> None:
    _create(proj, {**GREETING, "id": "race"})
    n = 6
    statuses: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(n)

    def write(i: int) -> None:
        body = {
            **GREETING,
            "id": "race",
            "version": f"2.0.{i}",
            "template": f"Hello {{{{ name }}}} #{i}\n",
        }
        with proj.api() as api:
            barrier.wait()
            r = api.put(
                proj.p("/prompts/race"), json=body, headers={"If-Match": "1.0.0"}
            )
        with lock:
            statuses.append(r.status_code)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [412] * (n - 1), statuses

    # without If-Match: creates of different prompts race for the same head; the
    # losers of the compare-and-swap get 409 and nothing of theirs lands
    created: list[tuple[str, int]] = []
    barrier2 = threading.Barrier(n)

    def create(i: int) -> None:
        with proj.api() as api:
            barrier2.wait()
            r = api.post(proj.p("/prompts"), json={**GREETING, "id": f"racer-{i}"})
        with lock:
            created.append((f"racer-{i}", r.status_code))

    threads = [threading.Thread(target=create, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = [c for _, c in created]
    assert set(codes) <= {201, 409}, created
    assert 201 in codes
    winners = {pid for pid, c in created if c == 201}
    tree = run_git(
        proj.path, "--git-dir", str(proj.path), "ls-tree", "--name-only", "main:prompts"
    ).stdout.split()
    landed = {name.removesuffix(".yaml") for name in tree if name.startswith("racer-")}
    assert landed == winners


def test_chat_prompt_on_a_branch_by_slug_and_delete_with_message(
    proj: Project, tmp_path: Path
) -> None:
    base = f"/api/projects/acme~{proj.slug}"
    chat = {
        "id": "chat",
        "version": "0.1.0",
        "messages": [
            {"role": "system", "content": "You are {{ persona }}.\nBe brief.\n"},
            {"role": "user", "content": "{{ question }}"},
        ],
        "inputs": {"persona": {"type": "string"}, "question": {"type": "string"}},
        "branch": "drafts",
    }
    _create(proj, {**GREETING, "id": "on-main"})
    with proj.api() as api:
        main_before = bare_refs(proj.path)["refs/heads/main"]
        r = api.post(f"{base}/prompts", json=chat)
        assert r.status_code == 201, r.text
        assert r.json()["branch"] == "drafts"
        assert r.json()["parent"] == main_before
        assert bare_refs(proj.path)["refs/heads/main"] == main_before
        assert api.get(f"{base}/prompts/chat").status_code == 404
        got = api.get(f"{base}/prompts/chat", params={"ref": "drafts"}).json()
        assert got["messages"][0]["content"] == "You are {{ persona }}.\nBe brief.\n"
        # PUT without an id (the URL's is used); the branch comes from the body
        body = {k: v for k, v in chat.items() if k not in ("id", "branch")}
        r = api.put(f"{base}/prompts/chat", json={**body, "version": "0.2.0"})
        assert r.status_code == 404, r.text  # not on main
        body["branch"] = "drafts"
        r = api.put(f"{base}/prompts/chat", json={**body, "version": "0.2.0"})
        assert r.status_code == 200, r.text
        r = api.put(
            f"{base}/prompts/chat", json={**body, "version": "0.3.0", "id": "other"}
        )
        assert r.status_code == 400, r.text
        r = api.delete(
            f"{base}/prompts/chat",
            params={"branch": "drafts", "message": "Retire the chat"},
        )
        assert r.status_code == 200, r.text
    repo = tmp_path / "c"
    out = run_git(tmp_path, "clone", "-q", "-b", "drafts", proj.git_url(), "c")
    assert out.returncode == 0, out.stderr
    subjects = _git(repo, "log", "-3", "--format=%s").splitlines()
    assert subjects == [
        "Retire the chat",
        "Update prompt chat to 0.2.0",
        "Add prompt chat 0.1.0",
    ]
    text = _git(repo, "show", "HEAD~1:prompts/chat.yaml")
    assert "  content: |\n    You are {{ persona }}.\n    Be brief.\n" in text
    assert text.startswith('id: chat\nversion: "0.2.0"\nmessages:\n')


def test_part_if_match_and_extension_rename(proj: Project, tmp_path: Path) -> None:
    with proj.api() as api:
        r = api.post(
            proj.p("/parts"),
            json={"category": "snip", "name": "sig", "ext": "txt", "content": "-- A\n"},
        )
        assert r.status_code == 201, r.text
        assert r.json()["path"] == "parts/snip/sig.txt"
        first = r.json()["commit"]
        etag = api.get(proj.p("/parts/snip/sig")).headers["etag"]
        r = api.put(
            proj.p("/parts/snip/sig"),
            json={"content": "-- B\n", "ext": "md"},
            headers={"If-Match": etag},
        )
        assert r.status_code == 200, r.text
        assert r.json()["path"] == "parts/snip/sig.md"
        for stale in (etag, first):
            r = api.put(
                proj.p("/parts/snip/sig"),
                json={"content": "-- C\n"},
                headers={"If-Match": stale},
            )
            assert r.status_code == 412, r.text
        r = api.put(proj.p("/parts/snip/sig"), json={"content": "x", "ext": "exe"})
        assert r.status_code == 400, r.text
    repo = proj.clone(tmp_path / "c")
    assert not (repo / "parts/snip/sig.txt").exists()
    assert (repo / "parts/snip/sig.md").read_text() == "-- B\n"
