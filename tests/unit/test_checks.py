"""The checks: lint rules on folders and commits, version rules, and check_push."""

from __future__ import annotations

from pathlib import Path

import pytest
from dulwich.object_store import DiskObjectStore
from dulwich.repo import Repo

from dakora.registry.checks.run import RULES, check_push, check_snapshot
from dakora.registry.core.errors import InvalidPrompt
from dakora.registry.core.findings import Finding, has_errors
from dakora.registry.git.commit_snapshot import GitSnapshot
from dakora.registry.git.folder_snapshot import FolderSnapshot
from dakora.registry.git.repo import PromptRepository
from dakora.registry.git.walk import new_commits
from tests.fixtures.gitrepos import GitRepoBuilder, make_prompt_yaml

GREETING = make_prompt_yaml(id="greeting")  # template text on line 4


def _folder(root: Path, files: dict[str, str | bytes]) -> FolderSnapshot:
    for path, text in files.items():
        full = root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            full.write_bytes(text)
        else:
            full.write_text(text)
    return FolderSnapshot(root)


def _lint(root: Path, files: dict[str, str | bytes]) -> list[Finding]:
    found = check_snapshot(_folder(root, files))
    assert all(f.rule in RULES for f in found), found
    return [f for f in found if f.rule != "no-history"]


def _brief(findings: list[Finding]) -> list[tuple[str, int | None, str, str]]:
    return sorted((f.path, f.line, f.severity, f.rule) for f in findings)


# ------------------------------------------------------------------ per-file rules


def test_clean_folder_has_only_the_no_history_note(tmp_path: Path) -> None:
    snap = _folder(
        tmp_path,
        {
            "dakora.yaml": "default_branch: main\n",
            "parts/system/tone.md": "Be kind.\n",
            "prompts/greeting.yaml": make_prompt_yaml(
                template='{% include "system/tone" %}\nHello {{ name }}!\n'
            ),
        },
    )
    assert check_snapshot(snap) == [
        Finding(
            ".", None, "info", "no git history: version rules skipped", "no-history"
        )
    ]


def test_undeclared_variable_message_and_line(tmp_path: Path) -> None:
    found = _lint(
        tmp_path,
        {"prompts/greeting.yaml": make_prompt_yaml(template="Hi\nHello {{ nmae }}!\n")},
    )
    errors = [f for f in found if f.severity == "error"]
    assert errors == [
        Finding(
            "prompts/greeting.yaml",
            5,
            "error",
            "unknown input 'nmae' used in template",
            "undeclared-variable",
        )
    ]
    assert errors[0].format() == (
        "prompts/greeting.yaml:5: error: unknown input 'nmae' used in template "
        "[undeclared-variable]"
    )
    unused = [f for f in found if f.rule == "unused-input"]
    assert [(f.severity, f.line, f.message) for f in unused] == [
        ("warning", 7, "input 'name' is declared but never used")
    ]


def test_undeclared_variable_inside_a_part(tmp_path: Path) -> None:
    found = _lint(
        tmp_path,
        {
            "parts/system/tone.md": "Speak like {{ persona }}.\n",
            "prompts/greeting.yaml": make_prompt_yaml(
                template='Hello {{ name }}\n{% include "system/tone" %}\n'
            ),
        },
    )
    assert [(f.line, f.message) for f in found] == [
        (5, "unknown input 'persona' used in template")
    ]


def test_part_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    """It linted clean and rendered U+FFFD in place of the byte (prompts are refused)."""
    found = _lint(
        tmp_path,
        {
            "parts/system/tone.md": b"Speak like a caf\xe9 owner.\nBye.\n",
            "prompts/greeting.yaml": make_prompt_yaml(
                template='Hello {{ name }}\n{% include "system/tone" %}\n'
            ),
        },
    )
    assert [(f.path, f.line, f.severity, f.rule) for f in found] == [
        ("parts/system/tone.md", 1, "error", "template-syntax")
    ]
    assert "not valid UTF-8" in found[0].message


def test_variables_set_in_template_or_loop_are_not_inputs(tmp_path: Path) -> None:
    template = (
        "{% set greeting = 'Hi' %}{{ greeting }} {{ name }}\n"
        "{% for i in range(3) %}{{ loop.index }}{{ i }}{% endfor %}\n"
    )
    assert (
        _lint(tmp_path, {"prompts/a.yaml": make_prompt_yaml(template=template)}) == []
    )


