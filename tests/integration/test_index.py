"""The DB index (prompt_versions, prompt_heads, refs) built from real git repositories,
and importing a local repository or folder into a project, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from dulwich.repo import Repo
from sqlalchemy import Engine, select

from dakora.registry.core.errors import BadRequest, InvalidPrompt
from dakora.registry.core.settings import Settings
from dakora.registry.core.types import ZERO_SHA
from dakora.registry.db import (
    mirror_outbox,
    prompt_heads,
    prompt_versions,
    push_events,
    refs,
)
from dakora.registry.index.importer import import_into_project, source_default_branch
from dakora.registry.index.writer import (
    index_project,
    reconcile_project,
    record_ref_updates,
    refs_in_sync,
)
from dakora.registry.tenancy.projects import create_project
from dakora.registry.tenancy.records import Project
from dakora.registry.tenancy.workspaces import create_workspace
from tests.fixtures.gitrepos import GitRepoBuilder, make_prompt_yaml

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def project(db_engine: Engine, settings: Settings) -> Project:
    create_workspace(db_engine, "acme")
    return create_project(db_engine, settings, "acme", "web")


def _history(repo: GitRepoBuilder) -> dict[str, str]:
    """main: greeting 1.0.0 → 1.1.0 (+ farewell 0.1.0); feature: greeting 2.0.0;
    annotated tag v1 at the first commit."""
    repo.write(
        "prompts/greeting.yaml",
        make_prompt_yaml(id="greeting", version="1.0.0", description="Say hi"),
    )
    first = repo.commit("greeting 1.0.0")
    repo.write(
        "prompts/greeting.yaml",
        make_prompt_yaml(
            id="greeting",
            version="1.1.0",
            description="Say hi",
            template="Hi {{ name }}!\n",
        ),
    )
    repo.write(
        "prompts/farewell.yaml", make_prompt_yaml(id="farewell", version="0.1.0")
    )
    second = repo.commit("greeting 1.1.0, farewell")
    repo.tag("v1", ref=first, message="first release")
    repo.switch("feature", create=True)
    repo.write(
        "prompts/greeting.yaml",
        make_prompt_yaml(id="greeting", version="2.0.0", template="Yo {{ name }}!\n"),
    )
    feature = repo.commit("greeting 2.0.0")
    repo.switch("main")
    return {"first": first, "second": second, "feature": feature}


def _versions(engine: Engine, project_id: str) -> dict[tuple[str, str], str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(prompt_versions).where(prompt_versions.c.project_id == project_id)
        )
        return {(r.prompt_id, r.version): r.commit_sha for r in rows}


def _heads(engine: Engine, project_id: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    with engine.connect() as conn:
        for r in conn.execute(
            select(prompt_heads).where(prompt_heads.c.project_id == project_id)
        ):
            out.setdefault(r.ref, {})[r.prompt_id] = r.version
    return out


def test_import_git_repo_indexes_every_branch_and_tag(
    db_engine: Engine, project: Project, git_repo: GitRepoBuilder
) -> None:
    shas = _history(git_repo)
    assert source_default_branch(git_repo.path) == "main"
    summary = import_into_project(db_engine, project, git_repo.path)
    assert summary.kind == "git"
    assert set(summary.refs) == {
        "refs/heads/main",
        "refs/heads/feature",
        "refs/tags/v1",
    }
    assert _versions(db_engine, project.id) == {
        ("greeting", "1.0.0"): shas["first"],
        ("greeting", "1.1.0"): shas["second"],
        ("farewell", "0.1.0"): shas["second"],
        ("greeting", "2.0.0"): shas["feature"],
    }
    assert _heads(db_engine, project.id) == {
        "refs/heads/main": {"greeting": "1.1.0", "farewell": "0.1.0"},
        "refs/heads/feature": {"greeting": "2.0.0", "farewell": "0.1.0"},
        "refs/tags/v1": {"greeting": "1.0.0"},
    }
    with db_engine.connect() as conn:
        ref_rows = {r.name: r.sha for r in conn.execute(select(refs))}
        desc = conn.execute(
            select(prompt_heads.c.description).where(
                prompt_heads.c.ref == "refs/heads/main",
                prompt_heads.c.prompt_id == "greeting",
            )
        ).scalar_one()
        audit = conn.execute(select(push_events)).fetchall()
        outbox = conn.execute(select(mirror_outbox)).fetchall()
    assert ref_rows["refs/tags/v1"] == shas["first"]  # annotated tag peeled
    assert desc == "Say hi"
    assert {r.ref for r in audit} == set(summary.refs)
    assert all(r.result == "ok" for r in audit)
    assert len(outbox) == 1 and len(outbox[0].payload["versions"]) == 4
    # the bare repository has the refs and the objects
    bare = Repo(str(project.repo_path))
    try:
        assert bare.refs[b"refs/heads/main"].decode() == shas["second"]
        assert bare.refs.read_ref(b"HEAD") == b"ref: refs/heads/main"
    finally:
        bare.close()
    assert refs_in_sync(db_engine, project)
    # reindex gives the same index
    before = (_versions(db_engine, project.id), _heads(db_engine, project.id))
    again = index_project(db_engine, project)
    assert again.versions == 4
    assert (_versions(db_engine, project.id), _heads(db_engine, project.id)) == before
    assert reconcile_project(db_engine, project) is None


def test_incremental_updates_match_a_full_reindex(
    db_engine: Engine, project: Project, git_repo: GitRepoBuilder
) -> None:
    shas = _history(git_repo)
    import_into_project(db_engine, project, git_repo.path)
    # a later push: main moves on, feature is deleted
    git_repo.write(
        "prompts/greeting.yaml",
        make_prompt_yaml(id="greeting", version="1.2.0", template="Hey {{ name }}\n"),
    )
    third = git_repo.commit("greeting 1.2.0")
    bare = Repo(str(project.repo_path))
    try:
        Repo(str(git_repo.path)).fetch(bare)
        bare.refs[b"refs/heads/main"] = third.encode()
        del bare.refs[b"refs/heads/feature"]
        summary = record_ref_updates(
            db_engine,
            project.id,
            bare,
            [
                ("refs/heads/main", shas["second"], third),
                ("refs/heads/feature", shas["feature"], ZERO_SHA),
            ],
            user_id=None,
            key_id=None,
            messages=["pushed"],
        )
    finally:
        bare.close()
    assert summary.versions_added == [
        ("greeting", "1.2.0", summary.versions_added[0][2])
    ]
    incremental = (_versions(db_engine, project.id), _heads(db_engine, project.id))
    assert "refs/heads/feature" not in incremental[1]
    # versions are never forgotten when a branch goes away
    assert ("greeting", "2.0.0") in incremental[0]
    assert refs_in_sync(db_engine, project)
    index_project(db_engine, project)
    rebuilt = (_versions(db_engine, project.id), _heads(db_engine, project.id))
    # a full rebuild only knows what refs still reach
    assert rebuilt[1] == incremental[1]
    assert set(rebuilt[0]) == set(incremental[0]) - {("greeting", "2.0.0")}


def test_out_of_sync_index_is_reconciled(
    db_engine: Engine, project: Project, git_repo: GitRepoBuilder
) -> None:
    _history(git_repo)
    import_into_project(db_engine, project, git_repo.path)
    with db_engine.begin() as conn:
        conn.execute(refs.delete())
        conn.execute(prompt_heads.delete())
    assert not refs_in_sync(db_engine, project.id)
    summary = reconcile_project(db_engine, f"{project.workspace_slug}/{project.slug}")
    assert summary is not None and summary.refs == 3
    assert refs_in_sync(db_engine, project)


def test_import_plain_folder_as_one_commit(
    db_engine: Engine, project: Project, tmp_path: Path
) -> None:
    folder = tmp_path / "plain"
    (folder / "prompts").mkdir(parents=True)
    (folder / "prompts" / "hello.yaml").write_text(make_prompt_yaml(id="hello"))
    assert source_default_branch(folder) is None
    summary = import_into_project(db_engine, project, folder)
    assert summary.kind == "folder"
    assert list(summary.refs) == ["refs/heads/main"]
    assert _heads(db_engine, project.id) == {"refs/heads/main": {"hello": "1.0.0"}}


def test_sample_repo_imports_cleanly(
    db_engine: Engine, project: Project, sample_repo_path: Path
) -> None:
    summary = import_into_project(db_engine, project, sample_repo_path)
    assert summary.index.heads >= 10


def test_invalid_prompts_refuse_the_import_and_move_no_ref(
    db_engine: Engine, project: Project, git_repo: GitRepoBuilder
) -> None:
    git_repo.write("prompts/bad.yaml", "id: bad\nversion: 1.0\ntemplate: hi\n")
    git_repo.commit("a float version")
    with pytest.raises(InvalidPrompt) as info:
        import_into_project(db_engine, project, git_repo.path)
    assert "prompts/bad.yaml" in info.value.message
    bare = Repo(str(project.repo_path))
    try:
        assert not [k for k in bare.refs.allkeys() if k.startswith(b"refs/heads/")]
    finally:
        bare.close()
    assert _versions(db_engine, project.id) == {}


def test_import_needs_the_default_branch_and_an_empty_project(
    db_engine: Engine, settings: Settings, project: Project, git_repo: GitRepoBuilder
) -> None:
    _history(git_repo)
    other = create_project(
        db_engine, settings, "acme", "other", default_branch="production"
    )
    with pytest.raises(BadRequest, match="no branch 'production'"):
        import_into_project(db_engine, other, git_repo.path)
    import_into_project(db_engine, project, git_repo.path)
    with pytest.raises(BadRequest, match="already has content"):
        import_into_project(db_engine, project, git_repo.path)
    with pytest.raises(BadRequest, match="not a folder"):
        import_into_project(db_engine, project, git_repo.path / "nope")


def test_record_in_the_callers_transaction_rolls_back_with_it(
    db_engine: Engine, project: Project, git_repo: GitRepoBuilder
) -> None:
    from dakora.registry.db import transaction

    shas = _history(git_repo)
    bare = Repo(str(project.repo_path))
    try:
        Repo(str(git_repo.path)).fetch(bare)
        updates = [("refs/heads/main", ZERO_SHA, shas["second"])]
        with pytest.raises(RuntimeError), transaction(db_engine) as conn:
            summary = record_ref_updates(conn, project.id, bare, updates)
            assert summary.versions == 3
            raise RuntimeError("the push failed after indexing")
        assert _versions(db_engine, project.id) == {}
        with db_engine.connect() as conn:
            assert conn.execute(select(push_events)).fetchall() == []
            assert conn.execute(select(mirror_outbox)).fetchall() == []
        # the same call committed: versions, heads, ref, audit, outbox
        summary = record_ref_updates(
            db_engine, project.id, bare, updates, user_id="u1", key_id="k1"
        )
    finally:
        bare.close()
    assert summary.heads == 2
    assert set(_versions(db_engine, project.id)) == {
        ("greeting", "1.0.0"),
        ("greeting", "1.1.0"),
        ("farewell", "0.1.0"),
    }
    with db_engine.connect() as conn:
        event = conn.execute(select(push_events)).one()
    assert (event.user_id, event.key_id, event.old_sha) == ("u1", "k1", None)
