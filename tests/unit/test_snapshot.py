"""GitSnapshot / FolderSnapshot: the same answers for a commit and for a folder."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from dulwich.repo import Repo

from dakora.registry.core.errors import InvalidPrompt, NotFound, PromptNotFound
from dakora.registry.git.commit_snapshot import GitSnapshot
from dakora.registry.git.folder_snapshot import FolderSnapshot
from dakora.registry.git.layout import is_safe_relpath
from dakora.registry.git.prompt_cache import clear_load_cache, load_cache_info
from tests.fixtures.gitrepos import GitRepoBuilder, make_prompt_yaml


def _git_blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


@pytest.fixture
def repo(prompt_repo: GitRepoBuilder) -> GitRepoBuilder:
    prompt_repo.write("prompts/chat/support.yml", make_prompt_yaml(id="support"))
    prompt_repo.write("parts/system/footer.txt", "Bye.\n")
    prompt_repo.write("parts/style/short.j2", "{{ name }}\n")
    prompt_repo.write("parts/README.md", "not a part (no category)\n")
    prompt_repo.write("prompts/notes.txt", "not a prompt\n")
    prompt_repo.write("README.md", "# repo\n")
    prompt_repo.commit("more files")
    return prompt_repo


def _snapshots(repo: GitRepoBuilder) -> list[GitSnapshot | FolderSnapshot]:
    store = Repo(str(repo.path)).object_store
    return [GitSnapshot(store, repo.head()), FolderSnapshot(repo.path)]


def test_both_kinds_list_the_same_files(repo: GitRepoBuilder) -> None:
    git_snap, folder = _snapshots(repo)
    for snap in (git_snap, folder):
        assert snap.prompt_paths() == [
            "prompts/chat/support.yml",
            "prompts/greeting.yaml",
        ]
        assert snap.parts.names() == ["style/short", "system/footer", "system/tone"]
        assert ".git/HEAD" not in snap.all_paths()
        assert "README.md" in snap.all_paths()
        assert snap.content_paths() == [
            "dakora.yaml",
            "parts/README.md",
            "parts/style/short.j2",
            "parts/system/footer.txt",
            "parts/system/tone.md",
            "prompts/chat/support.yml",
            "prompts/greeting.yaml",
            "prompts/notes.txt",
        ]
        assert snap.config.default_branch == "main"
    assert git_snap.commit == repo.head()
    assert folder.commit is None


def test_blob_shas_match_git(repo: GitRepoBuilder) -> None:
    git_snap, folder = _snapshots(repo)
    expected = repo.git("rev-parse", "HEAD:prompts/greeting.yaml")
    assert git_snap.blob_sha("prompts/greeting.yaml") == expected
    assert folder.blob_sha("prompts/greeting.yaml") == expected
    data = folder.read("prompts/greeting.yaml")
    assert _git_blob_sha(data) == expected
    assert git_snap.read("prompts/greeting.yaml") == data


def test_parts_get_source_with_and_without_extension(repo: GitRepoBuilder) -> None:
    for snap in _snapshots(repo):
        assert snap.parts.get_source("system/tone") == (
            "Be kind and concise.\n",
            "parts/system/tone.md",
        )
        assert snap.parts.get_source("system/footer.txt") == (
            "Bye.\n",
            "parts/system/footer.txt",
        )
        assert snap.parts.get_source("system/missing") is None
        assert snap.parts.get_source("../dakora") is None
        assert snap.parts.get_source("system/../system/tone") is None


def test_parts_key_tracks_content(repo: GitRepoBuilder, tmp_path: Path) -> None:
    store = Repo(str(repo.path)).object_store
    before = GitSnapshot(store, repo.head()).parts.key
    folder_before = FolderSnapshot(repo.path).parts.key
    assert before == repo.git("rev-parse", "HEAD:parts")  # the parts tree sha
    repo.write("README.md", "# changed, not a part\n")
    repo.commit("readme")
    assert GitSnapshot(store, repo.head()).parts.key == before
    assert FolderSnapshot(repo.path).parts.key == folder_before
    repo.write("parts/system/tone.md", "Be terse.\n")
    assert FolderSnapshot(repo.path).parts.key != folder_before
    repo.commit("tone")
    assert GitSnapshot(store, repo.head()).parts.key != before


def test_find_prompt_and_load(repo: GitRepoBuilder) -> None:
    for snap in _snapshots(repo):
        loaded = snap.find_prompt("support")
        assert loaded.path == "prompts/chat/support.yml"
        assert loaded.prompt.version == "1.0.0"
        assert {p.prompt.id for p in snap.prompts()} == {"greeting", "support"}
        with pytest.raises(PromptNotFound):
            snap.find_prompt("nope")
        with pytest.raises(PromptNotFound):
            snap.load("prompts/nope.yaml")


def test_invalid_prompt_is_skipped_and_load_raises(git_repo: GitRepoBuilder) -> None:
    git_repo.write("prompts/ok.yaml", make_prompt_yaml(id="ok"))
    git_repo.write("prompts/bad.yaml", "id: bad\nversion: 1.0\ntemplate: x\n")
    git_repo.commit("one bad")
    for snap in _snapshots(git_repo):
        assert [p.prompt.id for p in snap.prompts()] == ["ok"]
        with pytest.raises(InvalidPrompt) as info:
            snap.load("prompts/bad.yaml")
        assert info.value.findings[0].path == "prompts/bad.yaml"
        with pytest.raises(PromptNotFound):
            snap.find_prompt("bad")


def test_load_is_cached_by_blob_sha_across_commits_and_paths(
    git_repo: GitRepoBuilder,
) -> None:
    clear_load_cache()
    git_repo.write("prompts/a.yaml", make_prompt_yaml(id="a"))
    first = git_repo.commit("a")
    git_repo.write("other.txt", "x")
    second = git_repo.commit("other")
    git_repo.move("prompts/a.yaml", "prompts/moved/a.yaml")
    third = git_repo.commit("move")
    store = Repo(str(git_repo.path)).object_store
    GitSnapshot(store, first).load("prompts/a.yaml")
    GitSnapshot(store, second).load("prompts/a.yaml")
    moved = GitSnapshot(store, third).load("prompts/moved/a.yaml")
    FolderSnapshot(git_repo.path).load("prompts/moved/a.yaml")
    info = load_cache_info()
    assert info.misses == 1
    assert info.hits == 3
    assert moved.path == "prompts/moved/a.yaml"  # re-labelled, not re-parsed


def test_symlinks_are_reported_never_followed(git_repo: GitRepoBuilder) -> None:
    git_repo.write("prompts/real.yaml", make_prompt_yaml(id="real"))
    git_repo.symlink("prompts/link.yaml", "real.yaml")
    git_repo.symlink("parts/system/secret.md", "/etc/passwd")
    git_repo.commit("links")
    for snap in _snapshots(git_repo):
        assert snap.is_symlink("prompts/link.yaml")
        assert not snap.is_symlink("prompts/real.yaml")
        assert snap.prompt_paths() == ["prompts/real.yaml"]
        assert snap.read("parts/system/secret.md") == b"/etc/passwd"
        assert snap.parts.get_source("system/secret") is None
        assert "parts/system/secret.md" in snap.content_paths()


def test_subdir_snapshot_paths_are_relative(git_repo: GitRepoBuilder) -> None:
    git_repo.write("app/main.py", "print('hi')\n")
    git_repo.write("app/llm/prompts/a.yaml", make_prompt_yaml(id="a"))
    git_repo.write("app/llm/parts/x/y.md", "part\n")
    git_repo.write("prompts/outside.yaml", make_prompt_yaml(id="outside"))
    sha = git_repo.commit("app")
    store = Repo(str(git_repo.path)).object_store
    snap = GitSnapshot(store, sha, "app/llm")
    assert snap.prompt_paths() == ["prompts/a.yaml"]
    assert snap.parts.names() == ["x/y"]
    assert snap.all_paths() == ["parts/x/y.md", "prompts/a.yaml"]
    folder = FolderSnapshot(git_repo.path / "app" / "llm")
    assert folder.prompt_paths() == ["prompts/a.yaml"]
    missing = GitSnapshot(store, sha, "no/such/dir")
    assert missing.all_paths() == []
    assert missing.prompt_paths() == []


def test_config_dirs_are_honoured(git_repo: GitRepoBuilder) -> None:
    git_repo.write("dakora.yaml", "prompts_dir: llm/prompts\nparts_dir: llm/parts\n")
    git_repo.write("llm/prompts/a.yaml", make_prompt_yaml(id="a"))
    git_repo.write("llm/parts/c/n.md", "n\n")
    git_repo.write("prompts/ignored.yaml", make_prompt_yaml(id="ignored"))
    git_repo.commit("dirs")
    for snap in _snapshots(git_repo):
        assert snap.prompt_paths() == ["llm/prompts/a.yaml"]
        assert snap.parts.names() == ["c/n"]


def test_errors_are_ours(git_repo: GitRepoBuilder, tmp_path: Path) -> None:
    git_repo.write("prompts/a.yaml", make_prompt_yaml(id="a"))
    sha = git_repo.commit("a")
    store = Repo(str(git_repo.path)).object_store
    snap = GitSnapshot(store, sha)
    with pytest.raises(NotFound):
        snap.read("prompts/none.yaml")
    with pytest.raises(NotFound):
        snap.read("prompts")  # a folder is not a file
    with pytest.raises(NotFound):
        GitSnapshot(store, "0" * 40)
    tree = git_repo.git("rev-parse", "HEAD^{tree}")
    with pytest.raises(NotFound):
        GitSnapshot(store, tree)
    folder = FolderSnapshot(git_repo.path)
    with pytest.raises(NotFound):
        folder.read("../outside")
    with pytest.raises(NotFound):
        FolderSnapshot(tmp_path / "missing")


def test_annotated_tag_sha_peels_to_commit(git_repo: GitRepoBuilder) -> None:
    git_repo.write("prompts/a.yaml", make_prompt_yaml(id="a"))
    sha = git_repo.commit("a")
    git_repo.tag("v1", message="release")
    tag_obj = git_repo.git("rev-parse", "v1")
    assert tag_obj != sha
    store = Repo(str(git_repo.path)).object_store
    assert GitSnapshot(store, tag_obj).commit == sha


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("prompts/a.yaml", True),
        ("a", True),
        ("../a", False),
        ("prompts/../a", False),
        ("/etc/passwd", False),
        ("prompts//a", False),
        ("./a", False),
        ("a\\b", False),
        ("", False),
        ("C:/x", False),
    ],
)
def test_is_safe_relpath(path: str, ok: bool) -> None:
    assert is_safe_relpath(path) is ok


def test_identities_derived_from_parent_equal_a_full_scan(
    git_repo: GitRepoBuilder,
) -> None:
    git_repo.write("prompts/a.yaml", make_prompt_yaml(id="a"))
    git_repo.write("prompts/b.yaml", make_prompt_yaml(id="b"))
    git_repo.write("prompts/sub/c.yml", make_prompt_yaml(id="c"))
    first = git_repo.commit("abc")
    git_repo.write("prompts/a.yaml", make_prompt_yaml(id="a", version="1.1.0"))
    git_repo.remove("prompts/b.yaml")
    git_repo.move("prompts/sub/c.yml", "prompts/moved/c.yaml")
    git_repo.write("prompts/broken.yaml", "id: [\n")
    git_repo.symlink("prompts/link.yaml", "a.yaml")
    git_repo.write("prompts/readme.md", "not a prompt\n")
    second = git_repo.commit("changes")
    store = Repo(str(git_repo.path)).object_store
    clear_load_cache()
    parent = GitSnapshot(store, first)
    parent.prompt_identities()  # cached by tree
    derived = GitSnapshot(store, second).prompt_identities(base=parent)
    clear_load_cache()
    full = GitSnapshot(store, second).prompt_identities()
    assert derived == full
    assert list(derived) == list(full)
    assert full == {
        "prompts/a.yaml": ("a", "1.1.0"),
        "prompts/broken.yaml": None,
        "prompts/moved/c.yaml": ("c", "1.0.0"),
    }
    assert FolderSnapshot(git_repo.path).prompt_identities() == full