def test_chat_prompt_names_the_message(tmp_path: Path) -> None:
    text = make_prompt_yaml(
        messages=[
            {"role": "system", "content": "You are {{ persona }}."},
            {"role": "user", "content": "{{ name }}"},
        ]
    )
    found = _lint(tmp_path, {"prompts/chat.yaml": text})
    assert [(f.rule, f.message) for f in found] == [
        ("undeclared-variable", "unknown input 'persona' used in messages[0]")
    ]
    assert found[0].line is not None and found[0].line > 2


def test_missing_include(tmp_path: Path) -> None:
    found = _lint(
        tmp_path,
        {
            "prompts/a.yaml": make_prompt_yaml(
                template='{{ name }}\n{% include "system/nope" %}\n'
            )
        },
    )
    assert [(f.line, f.rule, f.message) for f in found] == [
        (5, "missing-include", "include target 'system/nope' not found in parts/")
    ]


@pytest.mark.parametrize(
    ("template", "line"),
    [
        ("Hello {{ name }\n", 4),
        ("ok {{ name }}\nstill ok\n{% if %}\n", 6),
        ("{{ name | no_such_filter }}\n", 4),
        ("{% for x in name %}\n", 4),
    ],
)
def test_template_syntax(tmp_path: Path, template: str, line: int) -> None:
    found = _lint(tmp_path, {"prompts/a.yaml": make_prompt_yaml(template=template)})
    assert [(f.line, f.rule) for f in found] == [(line, "template-syntax")]
    assert found[0].message.startswith("template syntax error in template: ")


def test_part_syntax_error_points_at_the_part(tmp_path: Path) -> None:
    found = _lint(
        tmp_path,
        {
            "parts/system/bad.md": "line one\n{% if x %}\n",
            "prompts/a.yaml": make_prompt_yaml(
                template='{{ name }}{% include "system/bad" %}'
            ),
        },
    )
    part = [f for f in found if f.path == "parts/system/bad.md"]
    assert [(f.line, f.rule) for f in part] == [(2, "template-syntax")]
    assert any(f.path == "prompts/a.yaml" and f.rule == "include-error" for f in found)


def test_include_cycle(tmp_path: Path) -> None:
    found = _lint(
        tmp_path,
        {
            "parts/a/one.md": '{% include "a/two" %}',
            "parts/a/two.md": '{% include "a/one" %}',
            "prompts/a.yaml": make_prompt_yaml(
                template='{{ name }}{% include "a/one" %}'
            ),
        },
    )
    assert [f.rule for f in found] == ["include-error"]
    assert "cycle" in found[0].message


def test_duplicate_ids_name_both_files(tmp_path: Path) -> None:
    found = _lint(
        tmp_path,
        {
            "prompts/a.yaml": make_prompt_yaml(id="same"),
            "prompts/b/c.yaml": make_prompt_yaml(id="same"),
        },
    )
    assert [(f.path, f.line, f.rule, f.message) for f in found] == [
        (
            "prompts/b/c.yaml",
            1,
            "duplicate-id",
            "duplicate id 'same': also defined in prompts/a.yaml",
        )
    ]


def test_loader_findings_are_reported(tmp_path: Path) -> None:
    found = _lint(
        tmp_path,
        {
            "prompts/a.yaml": "id: a\nversion: 1.0\ntemplate: hi\n",
            "prompts/b.yaml": "id: b\nversion: '1.0.0'\ntemplate: hi\ninptus: {}\n",
            "prompts/c.yaml": "id: c\nid: c\n",
            "dakora.yaml": "defualt_branch: main\n",
        },
    )
    rules = {(f.path, f.rule) for f in found}
    assert ("prompts/a.yaml", "version-not-string") in rules
    assert ("prompts/b.yaml", "unknown-key") in rules
    assert ("prompts/c.yaml", "duplicate-key") in rules
    assert ("dakora.yaml", "unknown-key") in rules


