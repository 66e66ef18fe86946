"""``dakora db`` and ``dakora admin`` through the installed executable: a fresh data
folder, a real git repository built with the git CLI imported into a project, keys
created, listed and revoked, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from dulwich.repo import Repo

from tests.fixtures.gitrepos import GitRepoBuilder, make_prompt_yaml

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DAKORA = ROOT / ".venv" / "bin" / "dakora"


class Cli:
    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.env = {**os.environ, **(env or {})}

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(DAKORA), *args, "--data-dir", str(self.data_dir)],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            check=False,
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        if ok:
            assert proc.returncode == 0, proc.stderr
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)


@pytest.fixture
def source_repo(git_repo: GitRepoBuilder) -> GitRepoBuilder:
    git_repo.write("parts/style/polite.md", "Please be polite.\n")
    git_repo.write(
        "prompts/greet.yaml",
        make_prompt_yaml(
            id="greet",
            description="Greet someone",
            template='{% include "style/polite" %}\nHello {{ name }}!\n',
        ),
    )
    git_repo.commit("greet 1.0.0")
    git_repo.tag("v1.0.0", message="release")
    git_repo.write(
        "prompts/greet.yaml",
        make_prompt_yaml(id="greet", version="1.1.0", template="Hi {{ name }}!\n"),
    )
    git_repo.commit("greet 1.1.0")
    git_repo.switch("staging", create=True)
    git_repo.write("prompts/bye.yaml", make_prompt_yaml(id="bye", version="0.1.0"))
    git_repo.commit("bye")
    git_repo.switch("main")
    return git_repo


def test_admin_flow_on_sqlite(tmp_path: Path, source_repo: GitRepoBuilder) -> None:
    cli = Cli(tmp_path / "data")
    first = cli.json("db", "upgrade")
    assert first["changed"] and first["to"]
    assert cli.json("db", "upgrade")["changed"] is False

    ws = cli.json("admin", "create-workspace", "acme", "--owner-email", "a@x.io")
    assert ws["slug"] == "acme" and ws["owner"]["email"] == "a@x.io"

    project = cli.json(
        "admin", "create-project", "acme/web", "--from", str(source_repo.path)
    )
    assert project["full_name"] == "acme/web"
    assert project["default_branch"] == "main"
    assert set(project["import"]["refs"]) == {
        "refs/heads/main",
        "refs/heads/staging",
        "refs/tags/v1.0.0",
    }
    assert project["import"]["versions"] == 3
    bare = Repo(project["repo_path"])
    try:
        assert bare.refs[b"refs/heads/main"].decode() == source_repo.head("main")
        assert bare.refs[b"refs/heads/staging"].decode() == source_repo.head("staging")
    finally:
        bare.close()
    listed = cli.json("admin", "list-projects")["projects"]
    assert [p["id"] for p in listed] == [project["id"]]
    member = cli.json("admin", "add-member", "acme", "bob@x.io", "--role", "viewer")
    assert member["role"] == "viewer" and member["user"]["email"] == "bob@x.io"
    usage = cli.json("admin", "quota", "acme", "--tier", "pro")
    assert (usage["tier"], usage["tokens_used"], usage["tokens_limit"]) == (
        "pro",
        0,
        50_000_000,
    )

    read_key = cli.json("admin", "create-key", "acme/web", "--name", "app")
    assert read_key["key"].startswith("dk_") and read_key["scope"] == "read"
    write_key = cli.json(
        "admin",
        "create-key",
        project["id"],
        "--scope",
        "write",
        "--expires-days",
        "7",
    )
    assert write_key["scopes"] == ["read", "write"]
    assert write_key["expires_at"] is not None

    # human output: the key on stdout, alone; the reminder on stderr
    plain = cli.run("admin", "create-key", "acme/web")
    assert plain.stdout.strip().startswith("dk_")
    assert len(plain.stdout.strip().splitlines()) == 1
    assert "not shown again" in plain.stderr

    keys = cli.json("admin", "list-keys", "acme/web")["keys"]
    assert len(keys) == 3
    assert all("key" not in k for k in keys)
    assert all(k["status"] == "active" for k in keys)
    listing = json.dumps(keys)
    assert read_key["key"] not in listing and write_key["key"] not in listing

    revoked = cli.json("admin", "revoke-key", "acme/web", read_key["prefix"])
    assert revoked["id"] == read_key["id"] and revoked["status"] == "revoked"
    revoked = cli.json("admin", "revoke-key", "acme/web", write_key["id"])
    assert revoked["status"] == "revoked"
    again = cli.run("admin", "revoke-key", "acme/web", write_key["id"])
    assert "was already revoked at" in again.stdout, again.stdout
    statuses = {
        k["id"]: k["status"] for k in cli.json("admin", "list-keys", "acme/web")["keys"]
    }
    assert statuses[read_key["id"]] == statuses[write_key["id"]] == "revoked"


def test_workspace_kinds(tmp_path: Path) -> None:
    """create-workspace makes team workspaces unless --personal; list-projects shows
    each project's workspace kind."""
    cli = Cli(tmp_path / "data")
    team = cli.json("admin", "create-workspace", "acme")
    assert team["kind"] == "team" and team["owner"] is None
    own = cli.json(
        "admin", "create-workspace", "ada", "--personal", "--owner-email", "ada@x.io"
    )
    assert own["kind"] == "personal" and own["owner"]["email"] == "ada@x.io"
    said = cli.run("admin", "create-workspace", "beta")
    assert said.stdout.startswith("created team workspace beta")
    refused = cli.run("admin", "create-workspace", "solo", "--personal", ok=False)
    assert refused.returncode == 2 and "--owner-email" in refused.stderr
    cli.run("admin", "create-project", "acme/web")
    cli.run("admin", "create-project", "ada/default")
    listed = cli.json("admin", "list-projects")["projects"]
    assert {(p["full_name"], p["workspace_kind"]) for p in listed} == {
        ("acme/web", "team"),
        ("ada/default", "personal"),
    }
    table = cli.run("admin", "list-projects").stdout
    assert "workspace kind" in table and "personal" in table
    assert "solo" not in {p["workspace"] for p in listed}


