"""The receive pipeline through the real ``git`` CLI and a real server process.

Every rejection is checked the way a user and an operator would: git's output
(``remote: error: <file>:<line>: …`` and ``! [remote rejected] … (prompt checks
failed)``, non-zero exit), the repository's refs, and the objects on disk (git will not
fetch an unadvertised sha, so the quarantine is verified inside the repository).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fixtures.gitrepos import GitRepoBuilder, make_prompt_yaml
from tests.integration.git_server_support import (
    GitServer,
    Project,
    bare_objects,
    bare_refs,
    quarantine_dirs,
    run_git,
)

pytestmark = pytest.mark.integration

REJECTED_MAIN = "! [remote rejected] main -> main (prompt checks failed)"
TONE = "Be kind and brief.\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServer]:
    srv = GitServer(tmp_path_factory.mktemp("git-server"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def project(server: GitServer) -> Project:
    return Project(server)


def greeting(version: str = "1.0.0", template: str = "Hello {{ name }}!\n") -> str:
    return make_prompt_yaml(id="greeting", version=version, template=template)


@pytest.fixture
def work(project: Project, tmp_path: Path) -> GitRepoBuilder:
    """A clone with one accepted commit (dakora.yaml, a part, the greeting prompt)."""
    repo = GitRepoBuilder(project.clone(tmp_path / "work"))
    repo.write("dakora.yaml", "default_branch: main\n")
    repo.write("parts/system/tone.md", TONE)
    repo.write("prompts/greeting.yaml", greeting())
    repo.commit("first prompt")
    out = run_git(repo.path, "push", "origin", "HEAD:refs/heads/main")
    assert out.returncode == 0, out.stderr
    return repo


def push(repo: GitRepoBuilder, *refspecs: str) -> tuple[int, str]:
    out = run_git(repo.path, "push", "origin", *(refspecs or ("main",)))
    return out.returncode, out.stdout + out.stderr


def assert_rejected(
    project: Project,
    before_refs: dict[str, str],
    before_objects: set[str],
    rc: int,
    output: str,
    error: str,
    rejected_line: str = REJECTED_MAIN,
) -> None:
    assert rc != 0, output
    assert rejected_line in output, output
    assert re.search(error, output), f"{error!r} not in:\n{output}"
    assert "hung up" not in output
    assert bare_refs(project.path) == before_refs
    assert bare_objects(project.path) == before_objects
    assert quarantine_dirs(project.path) == []


# -- accepted pushes ----------------------------------------------------------------------


def test_push_new_prompt_is_accepted_with_summary(
    project: Project, tmp_path: Path
) -> None:
    repo = GitRepoBuilder(project.clone(tmp_path / "w"))
    repo.write("prompts/greeting.yaml", greeting())
    sha = repo.commit("add greeting")
    rc, output = push(repo)
    assert rc == 0, output
    assert "remote: dakora: main: 1 added, 0 changed, 0 removed" in output
    assert "remote: dakora:   + greeting 1.0.0" in output
    assert bare_refs(project.path) == {"refs/heads/main": sha}
    assert quarantine_dirs(project.path) == []
    assert project.server.pushes()[-1]["result"] == "ok"


def test_push_update_with_bump(project: Project, work: GitRepoBuilder) -> None:
    work.write("prompts/greeting.yaml", greeting("1.1.0", "Hi {{ name }}!\n"))
    sha = work.commit("bump greeting")
    rc, output = push(work)
    assert rc == 0, output
    assert "remote: dakora:   ~ greeting 1.0.0 -> 1.1.0" in output
    assert bare_refs(project.path)["refs/heads/main"] == sha


def test_new_branch_at_existing_commit_sends_empty_pack(
    project: Project, work: GitRepoBuilder
) -> None:
    packs = sorted((project.path / "objects" / "pack").iterdir())
    rc, output = push(work, "HEAD:refs/heads/staging", "HEAD:refs/tags/v1")
    assert rc == 0, output
    refs = bare_refs(project.path)
    assert refs["refs/heads/staging"] == refs["refs/heads/main"]
    assert refs["refs/tags/v1"] == refs["refs/heads/main"]
    # the empty pack git sends for existing commits is not moved in
    assert sorted((project.path / "objects" / "pack").iterdir()) == packs


def test_annotated_tag_and_new_branch_with_new_commit(
    project: Project, work: GitRepoBuilder
) -> None:
    work.write("prompts/greeting.yaml", greeting("1.3.0", "Hey {{ name }}\n"))
    sha = work.commit("bump on a branch")
    work.tag("release-1", message="annotated release")
    rc, output = push(work, "HEAD:refs/heads/release", "refs/tags/release-1")
    assert rc == 0, output
    assert "remote: dakora: release: 0 added, 1 changed, 0 removed" in output
    refs = bare_refs(project.path)
    assert refs["refs/heads/release"] == sha
    peeled = run_git(
        project.path,
        "--git-dir",
        str(project.path),
        "rev-parse",
        "refs/tags/release-1^{commit}",
    )
    assert peeled.stdout.strip() == sha


def test_deleting_a_feature_branch_is_allowed(
    project: Project, work: GitRepoBuilder
) -> None:
    assert push(work, "HEAD:refs/heads/feature")[0] == 0
    rc, output = push(work, ":refs/heads/feature")
    assert rc == 0, output
    assert "refs/heads/feature" not in bare_refs(project.path)


# -- each check failure ------------------------------------------------------------------


def _bad_yaml(repo: GitRepoBuilder) -> None:
    repo.write(
        "prompts/greeting.yaml",
        'id: greeting\nversion: "1.1.0"\ntemplate: "Hello {{ name }}\ninputs: [\n',
    )


def _unknown_key(repo: GitRepoBuilder) -> None:
    text = greeting("1.1.0") + "inptus:\n  name: {type: string}\n"
    repo.write("prompts/greeting.yaml", text)


def _undeclared_variable(repo: GitRepoBuilder) -> None:
    repo.write("prompts/greeting.yaml", greeting("1.1.0", "Hello {{ nmae }}!\n"))


def _missing_include(repo: GitRepoBuilder) -> None:
    template = '{% include "system/missing" %}\nHello {{ name }}!\n'
    repo.write("prompts/greeting.yaml", greeting("1.1.0", template))


def _no_version_bump(repo: GitRepoBuilder) -> None:
    repo.write("prompts/greeting.yaml", greeting("1.0.0", "Changed {{ name }}!\n"))


def _duplicate_id(repo: GitRepoBuilder) -> None:
    repo.write("prompts/copy.yaml", greeting("2.0.0", "Copy {{ name }}\n"))


def _symlink(repo: GitRepoBuilder) -> None:
    repo.symlink("prompts/link.yaml", "greeting.yaml")


CASES: dict[str, tuple[Callable[[GitRepoBuilder], None], str]] = {
    "bad-yaml": (_bad_yaml, r"remote: error: prompts/greeting\.yaml:\d+: "),
    "unknown-key": (
        _unknown_key,
        r"remote: error: prompts/greeting\.yaml:\d+: .*inptus",
    ),
    "undeclared-variable": (
        _undeclared_variable,
        r"remote: error: prompts/greeting\.yaml:\d+: .*nmae",
    ),
    "missing-include": (
        _missing_include,
        r"remote: error: prompts/greeting\.yaml:\d+: .*system/missing",
    ),
    "no-version-bump": (
        _no_version_bump,
        r"remote: error: prompts/greeting\.yaml:\d+: ",
    ),
    "duplicate-id": (
        _duplicate_id,
        r"remote: error: prompts/(copy|greeting)\.yaml(:\d+)?: ",
    ),
    "symlink": (_symlink, r"remote: error: prompts/link\.yaml(:\d+)?: "),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_failure_rejects_the_push(
    case: str, project: Project, work: GitRepoBuilder
) -> None:
    change, error = CASES[case]
    before_refs, before_objects = bare_refs(project.path), bare_objects(project.path)
    change(work)
    work.commit(f"broken: {case}")
    rc, output = push(work)
    assert_rejected(project, before_refs, before_objects, rc, output, error)
    assert project.server.pushes()[-1]["result"] == "rejected"


def test_version_reused_on_another_branch_is_rejected(
    project: Project, work: GitRepoBuilder
) -> None:
    base = work.head()
    work.write("prompts/greeting.yaml", greeting("1.1.0", "Feature {{ name }}\n"))
    work.commit("feature 1.1.0")
    rc, output = push(work, "HEAD:refs/heads/feature")
    assert rc == 0, output
    run_git(work.path, "reset", "-q", "--hard", base)
    work.write("prompts/greeting.yaml", greeting("1.1.0", "Main {{ name }}\n"))
    work.commit("main 1.1.0, different content")
    before_refs, before_objects = bare_refs(project.path), bare_objects(project.path)
    rc, output = push(work)
    assert_rejected(
        project,
        before_refs,
        before_objects,
        rc,
        output,
        r"remote: error: prompts/greeting\.yaml:\d+: .*1\.1\.0",
    )


def test_dotdot_path_is_rejected(project: Project, work: GitRepoBuilder) -> None:
    blob = run_git(work.path, "rev-parse", "HEAD:prompts/greeting.yaml").stdout.strip()
    root = run_git(work.path, "rev-parse", "HEAD^{tree}").stdout.strip()
    listing = run_git(work.path, "ls-tree", root).stdout
    entries = listing + f"100644 blob {blob}\t..\n"
    tree = _mktree(work.path, entries)
    commit = run_git(work.path, "commit-tree", tree, "-p", "HEAD", "-m", "dotdot")
    assert commit.returncode == 0, commit.stderr
    before_refs, before_objects = bare_refs(project.path), bare_objects(project.path)
    out = run_git(
        work.path, "push", "origin", f"{commit.stdout.strip()}:refs/heads/main"
    )
    assert_rejected(
        project,
        before_refs,
        before_objects,
        out.returncode,
        out.stdout + out.stderr,
        r"remote: error: \.\.(:\d+)?: |remote: error: .*\.\.",
        "! [remote rejected]",
    )


def _mktree(cwd: Path, entries: str) -> str:
    import subprocess

    proc = subprocess.run(
        ["git", "mktree"], cwd=cwd, input=entries, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_force_push_to_main_is_rejected(project: Project, work: GitRepoBuilder) -> None:
    run_git(work.path, "commit", "-q", "--amend", "-m", "rewritten")
    before_refs, before_objects = bare_refs(project.path), bare_objects(project.path)
    rc, output = push(work, "--force", "main")
    assert_rejected(
        project,
        before_refs,
        before_objects,
        rc,
        output,
        r"remote: error: refs/heads/main: non-fast-forward",
        "! [remote rejected] main -> main (non-fast-forward update (force push) of the "
        "protected ref main is not allowed)",
    )


def test_delete_main_is_rejected(project: Project, work: GitRepoBuilder) -> None:
    before_refs, before_objects = bare_refs(project.path), bare_objects(project.path)
    rc, output = push(work, ":refs/heads/main")
    assert_rejected(
        project,
        before_refs,
        before_objects,
        rc,
        output,
        r"remote: error: refs/heads/main: cannot delete",
        "! [remote rejected] main (cannot delete the protected ref main)",
    )


def test_protected_refs_from_dakora_yaml(
    project: Project, work: GitRepoBuilder
) -> None:
    work.write("dakora.yaml", "default_branch: main\nprotected_refs: [production]\n")
    work.commit("protect production")
    assert push(work)[0] == 0
    assert push(work, "HEAD:refs/heads/production")[0] == 0
    before_refs, before_objects = bare_refs(project.path), bare_objects(project.path)
    rc, output = push(work, ":refs/heads/production")
    assert_rejected(
        project,
        before_refs,
        before_objects,
        rc,
        output,
        r"remote: error: refs/heads/production: cannot delete",
        "! [remote rejected] production (cannot delete the protected ref production)",
    )


def test_file_size_limit(project: Project, work: GitRepoBuilder) -> None:
    import os

    work.write("docs/huge.bin", os.urandom(3 * 1024 * 1024))
    work.commit("a file over the limit")
    before_refs, before_objects = bare_refs(project.path), bare_objects(project.path)
    rc, output = push(work)
    assert_rejected(
        project,
        before_refs,
        before_objects,
        rc,
        output,
        r"remote: error: docs/huge\.bin: file is \d+ bytes",
    )


# -- all or nothing ------------------------------------------------------------------------


@pytest.mark.parametrize("atomic", [False, True], ids=["plain", "atomic"])
def test_mixed_push_one_bad_ref_rejects_both(
    atomic: bool, project: Project, work: GitRepoBuilder
) -> None:
    base = work.head()
    work.switch("feature", create=True)
    work.write("prompts/other.yaml", make_prompt_yaml(id="other"))
    work.commit("good change on feature")
    work.switch("main")
    work.write(
        "docs/huge.bin", b"\0" * 1024 + __import__("os").urandom(3 * 1024 * 1024)
    )
    work.commit("bad change on main")
    assert base != work.head()
    before_refs, before_objects = bare_refs(project.path), bare_objects(project.path)
    flags = ["--atomic"] if atomic else []
    rc, output = push(
        work, *flags, "main:refs/heads/main", "feature:refs/heads/feature"
    )
    assert rc != 0
    assert "! [remote rejected] main -> main (prompt checks failed)" in output
    assert "! [remote rejected] feature -> feature (prompt checks failed)" in output
    assert bare_refs(project.path) == before_refs
    assert bare_objects(project.path) == before_objects


# -- concurrency --------------------------------------------------------------------------


def test_twenty_concurrent_pushes_exactly_one_wins(
    project: Project, work: GitRepoBuilder, tmp_path: Path
) -> None:
    base = work.head()
    clones: list[GitRepoBuilder] = []
    for i in range(20):
        repo = GitRepoBuilder(project.clone(tmp_path / f"c{i}"))
        repo.write(f"prompts/new-{i}.yaml", make_prompt_yaml(id=f"new-{i}"))
        repo.commit(f"add new-{i}")
        clones.append(repo)
    results: list[tuple[int, str, str]] = [(0, "", "")] * 20
    barrier = threading.Barrier(20)

    def run(i: int) -> None:
        barrier.wait()
        rc, output = push(clones[i])
        results[i] = (rc, output, clones[i].head())

    threads = [threading.Thread(target=run, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if r[0] == 0]
    losers = [r for r in results if r[0] != 0]
    assert len(winners) == 1, [r[1] for r in results]
    assert len(losers) == 19
    for _rc, output, _sha in losers:
        assert "rejected" in output, output
        assert " main -> main\n" not in output.replace("\r", "\n") or "!" in output
    main = bare_refs(project.path)["refs/heads/main"]
    assert main == winners[0][2]
    parents = run_git(project.path, "--git-dir", str(project.path), "rev-list", main)
    history = parents.stdout.split()
    assert history == [main, base], "the winner's commit sits on the old base"
    oks = [p for p in project.server.pushes() if p["result"] == "ok"]
    assert sum(1 for p in oks if p["updates"][0][2] == main) == 1
    assert quarantine_dirs(project.path) == []


# -- crash safety ---------------------------------------------------------------------------


def test_kill_during_push_then_restart_is_consistent(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    import os

    srv = GitServer(tmp_path_factory.mktemp("kill-server"))
    srv.start()
    try:
        proj = Project(srv)
        repo = GitRepoBuilder(proj.clone(tmp_path / "w"))
        repo.write("prompts/greeting.yaml", greeting())
        first = repo.commit("first")
        assert push(repo)[0] == 0
        for i in range(6):
            repo.write(f"docs/blob-{i}.bin", os.urandom(1024 * 1024))
        repo.commit("big")
        proc = __import__("subprocess").Popen(
            [
                "git",
                "-c",
                "http.postBuffer=65536",
                "push",
                "origin",
                "HEAD:refs/heads/main",
            ],
            cwd=repo.path,
            stdout=__import__("subprocess").PIPE,
            stderr=__import__("subprocess").STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not quarantine_dirs(proj.path):
            time.sleep(0.005)
        srv.kill()
        proc.wait(timeout=60)
        # a stale ref lock, as a kill in the middle of a ref update leaves it
        lock = proj.path / "refs" / "heads" / "main.lock"
        lock.write_text("garbage\n")
        os.utime(lock, (time.time() - 60, time.time() - 60))  # crashed a minute ago
        srv.start()
        assert quarantine_dirs(proj.path) == []
        assert not (proj.path / "refs" / "heads" / "main.lock").exists()
        fsck = run_git(proj.path, "--git-dir", str(proj.path), "fsck", "--no-dangling")
        assert fsck.returncode == 0, fsck.stdout + fsck.stderr
        refs = bare_refs(proj.path)
        landed = [p for p in srv.pushes() if p["result"] == "ok"]
        # refs and the push log agree: the big push either landed or left nothing
        assert refs["refs/heads/main"] == landed[-1]["updates"][0][2]
        assert refs["refs/heads/main"] in (first, repo.head())
        rc, output = push(repo)
        assert rc == 0, output
        assert bare_refs(proj.path)["refs/heads/main"] == repo.head()
    finally:
        srv.stop()


# -- dulwich's own hook scripts never run (docs/design.md §12) ------------------------------------


def test_repository_hook_scripts_do_not_change_the_outcome(
    project: Project, work: GitRepoBuilder
) -> None:
    hooks = project.path / "hooks"
    hooks.mkdir(exist_ok=True)
    for name, body in (
        ("pre-receive", "#!/bin/sh\necho refused >&2\nexit 1\n"),
        ("post-receive", "#!/bin/sh\necho noise on stderr >&2\nexit 0\n"),
    ):
        (hooks / name).write_text(body)
        (hooks / name).chmod(0o755)
    work.write("prompts/greeting.yaml", greeting("1.2.0", "Yo {{ name }}\n"))
    sha = work.commit("bump")
    rc, output = push(work)
    assert rc == 0, output
    assert "noise on stderr" not in output
    assert bare_refs(project.path)["refs/heads/main"] == sha


def test_a_good_ref_refused_because_another_ref_broke_a_rule_says_so(
    project: Project, work: GitRepoBuilder
) -> None:
    """All or nothing: the innocent ref is told why it did not land."""
    work.switch("feature", create=True)
    work.write("prompts/other.yaml", make_prompt_yaml(id="other"))
    work.commit("good change on feature")
    before_refs, before_objects = bare_refs(project.path), bare_objects(project.path)
    rc, output = push(work, "feature:refs/heads/feature", ":refs/heads/main")
    assert rc != 0
    assert "! [remote rejected] main (cannot delete the protected ref main)" in output
    assert (
        "! [remote rejected] feature -> feature (another ref of this push was "
        "refused; nothing was applied)"
    ) in output
    assert bare_refs(project.path) == before_refs
    assert bare_objects(project.path) == before_objects