def test_bad_example_inputs(tmp_path: Path) -> None:
    text = make_prompt_yaml(
        inputs={"n": {"type": "number"}},
        template="{{ n }}\n",
        examples=[{"n": "abc"}],
    )
    found = _lint(tmp_path, {"prompts/a.yaml": text})
    assert [f.rule for f in found] == ["example-inputs"]
    assert found[0].severity == "error"


def test_unsafe_paths_and_sizes(tmp_path: Path) -> None:
    snap_files = {
        "prompts/ok.yaml": GREETING,
        "parts/big/blob.md": "x" * (256 * 1024 + 1),
        "parts/ok/fine.md": "y" * (256 * 1024),
        "docs/huge.bin": b"z" * (300 * 1024),  # outside the registry content
    }
    _folder(tmp_path, snap_files)
    (tmp_path / "prompts" / "link.yaml").symlink_to("ok.yaml")
    (tmp_path / "parts" / "evil").symlink_to("/etc")
    found = _lint(tmp_path, {})
    assert _brief(found) == [
        ("parts/big/blob.md", None, "error", "file-too-large"),
        ("parts/evil", None, "error", "unsafe-path"),
        ("prompts/link.yaml", None, "error", "unsafe-path"),
    ]


def test_paths_limit_per_file_rules(tmp_path: Path) -> None:
    snap = _folder(
        tmp_path,
        {
            "prompts/bad.yaml": make_prompt_yaml(id="bad", template="{{ nope }}"),
            "prompts/ok.yaml": make_prompt_yaml(id="ok"),
        },
    )
    assert [f.rule for f in check_snapshot(snap, paths=["prompts/ok.yaml"])] == [
        "no-history"
    ]
    only_bad = check_snapshot(snap, paths=["prompts/bad.yaml"])
    assert "undeclared-variable" in {f.rule for f in only_bad}


def test_changed_part_rechecks_the_prompts_including_it(tmp_path: Path) -> None:
    snap = _folder(
        tmp_path,
        {
            "parts/s/t.md": "{{ nmae }}",
            "parts/s/wrap.md": '{% include "s/t" %}',
            "prompts/a.yaml": make_prompt_yaml(
                id="a", template='{{ name }}{% include "s/wrap.md" %}'
            ),
            # an old, unrelated problem is not this change's business
            "prompts/b.yaml": make_prompt_yaml(id="b", template="{{ legacy }}"),
        },
    )
    found = check_snapshot(snap, paths=["parts/s/t.md"])
    assert [(f.path, f.rule) for f in found if f.severity == "error"] == [
        ("prompts/a.yaml", "undeclared-variable")
    ]
    config = check_snapshot(snap, paths=["dakora.yaml"])
    assert {f.path for f in config if f.severity == "error"} == {
        "prompts/a.yaml",
        "prompts/b.yaml",
    }


# -------------------------------------------------------------------- version rules


def _bump_repo(tmp_path: Path) -> tuple[GitRepoBuilder, str]:
    r = GitRepoBuilder.init(tmp_path / "repo")
    r.write("prompts/greeting.yaml", GREETING)
    return r, r.commit("greeting 1.0.0")


@pytest.mark.parametrize(
    ("version", "template", "rule"),
    [
        ("1.0.0", "Hi {{ name }}\n", "version-not-bumped"),  # changed, same version
        ("0.9.0", "Hi {{ name }}\n", "version-not-bumped"),  # changed, lower version
        ("1.0.1", "Hi {{ name }}\n", None),
        ("2.0.0-rc.1", "Hi {{ name }}\n", None),
        ("1.0.0", "Hello {{ name }}!\n", None),  # unchanged
        ("1.0.1", "Hello {{ name }}!\n", None),  # only the version moved
    ],
)
def test_version_bump_against_parent(
    tmp_path: Path, version: str, template: str, rule: str | None
) -> None:
    r, parent_sha = _bump_repo(tmp_path)
    r.write(
        "prompts/greeting.yaml", make_prompt_yaml(version=version, template=template)
    )
    store = Repo(str(r.path)).object_store
    parent = GitSnapshot(store, parent_sha)
    # the working tree against HEAD (what `dakora lint` does) …
    found = check_snapshot(FolderSnapshot(r.path), parent=parent)
    # … and the commit against its parent (what a push does)
    head = r.commit("change", allow_empty=True)
    found_commit = check_snapshot(GitSnapshot(store, head), parent=parent)
    for result in (found, found_commit):
        rules = [f.rule for f in result]
        assert rules == ([rule] if rule else []), result
        if rule:
            assert result[0].line == 2  # the version line
    if rule and version == "1.0.0":
        assert found[0].message == (
            "'greeting' changed but its version 1.0.0 is not greater than 1.0.0 on "
            "the parent commit"
        )


