"""A push costs O(changed files), not O(prompts in the repository): counted, never
timed. One module-scoped repository of 2,000 prompts; each test adds commits on top.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dulwich.repo import Repo
from sqlalchemy import event, select

import dakora.registry.git.commit_snapshot as git_snapshot_mod
import dakora.registry.git.prompt_cache as prompt_cache_mod
import dakora.registry.git.snapshot_base as snapshot_base_mod
import dakora.registry.index.rows as index_rows_mod
import dakora.registry.index.sources as index_sources_mod
from dakora.registry.checks import files as file_checks
from dakora.registry.checks.files import skeleton_key, template_findings
from dakora.registry.checks.run import check_push
from dakora.registry.core.settings import Settings
from dakora.registry.db.engine import make_engine, upgrade
from dakora.registry.db.tables import prompt_heads
from dakora.registry.git.commit_snapshot import GitSnapshot
from dakora.registry.index.queries import heads_at
from dakora.registry.index.sources import compute_heads
from dakora.registry.index.writer import index_project, record_ref_updates
from dakora.registry.load.loader import load_prompt_findings
from dakora.registry.render.analysis import analyze_template
from dakora.registry.tenancy.projects import create_project
from dakora.registry.tenancy.workspaces import create_workspace
from tests.fixtures.gitrepos import GitRepoBuilder, git, make_prompt_yaml

COUNT = 2000


def _prompt(n: int, version: str = "1.0.0", pid: str | None = None) -> str:
    return make_prompt_yaml(
        id=pid or f"p{n:04d}",
        version=version,
        template=f"Hello {{{{ name }}}}, prompt {n}.\n",
    )


@pytest.fixture(scope="module")
def big_repo(tmp_path_factory: pytest.TempPathFactory) -> GitRepoBuilder:
    repo = GitRepoBuilder.init(tmp_path_factory.mktemp("big") / "repo")
    repo.write("dakora.yaml", "default_branch: main\n")
    repo.write_many({f"prompts/p{n:04d}.yaml": _prompt(n) for n in range(COUNT)})
    repo.commit(f"{COUNT} prompts")
    return repo


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Calls of the per-file identity lookups (a scan of every prompt makes one per
    prompt, even when every answer is cached)."""
    calls = {"identity": 0}

    def wrap(module: Any, name: str) -> None:
        real: Callable[..., Any] = getattr(module, name)

        def counting(*args: Any, **kwargs: Any) -> Any:
            calls["identity"] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, counting)

    wrap(git_snapshot_mod, "blob_identity")
    wrap(snapshot_base_mod, "prompt_identity")
    wrap(prompt_cache_mod, "blob_identity")
    return calls


def _warm(store: Any, commit: str) -> None:
    """What the previous push left in the caches: the parent's id maps."""
    GitSnapshot(store, commit).id_paths()


def test_one_file_push_checks_only_the_changed_file(
    big_repo: GitRepoBuilder, counted: dict[str, int]
) -> None:
    base = big_repo.head()
    store = Repo(str(big_repo.path)).object_store
    _warm(store, base)
    big_repo.write("prompts/p0007.yaml", _prompt(7, "1.0.1"))
    new = big_repo.commit("bump p0007")
    before = counted["identity"]
    findings = check_push(store, base, new, exclude=[base])
    assert [f for f in findings if f.severity == "error"] == []
    assert counted["identity"] - before <= 20  # not ~COUNT


def test_duplicate_id_found_incrementally(
    big_repo: GitRepoBuilder, counted: dict[str, int]
) -> None:
    base = big_repo.head()
    store = Repo(str(big_repo.path)).object_store
    _warm(store, base)
    big_repo.write("prompts/zz-copy.yaml", _prompt(5, pid="p0005"))
    new = big_repo.commit("copy of p0005")
    before = counted["identity"]
    findings = check_push(store, base, new, exclude=[base])
    assert counted["identity"] - before <= 20
    dup = [f for f in findings if f.rule == "duplicate-id"]
    assert [(f.path, f.message) for f in dup] == [
        (
            "prompts/zz-copy.yaml",
            "duplicate id 'p0005': also defined in prompts/p0005.yaml",
        )
    ]
    # the derived map is the one a full scan builds
    derived = GitSnapshot(store, new).id_paths()
    prompt_cache_mod.TREE_ID_PATHS.clear()
    assert GitSnapshot(store, new).id_paths() == derived
    assert derived["p0005"] == ("prompts/p0005.yaml", "prompts/zz-copy.yaml")
    big_repo.remove("prompts/zz-copy.yaml")
    big_repo.commit("drop the copy")


