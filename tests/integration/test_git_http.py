"""Git smart HTTP: clone/fetch/ls-remote/push through the real ``git`` CLI, and auth.

The server is a real uvicorn process running ``make_git_app`` (a2wsgi + dulwich + the
auth middleware); see ``git_server_support``.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.gitrepos import GitRepoBuilder, make_prompt_yaml
from tests.integration.git_server_support import (
    OTHER_KEY,
    READ_KEY,
    WRITE_KEY,
    GitServer,
    Project,
    bare_refs,
    run_git,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServer]:
    srv = GitServer(tmp_path_factory.mktemp("git-http"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def seeded(server: GitServer, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A project with two commits on main."""
    project = Project(server)
    repo = GitRepoBuilder(project.clone(tmp_path_factory.mktemp("seed") / "w"))
    repo.write("prompts/greeting.yaml", make_prompt_yaml(id="greeting"))
    repo.commit("first")
    repo.write(
        "prompts/greeting.yaml", make_prompt_yaml(id="greeting", version="1.1.0")
    )
    repo.commit("second")
    out = run_git(repo.path, "push", "origin", "HEAD:refs/heads/main")
    assert out.returncode == 0, out.stderr
    return project


def base_url(server: GitServer, project: Project) -> str:
    return f"http://127.0.0.1:{server.port}/{project.workspace}/{project.name}.git"


# -- reading ---------------------------------------------------------------------------


def test_clone_fetch_and_ls_remote_with_a_read_key(
    seeded: Project, tmp_path: Path
) -> None:
    main = bare_refs(seeded.path)["refs/heads/main"]
    ls = run_git(tmp_path, "ls-remote", seeded.url(READ_KEY))
    assert ls.returncode == 0, ls.stderr
    assert f"{main}\trefs/heads/main" in ls.stdout
    clone = run_git(tmp_path, "clone", "-q", seeded.url(READ_KEY), "c")
    assert clone.returncode == 0, clone.stderr
    assert run_git(tmp_path / "c", "rev-parse", "HEAD").stdout.strip() == main
    assert (tmp_path / "c" / "prompts" / "greeting.yaml").exists()
    fetch = run_git(tmp_path / "c", "fetch", "origin")
    assert fetch.returncode == 0, fetch.stderr


@pytest.mark.parametrize("protocol", ["0", "2"])
def test_clone_with_both_protocol_versions(
    protocol: str, seeded: Project, tmp_path: Path
) -> None:
    out = run_git(
        tmp_path,
        "-c",
        f"protocol.version={protocol}",
        "clone",
        "-q",
        seeded.url(READ_KEY),
        "c",
    )
    assert out.returncode == 0, out.stderr


def test_bearer_and_x_api_key_headers(server: GitServer, seeded: Project) -> None:
    url = base_url(server, seeded) + "/info/refs?service=git-upload-pack"
    for headers in (
        {"Authorization": f"Bearer {READ_KEY}"},
        {"X-API-Key": READ_KEY},
        {
            "Authorization": "Basic "
            + base64.b64encode(f"x:{READ_KEY}".encode()).decode()
        },
    ):
        response = httpx.get(url, headers=headers)
        assert response.status_code == 200, headers
        assert b"# service=git-upload-pack" in response.content


# -- auth failures ------------------------------------------------------------------------


def test_no_credentials_is_401_with_basic_challenge(
    server: GitServer, seeded: Project, tmp_path: Path
) -> None:
    url = base_url(server, seeded) + "/info/refs?service=git-receive-pack"
    response = httpx.get(url)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="dakora"'
    bad = httpx.get(url, headers={"Authorization": "Bearer dk_not_a_key"})
    assert bad.status_code == 401
    # git asks for credentials (none available here) and gives up: nothing pushed
    repo = GitRepoBuilder(seeded.clone(tmp_path / "w"))
    repo.write("prompts/x.yaml", make_prompt_yaml(id="x"))
    repo.commit("x")
    before = bare_refs(seeded.path)
    out = run_git(repo.path, "push", seeded.url(None), "main")
    assert out.returncode != 0
    assert "could not read Username" in out.stderr or "401" in out.stderr
    assert bare_refs(seeded.path) == before


def test_read_key_push_is_403_with_a_message(seeded: Project, tmp_path: Path) -> None:
    repo = GitRepoBuilder(seeded.clone(tmp_path / "w", key=READ_KEY))
    repo.write("prompts/x.yaml", make_prompt_yaml(id="x"))
    repo.commit("x")
    before = bare_refs(seeded.path)
    out = run_git(repo.path, "push", "origin", "main")
    assert out.returncode != 0
    assert "remote: this API key is read-only" in out.stderr
    assert "403" in out.stderr
    assert bare_refs(seeded.path) == before


def test_key_of_another_project_is_403(seeded: Project, tmp_path: Path) -> None:
    for args in (["ls-remote", seeded.url(OTHER_KEY)],):
        out = run_git(tmp_path, *args)
        assert out.returncode != 0
        assert "does not give access to acme/" in out.stderr
        assert "403" in out.stderr


def test_unknown_project_is_404(server: GitServer, tmp_path: Path) -> None:
    out = run_git(tmp_path, "ls-remote", server.url("acme/nope", WRITE_KEY))
    assert out.returncode != 0
    assert "404" in out.stderr or "not found" in out.stderr


# -- big pushes (uvicorn de-chunks; dulwich must not de-chunk again) ------------------


def test_five_mb_chunked_push(server: GitServer, tmp_path: Path) -> None:
    project = Project(server)
    repo = GitRepoBuilder(project.clone(tmp_path / "w"))
    repo.write("prompts/greeting.yaml", make_prompt_yaml(id="greeting"))
    for i in range(5):
        repo.write(f"docs/data-{i}.bin", os.urandom(1024 * 1024))
    sha = repo.commit("five megabytes")
    out = run_git(repo.path, "-c", "http.postBuffer=65536", "push", "origin", "main")
    assert out.returncode == 0, out.stderr
    assert bare_refs(project.path)["refs/heads/main"] == sha
    clone = run_git(tmp_path, "clone", "-q", project.url(READ_KEY), "c")
    assert clone.returncode == 0, clone.stderr
    assert (tmp_path / "c" / "docs" / "data-4.bin").stat().st_size == 1024 * 1024


@pytest.mark.slow
def test_fifty_mb_pack(server: GitServer, tmp_path: Path) -> None:
    project = Project(server)
    repo = GitRepoBuilder(project.clone(tmp_path / "w"))
    repo.write("prompts/greeting.yaml", make_prompt_yaml(id="greeting"))
    for i in range(26):
        repo.write(f"docs/data-{i:02d}.bin", os.urandom(2_000_000))
    sha = repo.commit("fifty megabytes")
    # random data: skip git's futile delta search and compression (client time only)
    fast = ["-c", "pack.window=0", "-c", "core.compression=0"]
    out = run_git(repo.path, *fast, "push", "origin", "main")
    assert out.returncode == 0, out.stderr
    assert bare_refs(project.path)["refs/heads/main"] == sha
    packs = list((project.path / "objects" / "pack").glob("*.pack"))
    assert sum(p.stat().st_size for p in packs) > 50_000_000