def test_version_reused_via_lookup(tmp_path: Path) -> None:
    r, parent_sha = _bump_repo(tmp_path)
    r.write(
        "prompts/greeting.yaml",
        make_prompt_yaml(version="1.1.0", template="A {{ name }}\n"),
    )
    head = r.commit("1.1.0 with A")
    store = Repo(str(r.path)).object_store
    snap, parent = GitSnapshot(store, head), GitSnapshot(store, parent_sha)
    blob = snap.blob_sha("prompts/greeting.yaml")
    seen = {("greeting", "1.1.0"): "f" * 40}
    found = check_snapshot(
        snap, parent=parent, version_lookup=lambda i, v: seen.get((i, v))
    )
    assert [(f.rule, f.line) for f in found if f.severity == "error"] == [
        ("version-reused", 2)
    ]
    assert "version 1.1.0 of 'greeting' already names different content" in (
        found[0].message
    )
    seen[("greeting", "1.1.0")] = blob  # same content: fine
    same = check_snapshot(
        snap, parent=parent, version_lookup=lambda i, v: seen.get((i, v))
    )
    assert not has_errors(same)


def test_repo_version_lookup_sees_other_branches(tmp_path: Path) -> None:
    r, _ = _bump_repo(tmp_path)
    r.switch("other", create=True)
    r.write(
        "prompts/greeting.yaml",
        make_prompt_yaml(version="1.1.0", template="X {{ name }}\n"),
    )
    r.commit("1.1.0 = X on other")
    r.switch("main")
    r.write(
        "prompts/greeting.yaml",
        make_prompt_yaml(version="1.1.0", template="Y {{ name }}\n"),
    )
    with PromptRepository.open(r.path) as repo:
        lookup = repo.version_lookup()
        found = check_snapshot(
            repo.working_tree(), parent=repo.snapshot("HEAD"), version_lookup=lookup
        )
    assert [f.rule for f in found] == ["version-reused"]


# ---------------------------------------------------------------------- check_push


def _push_repo(tmp_path: Path) -> tuple[GitRepoBuilder, str]:
    r = GitRepoBuilder.init(tmp_path / "push")
    r.write("parts/system/tone.md", "Be kind.\n")
    r.write(
        "prompts/greeting.yaml",
        make_prompt_yaml(template='{% include "system/tone" %}\nHello {{ name }}!\n'),
    )
    r.write("prompts/other.yaml", make_prompt_yaml(id="other"))
    return r, r.commit("base")


def test_push_fixed_in_tip_names_the_commit(tmp_path: Path) -> None:
    r, base = _push_repo(tmp_path)
    r.write(
        "prompts/other.yaml",
        make_prompt_yaml(id="other", version="1.0.1", template="{{ nmae }}"),
    )
    bad = r.commit("typo")
    r.write("prompts/other.yaml", make_prompt_yaml(id="other", version="1.0.2"))
    tip = r.commit("fix")
    store = Repo(str(r.path)).object_store
    found = check_push(store, base, tip, exclude=[base])
    errors = [f for f in found if f.severity == "error"]
    assert [f.message for f in errors] == [
        f"unknown input 'nmae' used in template (commit {bad[:7]})"
    ]


def test_push_problem_still_in_tip_has_no_sha(tmp_path: Path) -> None:
    r, base = _push_repo(tmp_path)
    r.write(
        "prompts/other.yaml",
        make_prompt_yaml(id="other", version="1.0.1", template="{{ nmae }}"),
    )
    r.commit("typo")
    r.write("README.md", "unrelated\n")
    tip = r.commit("readme")
    store = Repo(str(r.path)).object_store
    found = check_push(store, base, tip, exclude=[base])
    assert [(f.path, f.line, f.message) for f in found if f.severity == "error"] == [
        ("prompts/other.yaml", 3, "unknown input 'nmae' used in template")
    ]