@pytest.fixture
def indexed(
    big_repo: GitRepoBuilder, tmp_path: Path
) -> Iterator[tuple[Any, Any, Repo]]:
    data = tmp_path / "data"
    data.mkdir()
    engine = make_engine(f"sqlite:///{data / 'dakora.db'}")
    upgrade(engine)
    create_workspace(engine, "acme")
    project = create_project(engine, Settings(data_dir=data), "acme", "big")
    git(big_repo.path, "push", "-q", f"file://{project.repo_path}", "HEAD:main")
    index_project(engine, project)
    repo = Repo(str(project.repo_path))
    try:
        yield engine, project, repo
    finally:
        repo.close()
        engine.dispose()


def _heads(engine: Any, project_id: str) -> dict[str, tuple[str, str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                prompt_heads.c.prompt_id,
                prompt_heads.c.version,
                prompt_heads.c.blob_sha,
                prompt_heads.c.path,
                prompt_heads.c.commit_sha,
            ).where(prompt_heads.c.project_id == project_id)
        )
        return {
            r.prompt_id: (r.version, r.blob_sha, r.path, r.commit_sha) for r in rows
        }


def test_index_writes_only_changed_heads(
    big_repo: GitRepoBuilder,
    indexed: tuple[Any, Any, Repo],
    counted: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine, project, repo = indexed
    old = repo.refs[b"refs/heads/main"].decode()
    _warm(repo.object_store, old)
    big_repo.write("prompts/p0003.yaml", _prompt(3, "1.1.0"))
    big_repo.remove("prompts/p0004.yaml")
    big_repo.write("prompts/new.yaml", _prompt(9999, pid="brand-new"))
    big_repo.commit("edit, delete, add")
    git(big_repo.path, "push", "-q", f"file://{project.repo_path}", "HEAD:main")
    new = big_repo.head()

    def no_full_scan(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("every head recomputed")

    monkeypatch.setattr(index_sources_mod, "compute_heads", no_full_scan)
    monkeypatch.setattr("dakora.registry.index.writer.compute_heads", no_full_scan)
    written: list[int] = []

    @event.listens_for(engine, "before_cursor_execute")
    def count(conn: Any, cursor: Any, sql: str, params: Any, *rest: Any) -> None:
        if sql.lstrip().upper().startswith("INSERT INTO PROMPT_HEADS"):
            written.append(len(params) if isinstance(params, list) else 1)

    before = counted["identity"]
    summary = record_ref_updates(
        engine, project.id, repo, [("refs/heads/main", old, new)], mirror=False
    )
    event.remove(engine, "before_cursor_execute", count)
    assert sum(written) == 2  # p0003 rewritten, brand-new added; p0004 deleted
    assert counted["identity"] - before <= 20
    assert summary.heads == COUNT  # -1 deleted, +1 added
    monkeypatch.undo()
    expected = compute_heads(repo.object_store, new)
    heads = _heads(engine, project.id)
    assert {k: v[:3] for k, v in heads.items()} == {
        h.prompt_id: (h.version, h.blob_sha, h.path) for h in expected.values()
    }
    # only the rewritten rows were touched; the refs row says where the ref is, and
    # the index lists the whole ref at the new commit only
    assert heads["p0003"][3] == new and heads["brand-new"][3] == new
    assert heads["p0005"][3] == old
    listed = heads_at(engine, project.id, "main", new)
    assert listed is not None and len(listed) == COUNT
    assert {h["id"]: h["blob_sha"] for h in listed} == {
        k: v[1] for k, v in heads.items()
    }
    assert heads_at(engine, project.id, "main", old) is None
    assert index_rows_mod.move_heads  # the incremental writer is public


def test_templates_differing_only_in_text_share_one_analysis() -> None:
    a = "Hello {{ name }}, prompt 1.\n{% if x %}yes{% endif %}\n"
    b = "Good day {{ name }}, prompt 2 (longer text).\n{% if x %}no{% endif %}\n"
    shifted = "\n" + a
    renamed = a.replace("name", "who")
    assert skeleton_key(a) == skeleton_key(b)
    assert skeleton_key(a) != skeleton_key(shifted)  # lines differ
    assert skeleton_key(a) != skeleton_key(renamed)
    assert skeleton_key("{% if %}") is not None  # lexes; the parse fails later

    class Parts:
        key = "no-parts"

        def get_source(self, name: str) -> None:
            return None

    for source in (a, b, shifted, renamed, "{% if %}\n", "x\n{{ a.__class__ }}"):
        file_checks._ANALYSIS.clear()
        fresh = _findings(source, Parts())
        warm_twin = source.replace("Hello", "Hi there").replace("x\n", "y\n")
        _findings(warm_twin, Parts())  # fills the skeleton cache first
        assert _findings(source, Parts()) == fresh
    assert analyze_template(a, Parts()).variables == frozenset({"name", "x"})


def _findings(template: str, parts: Any) -> list[Any]:
    text = make_prompt_yaml(
        template=template, inputs={"name": {"type": "string", "required": True}}
    )
    loaded, _ = load_prompt_findings(text.encode(), "prompts/x.yaml", None)
    assert loaded is not None
    return template_findings(loaded, parts)
