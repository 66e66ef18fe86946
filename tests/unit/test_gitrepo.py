"""PromptRepository and the push plumbing, on real repositories built with ``git``."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest
from dulwich.repo import Repo

from dakora.registry.core.errors import (
    BadRequest,
    PromptNotFound,
    RefNotFound,
    RepositoryNotFound,
)
from dakora.registry.git.prompt_cache import clear_load_cache, load_cache_info
from dakora.registry.git.repo import PromptRepository
from dakora.registry.git.tree_diff import changed_paths, unified_diff
from dakora.registry.git.versions import heads_at, versions_in_range
from dakora.registry.git.walk import new_commits
from tests.fixtures.gitrepos import GitRepoBuilder, make_prompt_yaml


class History:
    """One repository shared by the read-only tests of this module.

    main:  c1 (greeting 1.0.0, tag v1 annotated, tag light)
           c2 (README only)
           c3 (greeting 1.1.0)
           c4 (greeting moved to prompts/sub/greet.yaml, unchanged)
           c5 (greeting 2.0.0 at the new path; other 1.0.0 added)
    feature (from c3): f1 (greeting 1.2.0-beta.1)
    """

    def __init__(self, root: Path) -> None:
        r = GitRepoBuilder.init(root / "work")
        self.builder = r
        r.write("dakora.yaml", "default_branch: main\n")
        r.write("parts/system/tone.md", "Be kind.\n")
        r.write("prompts/greeting.yaml", make_prompt_yaml(id="greeting"))
        self.c1 = r.commit("greeting 1.0.0", date="2024-01-01T10:00:00Z")
        r.tag("v1", message="first release")
        r.tag("light")
        r.write("README.md", "# readme\n")
        self.c2 = r.commit("readme", date="2024-01-02T10:00:00Z")
        r.write(
            "prompts/greeting.yaml",
            make_prompt_yaml(
                id="greeting", version="1.1.0", template="Hi {{ name }}\n"
            ),
        )
        self.c3 = r.commit("greeting 1.1.0", date="2024-01-03T10:00:00Z")
        r.branch("feature")
        r.move("prompts/greeting.yaml", "prompts/sub/greet.yaml")
        self.c4 = r.commit("move greeting", date="2024-01-04T10:00:00Z")
        r.write(
            "prompts/sub/greet.yaml",
            make_prompt_yaml(
                id="greeting", version="2.0.0", template="Yo {{ name }}\n"
            ),
        )
        r.write("prompts/other.yaml", make_prompt_yaml(id="other"))
        self.c5 = r.commit("greeting 2.0.0\n\nlong body", date="2024-01-05T10:00:00Z")
        r.switch("feature")
        r.write(
            "prompts/greeting.yaml",
            make_prompt_yaml(
                id="greeting", version="1.2.0-beta.1", template="Hey {{ name }}\n"
            ),
        )
        self.f1 = r.commit("beta", date="2024-01-06T10:00:00Z")
        r.switch("main")
        self.bare = r.clone_bare(root / "bare.git")


@pytest.fixture(scope="module")
def hist(tmp_path_factory: pytest.TempPathFactory) -> History:
    return History(tmp_path_factory.mktemp("history"))


@pytest.fixture(params=["work", "bare"])
def repo(request: pytest.FixtureRequest, hist: History) -> PromptRepository:
    path = hist.builder.path if request.param == "work" else hist.bare
    opened = PromptRepository.open(path)
    request.addfinalizer(opened.close)
    return opened


# ------------------------------------------------------------------- open / resolve


def test_open_root_bare_and_subfolder(hist: History) -> None:
    with PromptRepository.open(hist.builder.path) as repo:
        assert repo.subdir == ""
        assert not repo.bare
        assert repo.default_branch() == "main"
    with PromptRepository.open(hist.bare) as repo:
        assert repo.bare
        assert repo.root is None
        with pytest.raises(BadRequest):
            repo.working_tree()
    with PromptRepository.open(hist.builder.path / "prompts") as repo:
        assert repo.subdir == "prompts"


def test_open_outside_any_repo(tmp_path: Path) -> None:
    with pytest.raises(RepositoryNotFound):
        PromptRepository.open(tmp_path)
    with pytest.raises(RepositoryNotFound):
        PromptRepository.open(tmp_path / "missing")


@pytest.mark.parametrize(
    ("rev", "attr"),
    [
        ("HEAD", "c5"),
        ("main", "c5"),
        ("refs/heads/main", "c5"),
        ("feature", "f1"),
        ("v1", "c1"),  # annotated: peeled
        ("refs/tags/v1", "c1"),
        ("light", "c1"),
        ("HEAD~1", "c4"),
        ("main~4", "c1"),
        ("HEAD^", "c4"),
        ("feature^1", "c3"),
    ],
)
def test_resolve(repo: PromptRepository, hist: History, rev: str, attr: str) -> None:
    assert repo.resolve(rev) == getattr(hist, attr)


def test_resolve_shas(repo: PromptRepository, hist: History) -> None:
    assert repo.resolve(hist.c2) == hist.c2
    assert repo.resolve(hist.c2[:8]) == hist.c2
    assert repo.resolve(hist.c2.upper()) == hist.c2
    tag_object = hist.builder.git("rev-parse", "v1")
    assert repo.resolve(tag_object) == hist.c1


@pytest.mark.parametrize(
    "rev",
    ["nope", "refs/heads/nope", "0" * 40, "deadbeef", "", "main~99", "HEAD^3", "a..b"],
)
def test_resolve_unknown(repo: PromptRepository, rev: str) -> None:
    with pytest.raises(RefNotFound):
        repo.resolve(rev)


def test_resolve_tree_sha_is_not_a_commit(
    repo: PromptRepository, hist: History
) -> None:
    tree = hist.builder.git("rev-parse", "HEAD^{tree}")
    with pytest.raises(RefNotFound):
        repo.resolve(tree)


def test_resolve_in_empty_repo(tmp_path: Path) -> None:
    GitRepoBuilder.init(tmp_path / "empty")
    with PromptRepository.open(tmp_path / "empty") as repo:
        with pytest.raises(RefNotFound, match="no commits"):
            repo.resolve("HEAD")
        assert repo.head_snapshot() is None
        assert repo.refs() == {}


def test_refs(repo: PromptRepository, hist: History) -> None:
    assert repo.refs() == {
        "refs/heads/feature": hist.f1,
        "refs/heads/main": hist.c5,
        "refs/tags/light": hist.c1,
        "refs/tags/v1": hist.c1,
    }


def test_snapshot_at_rev(repo: PromptRepository, hist: History) -> None:
    snap = repo.snapshot("v1")
    assert snap.commit == hist.c1
    assert snap.find_prompt("greeting").prompt.version == "1.0.0"
    assert (
        repo.snapshot("main").find_prompt("greeting").path == "prompts/sub/greet.yaml"
    )


# ------------------------------------------------------------------------- history


def test_history_follows_moves_newest_first(
    repo: PromptRepository, hist: History
) -> None:
    versions = repo.history("greeting")
    assert [(v.version, v.commit, v.path) for v in versions] == [
        ("2.0.0", hist.c5, "prompts/sub/greet.yaml"),
        ("1.1.0", hist.c3, "prompts/greeting.yaml"),
        ("1.0.0", hist.c1, "prompts/greeting.yaml"),
    ]
    newest = versions[0]
    assert newest.author == "Test Author <author@example.com>"
    assert newest.committed_at.tzinfo == UTC
    assert newest.committed_at.isoformat() == "2024-01-05T10:00:00+00:00"
    assert newest.message == "greeting 2.0.0\n\nlong body"
    assert newest.blob_sha == hist.builder.git(
        "rev-parse", f"{hist.c5}:prompts/sub/greet.yaml"
    )


def test_history_at_other_revs(repo: PromptRepository, hist: History) -> None:
    assert [v.version for v in repo.history("greeting", "feature")] == [
        "1.2.0-beta.1",
        "1.1.0",
        "1.0.0",
    ]
    assert [v.version for v in repo.history("greeting", "v1")] == ["1.0.0"]
    assert [v.commit for v in repo.history("other")] == [hist.c5]
    with pytest.raises(PromptNotFound):
        repo.history("other", "v1")
    with pytest.raises(RefNotFound):
        repo.history("greeting", "nope")


def test_find_version_across_refs(repo: PromptRepository, hist: History) -> None:
    assert repo.find_version("greeting", "1.2.0-beta.1").commit == hist.f1
    assert repo.find_version("greeting", "1.0.0").commit == hist.c1
    with pytest.raises(RefNotFound):
        repo.find_version("greeting", "9.9.9")
    with pytest.raises(PromptNotFound):
        repo.find_version("ghost", "1.0.0")


def test_history_in_subfolder_repo(tmp_path: Path) -> None:
    r = GitRepoBuilder.init(tmp_path / "app")
    r.write("src/app.py", "x = 1\n")
    r.write("llm/prompts/a.yaml", make_prompt_yaml(id="a"))
    first = r.commit("a 1.0.0")
    r.write("src/app.py", "x = 2\n")
    r.commit("app change")
    r.write("llm/prompts/a.yaml", make_prompt_yaml(id="a", version="1.0.1"))
    second = r.commit("a 1.0.1")
    with PromptRepository.open(r.path / "llm") as repo:
        assert repo.subdir == "llm"
        versions = repo.history("a")
        assert [(v.version, v.commit, v.path) for v in versions] == [
            ("1.0.1", second, "prompts/a.yaml"),
            ("1.0.0", first, "prompts/a.yaml"),
        ]
        diff = repo.diff("a", "1.0.0", "1.0.1")
        assert diff.startswith("--- a/prompts/a.yaml\n+++ b/prompts/a.yaml\n")
        assert repo.working_tree().prompt_paths() == ["prompts/a.yaml"]


def test_history_through_merges(tmp_path: Path) -> None:
    r = GitRepoBuilder.init(tmp_path / "m")
    r.write("prompts/a.yaml", make_prompt_yaml(id="a"))
    base = r.commit("a 1.0.0")
    r.switch("topic", create=True)
    r.write("prompts/a.yaml", make_prompt_yaml(id="a", version="1.1.0", template="T\n"))
    topic = r.commit("a 1.1.0 on topic")
    r.switch("main")
    r.write("notes.md", "n\n")
    r.commit("unrelated on main")
    r.merge("topic")
    with PromptRepository.open(r.path) as repo:
        assert [(v.version, v.commit) for v in repo.history("a")] == [
            ("1.1.0", topic),
            ("1.0.0", base),
        ]


def test_history_reads_only_changed_blobs(tmp_path: Path) -> None:
    """24 commits that touch other files and other prompts (new content each time):
    parsing happens only where the tracked prompt's blob changed (counted by the
    parse cache), never for the unrelated blobs."""
    r = GitRepoBuilder.init(tmp_path / "many")
    r.write("prompts/tracked.yaml", make_prompt_yaml(id="tracked"))
    r.commit("tracked 1.0.0")
    for i in range(24):
        files = {
            "notes.txt": f"note {i}\n",
            f"prompts/noise{i % 3}.yaml": make_prompt_yaml(
                id=f"noise{i % 3}", version=f"1.0.{i}", template=f"n {i} {{{{ name }}}}"
            ),
        }
        if i == 12:
            files["prompts/tracked.yaml"] = make_prompt_yaml(
                id="tracked", version="1.1.0", template="x {{ name }}"
            )
        r.write_many(files)
        r.commit(f"noise {i}")
    with PromptRepository.open(r.path) as repo:
        clear_load_cache()
        versions = repo.history("tracked")
        info = load_cache_info()
    assert [v.version for v in versions] == ["1.1.0", "1.0.0"]
    # exactly the two tracked versions are parsed; never the 24 noise blobs
    assert info.misses == 2
    assert info.hits + info.misses <= 6


# ---------------------------------------------------------------------------- diff


def test_diff_between_versions_and_refs(repo: PromptRepository) -> None:
    by_version = repo.diff("greeting", "1.0.0", "1.1.0")
    assert by_version == (
        "--- a/prompts/greeting.yaml\n"
        "+++ b/prompts/greeting.yaml\n"
        "@@ -1,7 +1,7 @@\n"
        " id: greeting\n"
        "-version: 1.0.0\n"
        "+version: 1.1.0\n"
        " template: |\n"
        "-  Hello {{ name }}!\n"
        "+  Hi {{ name }}\n"
        " inputs:\n"
        "   name:\n"
        "     type: string\n"
    )
    assert repo.diff("greeting", "v1", "feature~1") == by_version
    moved = repo.diff("greeting", "1.1.0", "main")
    assert moved.splitlines()[:2] == [
        "--- a/prompts/greeting.yaml",
        "+++ b/prompts/sub/greet.yaml",
    ]
    assert repo.diff("greeting", "main", "main") == ""


def test_diff_missing_side_and_errors(repo: PromptRepository, hist: History) -> None:
    added = repo.diff("other", "v1", "main")
    assert added.startswith("--- /dev/null\n+++ b/prompts/other.yaml\n@@ -0,0 +1,")
    with pytest.raises(RefNotFound, match="neither a version"):
        repo.diff("greeting", "7.7.7", "main")
    with pytest.raises(PromptNotFound):
        repo.diff("ghost", "v1", "main")


def test_unified_diff_no_newline_marker() -> None:
    out = unified_diff(b"a\nb", b"a\nc", "p.yaml", "p.yaml")
    assert out.endswith(
        "-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n"
    )


# ------------------------------------------------------------------------ plumbing


def test_new_commits_parents_first(hist: History) -> None:
    store = Repo(str(hist.bare)).object_store
    assert new_commits(store, hist.c5, []) == [
        hist.c1,
        hist.c2,
        hist.c3,
        hist.c4,
        hist.c5,
    ]
    assert new_commits(store, hist.c5, [hist.c3]) == [hist.c4, hist.c5]
    assert new_commits(store, hist.c5, [hist.f1, "0" * 40, "f" * 40]) == [
        hist.c4,
        hist.c5,
    ]
    assert new_commits(store, hist.c3, [hist.c5]) == []
    assert new_commits(store, "0" * 40, []) == []


def test_changed_paths(hist: History) -> None:
    store = Repo(str(hist.bare)).object_store
    assert changed_paths(store, hist.c1) == [
        (None, "dakora.yaml"),
        (None, "parts/system/tone.md"),
        (None, "prompts/greeting.yaml"),
    ]
    assert changed_paths(store, hist.c3) == [
        ("prompts/greeting.yaml", "prompts/greeting.yaml")
    ]
    assert sorted(changed_paths(store, hist.c4), key=str) == sorted(
        [("prompts/greeting.yaml", None), (None, "prompts/sub/greet.yaml")], key=str
    )
    assert changed_paths(store, hist.c4, subdir="prompts/sub") == [(None, "greet.yaml")]


def test_versions_in_range(hist: History) -> None:
    store = Repo(str(hist.bare)).object_store
    everything = versions_in_range(store, hist.c5, [])
    assert [(v.prompt_id, v.version, v.commit) for v in everything] == [
        ("greeting", "1.0.0", hist.c1),
        ("greeting", "1.1.0", hist.c3),
        ("other", "1.0.0", hist.c5),
        ("greeting", "2.0.0", hist.c5),
    ]
    assert [v.version for v in versions_in_range(store, hist.f1, [hist.c5])] == [
        "1.2.0-beta.1"
    ]
    # the move (c4) introduced nothing
    assert versions_in_range(store, hist.c4, [hist.c3]) == []


def test_versions_in_range_merge_brings_nothing_new(tmp_path: Path) -> None:
    r = GitRepoBuilder.init(tmp_path / "m")
    r.write("prompts/a.yaml", make_prompt_yaml(id="a"))
    r.commit("a")
    r.switch("topic", create=True)
    r.write("prompts/a.yaml", make_prompt_yaml(id="a", version="1.1.0", template="T\n"))
    topic = r.commit("topic")
    r.switch("main")
    r.write("x.md", "x\n")
    main = r.commit("x")
    merge = r.merge("topic")
    store = Repo(str(r.path)).object_store
    # topic and main already indexed: the merge commit adds no version
    assert versions_in_range(store, merge, [topic, main]) == []


def test_heads_at(hist: History) -> None:
    store = Repo(str(hist.bare)).object_store
    heads = heads_at(store, hist.c5)
    assert sorted(heads) == ["greeting", "other"]
    assert heads["greeting"].version == "2.0.0"
    assert heads["greeting"].path == "prompts/sub/greet.yaml"
    assert heads["greeting"].blob_sha == hist.builder.git(
        "rev-parse", f"{hist.c5}:prompts/sub/greet.yaml"
    )
    assert heads_at(store, hist.c1, subdir="prompts") == {}


def test_get_prompt_by_ref_version_or_commit(
    repo: PromptRepository, hist: History
) -> None:
    loaded, snap = repo.get_prompt("greeting")
    assert (loaded.prompt.version, snap.commit) == ("2.0.0", hist.c5)
    loaded, snap = repo.get_prompt("greeting", version="1.2.0-beta.1")
    assert (loaded.path, snap.commit) == ("prompts/greeting.yaml", hist.f1)
    loaded, _ = repo.get_prompt("greeting", commit=hist.c3[:10])
    assert loaded.prompt.version == "1.1.0"
    loaded, _ = repo.get_prompt("greeting", ref="v1")
    assert loaded.prompt.version == "1.0.0"
    with pytest.raises(BadRequest):
        repo.get_prompt("greeting", ref="main", version="1.0.0")
    with pytest.raises(PromptNotFound):
        repo.get_prompt("ghost", ref="main")


def test_open_a_file_is_refused(hist: History) -> None:
    with pytest.raises(RepositoryNotFound):
        PromptRepository.open(hist.builder.path / "dakora.yaml")