def test_push_version_rules_per_commit(tmp_path: Path) -> None:
    r, base = _push_repo(tmp_path)
    r.write(
        "prompts/other.yaml",
        make_prompt_yaml(id="other", version="1.1.0", template="A {{ name }}"),
    )
    r.commit("1.1.0 = A")
    r.write(
        "prompts/other.yaml",
        make_prompt_yaml(id="other", version="1.1.0", template="B {{ name }}"),
    )
    tip = r.commit("1.1.0 = B")
    store = Repo(str(r.path)).object_store
    found = check_push(store, base, tip, exclude=[base])
    assert [(f.rule, f.line) for f in found] == [("version-not-bumped", 2)]


def test_push_reuse_across_refs_in_one_push(tmp_path: Path) -> None:
    """Two branches in one push giving 1.1.0 different content: the second ref's
    check sees the first through a shared lookup (the receive pipeline's job)."""
    r, base = _push_repo(tmp_path)
    r.switch("a", create=True)
    r.write(
        "prompts/other.yaml",
        make_prompt_yaml(id="other", version="1.1.0", template="A {{ name }}"),
    )
    tip_a = r.commit("A")
    r.switch("main")
    r.switch("b", create=True)
    r.write(
        "prompts/other.yaml",
        make_prompt_yaml(id="other", version="1.1.0", template="B {{ name }}"),
    )
    tip_b = r.commit("B")
    store = Repo(str(r.path)).object_store
    assert check_push(store, base, tip_a, exclude=[base]) == []
    a_blob = GitSnapshot(store, tip_a).blob_sha("prompts/other.yaml")
    table = {("other", "1.1.0"): a_blob}
    found = check_push(
        store,
        base,
        tip_b,
        exclude=[base],
        version_lookup=lambda i, v: table.get((i, v)),
    )
    assert [f.rule for f in found] == ["version-reused"]


def test_push_only_checks_new_commits(tmp_path: Path) -> None:
    r, _ = _push_repo(tmp_path)
    r.write("prompts/broken.yaml", "id: [\n")
    old_bad = r.commit("legacy problem already in the repo")
    r.write("prompts/new.yaml", make_prompt_yaml(id="new"))
    tip = r.commit("good change")
    store = Repo(str(r.path)).object_store
    assert check_push(store, old_bad, tip, exclude=[old_bad]) == []
    assert check_push(store, old_bad, old_bad, exclude=[old_bad]) == []  # no new commit
    assert check_push(store, old_bad, "0" * 40, exclude=[old_bad]) == []  # deletion
    everything = check_push(store, None, tip, exclude=[])
    assert [f.rule for f in everything] == ["yaml-syntax"]


def test_push_part_change_breaks_a_prompt(tmp_path: Path) -> None:
    r, base = _push_repo(tmp_path)
    r.write("parts/system/tone.md", "Talk to {{ nmae }}.\n")
    tip = r.commit("part typo")
    r.remove("parts/system/tone.md")
    tip2 = r.commit("part gone")
    store = Repo(str(r.path)).object_store
    found = check_push(store, base, tip, exclude=[base])
    assert [(f.path, f.rule) for f in found] == [
        ("prompts/greeting.yaml", "undeclared-variable")
    ]
    gone = check_push(store, tip, tip2, exclude=[tip])
    assert [(f.path, f.rule) for f in gone] == [
        ("prompts/greeting.yaml", "missing-include")
    ]


def test_push_symlink_and_duplicate_id(tmp_path: Path) -> None:
    r, base = _push_repo(tmp_path)
    r.symlink("prompts/link.yaml", "greeting.yaml")
    r.write("prompts/copy.yaml", make_prompt_yaml(id="other"))
    tip = r.commit("bad")
    store = Repo(str(r.path)).object_store
    found = check_push(store, base, tip, exclude=[base])
    assert sorted((f.path, f.rule) for f in found) == [
        ("prompts/copy.yaml", "duplicate-id"),
        ("prompts/link.yaml", "unsafe-path"),
    ]
    dup = next(f for f in found if f.rule == "duplicate-id")
    assert dup.message == "duplicate id 'other': also defined in prompts/other.yaml"