def test_user_mistakes_are_clean_errors(
    tmp_path: Path, source_repo: GitRepoBuilder
) -> None:
    cli = Cli(tmp_path / "data")
    cli.run("admin", "create-workspace", "acme")

    dup = cli.run("admin", "create-workspace", "acme", "--json", ok=False)
    assert dup.returncode == 1
    assert json.loads(dup.stderr)["error"]["code"] == "already_exists"

    bad = cli.run("admin", "create-workspace", "Not A Slug", ok=False)
    assert bad.returncode == 2 and "invalid workspace slug" in bad.stderr

    # an email without '@' was accepted and a user created for it
    for args in (
        ["add-member", "acme", "bob"],
        ["create-workspace", "beta", "--owner-email", "ada at example.com"],
    ):
        email = cli.run("admin", *args, ok=False)
        assert email.returncode == 2 and "not an email address" in email.stderr

    missing = cli.run("admin", "create-key", "acme/nope", "--json", ok=False)
    assert json.loads(missing.stderr)["error"]["code"] == "project_not_found"

    scope = cli.run("admin", "create-key", "acme/nope", "--scope", "admin", ok=False)
    assert scope.returncode == 2 and "--scope" in scope.stderr

    # an import with a broken prompt is refused and leaves no project behind
    source_repo.write("prompts/broken.yaml", "id: broken\nversion: 1.0\ntemplate: x\n")
    source_repo.commit("broken")
    refused = cli.run(
        "admin", "create-project", "acme/web", "--from", str(source_repo.path),
        ok=False,
    )  # fmt: skip
    assert refused.returncode == 1
    assert "prompts/broken.yaml" in refused.stderr
    assert cli.json("admin", "list-projects")["projects"] == []
    assert not (tmp_path / "data" / "repos" / "acme" / "web.git").exists()

    # a project without content; keys up to the limit (lowered here to keep it quick)
    cli.run("admin", "create-project", "acme/web")
    cli.env["DAKORA_MAX_KEYS_PER_PROJECT"] = "2"
    for _ in range(2):
        cli.run("admin", "create-key", "acme/web")
    over = cli.run("admin", "create-key", "acme/web", "--json", ok=False)
    body = json.loads(over.stderr)["error"]
    assert body["code"] == "limit_exceeded" and "2 active API keys" in body["message"]

    tier = cli.run("admin", "quota", "acme", "--tier", "gold", ok=False)
    assert tier.returncode == 2 and "unknown quota tier" in tier.stderr

    unknown = cli.run("admin", "revoke-key", "acme/web", "dk_nothing", ok=False)
    assert unknown.returncode == 1 and "no API key" in unknown.stderr


@pytest.mark.integration
def test_postgresql_is_migrated_only_on_purpose(
    tmp_path: Path, pg_database: str
) -> None:
    cli = Cli(tmp_path / "data", env={"DAKORA_DATABASE_URL": pg_database})
    refused = cli.run("admin", "create-workspace", "acme", ok=False)
    assert refused.returncode == 1 and "dakora db upgrade" in refused.stderr
    up = cli.json("db", "upgrade")
    assert up["from"] is None and up["to"] and up["changed"]
    cli.run("admin", "create-workspace", "acme")
    cli.run("admin", "create-project", "acme/web")
    key = cli.json("admin", "create-key", "acme/web", "--scope", "write")
    assert key["key"].startswith("dk_") and key["project"] == "acme/web"
    down = cli.json("db", "downgrade", "base")
    assert down["from"] == up["to"] and down["to"] is None


@pytest.mark.parametrize(
    "command",
    [
        ["admin", "list-projects"],
        ["admin", "list-keys", "acme/p"],
        ["mirror", "status"],
    ],
)
def test_a_mistyped_data_dir_is_reported_not_created(
    tmp_path: Path, command: list[str]
) -> None:
    missing = tmp_path / "no-such-dir"
    proc = Cli(missing).run(*command, ok=False)
    assert proc.returncode == 1, proc.stderr
    assert "no Dakora database at" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not missing.exists()


def test_create_workspace_that_exists_creates_no_owner(tmp_path: Path) -> None:
    """Nothing half-written: the refused command leaves no new user behind."""
    from sqlalchemy import create_engine, text

    cli = Cli(tmp_path / "data")
    cli.run("admin", "create-workspace", "acme")
    refused = cli.run(
        "admin", "create-workspace", "acme", "--owner-email", "new@x.io", ok=False
    )
    assert refused.returncode == 1 and "already exists" in refused.stderr
    engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'dakora.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM users")).scalar() == 0
    engine.dispose()
