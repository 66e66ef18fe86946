"""``GET /api/projects/{project}/pushes``: git pushes and API writes in one audit log."""

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


def test_pushes_log_lists_git_pushes_and_api_writes(
    live_server: Any, tmp_path: Path
) -> None:
    project = live_server.create_project("acme", "audit")
    pid = project["id"]
    write = live_server.create_key("acme/audit", "write", name="pusher")
    read_key = live_server.create_key("acme/audit", "read")["key"]
    host = f"{live_server.host}:{live_server.port}"
    url = f"http://git:{write['key']}@{host}/git/acme/audit.git"

    # 1. a git push (accepted)
    out = run_git(tmp_path, "clone", "-q", url, "w")
    assert out.returncode == 0, out.stderr
    repo = GitRepoBuilder(tmp_path / "w")
    repo.write("prompts/greeting.yaml", make_prompt_yaml(id="greeting"))
    pushed = repo.commit("add greeting")
    out = run_git(repo.path, "push", "origin", "HEAD:refs/heads/main")
    assert out.returncode == 0, out.stderr
    # 2. a git push (rejected by the checks)
    repo.write(
        "prompts/greeting.yaml",
        make_prompt_yaml(id="greeting", version="1.1.0", template="Hi {{ nmae }}\n"),
    )
    refused = repo.commit("typo")
    out = run_git(repo.path, "push", "origin", "HEAD:refs/heads/main")
    assert out.returncode != 0
    # 3. an API write (accepted) and 4. an API write (rejected) on a branch
    with live_server.client(write["key"]) as api:
        r = api.put(
            f"/api/projects/{pid}/prompts/greeting",
            json={
                "id": "greeting",
                "version": "1.2.0",
                "template": "Hey {{ name }}\n",
                "inputs": {"name": {"type": "string"}},
            },
        )
        assert r.status_code == 200, r.text
        written = r.json()["commit"]
        r = api.post(
            f"/api/projects/{pid}/prompts",
            json={"id": "other", "version": "1.0.0", "template": "{{ x }}"},
            params={},
        )
        assert r.status_code == 422, r.text
        r = api.post(
            f"/api/projects/{pid}/parts",
            json={"category": "c", "name": "n", "content": "x", "branch": "feature"},
        )
        assert r.status_code == 201, r.text

    with live_server.client(read_key) as reader:
        r = reader.get(f"/api/projects/{pid}/pushes")
        assert r.status_code == 200, r.text
        page = r.json()
        events = page["pushes"]
        assert page["next_cursor"] is None
        assert [e["result"] for e in events] == [
            "ok",
            "rejected",
            "ok",
            "rejected",
            "ok",
        ]
        assert [e["ref"] for e in events] == [
            "refs/heads/feature",
            "refs/heads/main",
            "refs/heads/main",
            "refs/heads/main",
            "refs/heads/main",
        ]
        ids = [e["id"] for e in events]
        assert ids == sorted(ids, reverse=True)
        api_ok, git_bad, git_ok = events[2], events[3], events[4]
        assert api_ok["new"] == written and api_ok["old"] == pushed
        assert git_ok["new"] == pushed and git_ok["old"] is None
        assert git_bad["new"] == refused
        assert any("nmae" in m for m in git_bad["messages"])
        assert any("undeclared" in m or "'x'" in m for m in events[1]["messages"])
        for event in events:
            assert event["key"] == {"id": write["id"], "name": "pusher"}
            assert event["created_at"].endswith(("Z", "+00:00"))

        # filters
        rejected = reader.get(
            f"/api/projects/{pid}/pushes", params={"result": "rejected"}
        ).json()["pushes"]
        assert [e["id"] for e in rejected] == [events[1]["id"], events[3]["id"]]
        main = reader.get(f"/api/projects/{pid}/pushes", params={"ref": "main"})
        assert len(main.json()["pushes"]) == 4
        full = reader.get(
            f"/api/projects/{pid}/pushes", params={"ref": "refs/heads/feature"}
        )
        assert [e["id"] for e in full.json()["pushes"]] == [events[0]["id"]]

        # paging
        seen: list[int] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2}
            if cursor:
                params["cursor"] = cursor
            body = reader.get(f"/api/projects/{pid}/pushes", params=params).json()
            seen += [e["id"] for e in body["pushes"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert seen == ids
        bad = reader.get(f"/api/projects/{pid}/pushes", params={"cursor": "x"})
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "bad_request"