def test_push_in_subfolder_reports_relative_paths(tmp_path: Path) -> None:
    r = GitRepoBuilder.init(tmp_path / "app")
    r.write("llm/prompts/a.yaml", make_prompt_yaml(id="a"))
    r.write("src/x.py", "x\n")
    base = r.commit("base")
    r.write("llm/prompts/a.yaml", make_prompt_yaml(id="a", template="{{ nmae }}"))
    tip = r.commit("bad")
    store = Repo(str(r.path)).object_store
    found = check_push(store, base, tip, exclude=[base], subdir="llm")
    assert sorted((f.path, f.rule) for f in found) == [
        ("prompts/a.yaml", "undeclared-variable"),
        ("prompts/a.yaml", "unused-input"),
        ("prompts/a.yaml", "version-not-bumped"),
    ]


def test_push_through_a_quarantine_store(tmp_path: Path) -> None:
    """Old objects via alternates, new ones only in the quarantine (docs/design.md §12)."""
    r, base = _push_repo(tmp_path)
    server = r.clone_bare(tmp_path / "server.git")
    r.write("prompts/other.yaml", make_prompt_yaml(id="other", template="{{ nmae }}"))
    tip = r.commit("bad")
    server_store = Repo(str(server)).object_store
    qdir = tmp_path / "server.git" / "objects" / "incoming-test"
    quarantine = DiskObjectStore.init(str(qdir))
    quarantine.add_alternate_path(str(server / "objects"))
    local = Repo(str(r.path)).object_store
    for sha in local:
        if sha not in server_store:
            quarantine.add_object(local[sha])
    assert tip.encode() not in server_store
    assert new_commits(quarantine, tip, [base]) == [tip]
    found = check_push(quarantine, base, tip, exclude=[base])
    assert sorted(f.rule for f in found) == [
        "undeclared-variable",
        "unused-input",
        "version-not-bumped",
    ]


def test_unchanged_prompt_is_not_checked_against_the_lookup(tmp_path: Path) -> None:
    """Legacy history may hold another blob for the same version; a file the change
    doesn't touch must not be blamed for it."""
    r, parent_sha = _bump_repo(tmp_path)
    store = Repo(str(r.path)).object_store
    parent = GitSnapshot(store, parent_sha)
    found = check_snapshot(
        FolderSnapshot(r.path), parent=parent, version_lookup=lambda i, v: "e" * 40
    )
    assert found == []


def test_dotdot_tree_entry_is_unsafe() -> None:
    """git refuses to make such a tree, but a hand-made pack can carry one."""
    from dulwich.object_store import MemoryObjectStore
    from dulwich.objects import Blob, Commit, Tree

    store = MemoryObjectStore()
    blob = Blob.from_string(make_prompt_yaml(id="evil").encode())
    inner = Tree()
    inner.add(b"evil.yaml", 0o100644, blob.id)
    prompts = Tree()
    prompts.add(b"..", 0o040000, inner.id)
    prompts.add(b"ok.yaml", 0o100644, blob.id)
    root = Tree()
    root.add(b"prompts", 0o040000, prompts.id)
    commit = Commit()
    commit.tree = root.id
    commit.author = commit.committer = b"A <a@example.com>"
    commit.commit_time = commit.author_time = 0
    commit.commit_timezone = commit.author_timezone = 0
    commit.message = b"evil"
    for obj in (blob, inner, prompts, root, commit):
        store.add_object(obj)
    found = check_push(store, None, commit.id.decode(), exclude=[])
    assert ("prompts/../evil.yaml", "unsafe-path") in {(f.path, f.rule) for f in found}


def test_oversized_prompt_file_is_never_parsed(tmp_path: Path) -> None:
    big = make_prompt_yaml(id="big", description="x" * (256 * 1024))
    snap = _folder(tmp_path, {"prompts/big.yaml": big, "prompts/ok.yaml": GREETING})
    found = [f for f in check_snapshot(snap) if f.rule != "no-history"]
    assert _brief(found) == [("prompts/big.yaml", None, "error", "file-too-large")]
    with pytest.raises(InvalidPrompt):
        snap.load("prompts/big.yaml")
