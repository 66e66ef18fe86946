"""The receive pipeline's phases 1–2 (hooks/receive.py, docs/design.md §6): the
quarantine's object checks, the push checks, how a refusal is reported, and the
summary of an accepted push.

Every push here is real: the commits are made by ``git``, the pack is
``git pack-objects --thin`` of exactly what ``git push`` would send, it is read into a
real ``Quarantine`` of a bare repository made by ``git init --bare`` and run through
``ReceivePipeline.process`` with the default checks — what ``api/git_wsgi.py`` does
with a pushed pack, in this process (seconds per mutant in ``make mutation``, and the
mutant is what runs: a live server would import the checkout instead of the
mutation's copy)."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from dulwich.object_store import BaseObjectStore
from dulwich.repo import Repo

from dakora.hooks import PushContext, Quarantine, ReceivePipeline, RefUpdate
from dakora.hooks.locks import LocalProjectLock
from dakora.hooks.receive import (
    ATOMIC,
    CHECKS_FAILED,
    STALE,
    PushResult,
    repo_default_branch,
    repo_refs,
)
from dakora.registry.checks import PushLimits
from dakora.registry.core import ZERO_SHA, Finding, StorageError
from tests.fixtures.gitrepos import GitRepoBuilder, make_prompt_yaml
from tests.integration.git_server_support import bare_refs, run_git

pytestmark = pytest.mark.integration


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    path = tmp_path / "server.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    return path


@pytest.fixture
def work(bare: Path, tmp_path: Path) -> GitRepoBuilder:
    """A clone whose first commit (the greeting prompt, 1.0.0) the server has."""
    repo = GitRepoBuilder.init(tmp_path / "work")
    repo.write("prompts/greeting.yaml", make_prompt_yaml(id="greeting"))
    repo.commit("first")
    out = run_git(repo.path, "push", str(bare), "main")
    assert out.returncode == 0, out.stderr
    return repo


def greeting(version: str, template: str = "Hello {{ name }}!\n") -> str:
    return make_prompt_yaml(id="greeting", version=version, template=template)


class Push:
    """One push of ``work``'s objects to ``bare``: its pack, its pipeline, its output."""

    def __init__(self, bare: Path, work: GitRepoBuilder) -> None:
        self.bare = bare
        self.work = work
        self.progress: list[str] = []
        self.repo_path = str(bare)  # how the pipeline's ``Repo`` is opened

    def pack(self, updates: list[RefUpdate]) -> bytes:
        have = list(bare_refs(self.bare).values())  # what the server has
        wants = [u.new for u in updates if u.new != ZERO_SHA]
        revs = "\n".join(wants + [f"^{h}" for h in have]) + "\n"
        return subprocess.run(
            ["git", "pack-objects", "--stdout", "--revs", "--thin", "-q"],
            cwd=self.work.path,
            input=revs.encode(),
            capture_output=True,
            check=True,
        ).stdout

    def __call__(
        self,
        updates: list[RefUpdate],
        pipeline: ReceivePipeline | None = None,
        *,
        objects: bool = True,
        **kwargs: Any,
    ) -> PushResult:
        repo = Repo(self.repo_path)
        try:
            if not objects:  # a push that only deletes or moves refs: no pack
                return (pipeline or ReceivePipeline()).process(
                    repo, updates, progress=self.progress.append, **kwargs
                )
            with Quarantine(str(self.bare / "objects")) as quarantine:
                stream = BytesIO(self.pack(updates))
                quarantine.receive_pack(stream.read, stream.read)
                return (pipeline or ReceivePipeline()).process(
                    repo,
                    updates,
                    quarantine=quarantine,
                    progress=self.progress.append,
                    **kwargs,
                )
        finally:
            repo.close()


@pytest.fixture
def push(bare: Path, work: GitRepoBuilder) -> Push:
    return Push(bare, work)


def assert_nothing_applied(bare: Path, before: dict[str, str], *shas: str) -> None:
    assert bare_refs(bare) == before
    for sha in shas:  # the quarantine was deleted with the pushed objects
        out = run_git(bare, "--git-dir", str(bare), "cat-file", "-e", sha)
        assert out.returncode != 0, f"{sha} reached the repository"


# -- accepted pushes and their summary --------------------------------------------


def test_an_accepted_push_moves_the_ref_and_says_what_changed(
    bare: Path, work: GitRepoBuilder, push: Push
) -> None:
    base = work.head()
    work.write("prompts/greeting.yaml", greeting("1.1.0", "Hi {{ name }}\n"))
    work.write("prompts/farewell.yaml", make_prompt_yaml(id="farewell"))
    new = work.commit("bump and add")
    result = push([RefUpdate(base, new, "refs/heads/main")])
    assert result.accepted
    assert result.reason is None
    assert result.statuses == [("refs/heads/main", "ok")]
    assert result.findings == []
    assert result.messages == [
        "dakora: main: 1 added, 1 changed, 0 removed",
        "dakora:   + farewell 1.0.0",
        "dakora:   ~ greeting 1.0.0 -> 1.1.0",
    ]
    assert push.progress == result.messages  # each line reached the pusher too
    assert bare_refs(bare)["refs/heads/main"] == new
    assert run_git(bare, "--git-dir", str(bare), "cat-file", "-t", new).stdout == (
        "commit\n"
    )


def test_without_the_summary_an_accepted_push_says_nothing(
    bare: Path, work: GitRepoBuilder, push: Push
) -> None:
    base = work.head()
    work.write("prompts/greeting.yaml", greeting("1.1.0", "Hi {{ name }}\n"))
    new = work.commit("bump")
    result = push(
        [RefUpdate(base, new, "refs/heads/main")], ReceivePipeline(summary=False)
    )
    assert result.accepted
    assert result.messages == [] and push.progress == []
    assert bare_refs(bare)["refs/heads/main"] == new


def test_a_new_branch_is_summarised_against_the_default_branch(
    bare: Path, work: GitRepoBuilder, push: Push
) -> None:
    main = work.head()
    work.switch("feature", create=True)
    work.write("prompts/farewell.yaml", make_prompt_yaml(id="farewell"))
    new = work.commit("add farewell")
    result = push([RefUpdate(ZERO_SHA, new, "refs/heads/feature")])
    assert result.accepted
    # only what the branch adds to main, not the whole tree
    assert result.messages == [
        "dakora: feature: 1 added, 0 changed, 0 removed",
        "dakora:   + farewell 1.0.0",
    ]
    # a branch at main's own commit: nothing to compare with, it lists what it holds
    push.progress.clear()
    result = push([RefUpdate(ZERO_SHA, main, "refs/heads/same")], objects=False)
    assert result.accepted
    assert result.messages == [
        "dakora: same: 1 added, 0 changed, 0 removed",
        "dakora:   + greeting 1.0.0",
    ]


@pytest.mark.parametrize("order", ["below", "above"])
def test_a_new_branch_is_compared_with_main_whichever_way_the_shas_sort(
    order: str, work: GitRepoBuilder, push: Push
) -> None:
    main = work.head()
    work.switch("feature", create=True)
    work.write("prompts/farewell.yaml", make_prompt_yaml(id="farewell"))
    work.commit("add farewell")
    for attempt in range(200):  # a new commit sha until it sorts as wanted
        new = work.head()
        if (new < main) == (order == "below"):
            break
        run_git(work.path, "commit", "-q", "--amend", "-m", f"add farewell {attempt}")
    assert (new < main) == (order == "below")
    result = push([RefUpdate(ZERO_SHA, new, "refs/heads/feature")])
    assert result.messages == [
        "dakora: feature: 1 added, 0 changed, 0 removed",
        "dakora:   + farewell 1.0.0",
    ]


def test_a_new_branch_is_summarised_against_head_s_branch(
    bare: Path, work: GitRepoBuilder, push: Push
) -> None:
    # the server's HEAD names "trunk" (holding main's commit + farewell); main is
    # only another branch: a new branch compares with trunk
    work.write("prompts/farewell.yaml", make_prompt_yaml(id="farewell"))
    trunk = work.commit("add farewell")
    assert (
        run_git(work.path, "push", str(bare), "HEAD:refs/heads/trunk").returncode == 0
    )
    run_git(bare, "--git-dir", str(bare), "symbolic-ref", "HEAD", "refs/heads/trunk")
    work.write("prompts/third.yaml", make_prompt_yaml(id="third"))
    new = work.commit("add third")
    result = push([RefUpdate(ZERO_SHA, new, "refs/heads/feature")])
    assert result.accepted, result.messages
    assert result.messages == [
        "dakora: feature: 1 added, 0 changed, 0 removed",
        "dakora:   + third 1.0.0",
    ]
    assert trunk != new


def test_a_deleted_branch_is_summarised_as_deleted(
    bare: Path, work: GitRepoBuilder, push: Push
) -> None:
    sha = work.head()
    assert (
        run_git(work.path, "push", str(bare), "HEAD:refs/heads/feature").returncode == 0
    )
    result = push([RefUpdate(sha, ZERO_SHA, "refs/heads/feature")], objects=False)
    assert result.accepted
    assert result.messages == ["dakora: feature: deleted"]
    assert "refs/heads/feature" not in bare_refs(bare)


def test_a_summary_that_fails_never_fails_the_push(
    bare: Path, push: Push, caplog: pytest.LogCaptureFixture
) -> None:
    # a checker that lets a ref point at an object the repository lacks: the
    # summary cannot read it, the push stands
    missing = "ab" * 20
    result = push(
        [RefUpdate(ZERO_SHA, missing, "refs/heads/ghost")],
        ReceivePipeline(checker=lambda store, updates: []),
        objects=False,
    )
    assert result.accepted
    assert result.messages == []
    assert bare_refs(bare)["refs/heads/ghost"] == missing
    assert any("push summary failed" in r.getMessage() for r in caplog.records)


# -- refused by the checks -----------------------------------------------------------


def test_a_check_error_refuses_every_ref_reports_it_and_applies_nothing(
    bare: Path, work: GitRepoBuilder, push: Push
) -> None:
    base = work.head()
    before = bare_refs(bare)
    work.write("prompts/greeting.yaml", greeting("1.1.0", "Hi {{ nmae }}\n"))
    bad = work.commit("typo")
    work.switch("feature", create=True)
    work.write("prompts/farewell.yaml", make_prompt_yaml(id="farewell"))
    good = work.commit("fine on its own")
    recorded: list[PushResult] = []
    result = push(
        [
            RefUpdate(base, bad, "refs/heads/main"),
            RefUpdate(ZERO_SHA, good, "refs/heads/feature"),
        ],
        ReceivePipeline(on_rejected=lambda repo, r: recorded.append(r)),
    )
    assert not result.accepted
    assert result.reason == CHECKS_FAILED
    # a file of the push broke a rule: every ref says so
    assert result.statuses == [
        ("refs/heads/main", CHECKS_FAILED),
        ("refs/heads/feature", CHECKS_FAILED),
    ]
    errors = [f for f in result.findings if f.severity == "error"]
    assert errors and all(f.path == "prompts/greeting.yaml" for f in errors)
    assert any("nmae" in f.message for f in errors)
    assert result.messages == [f.format_remote() for f in result.findings]
    assert result.messages[0].startswith("error: prompts/greeting.yaml:")
    assert push.progress == result.messages
    assert recorded == [result]
    assert_nothing_applied(bare, before, bad, good)


def test_a_ref_refused_on_its_own_says_why_the_others_that_they_waited(
    bare: Path, work: GitRepoBuilder, push: Push
) -> None:
    """A protected ref deleted: that ref names its error, the good ref of the same
    push is refused "atomically" (no file broke a rule)."""
    main = work.head()
    before = bare_refs(bare)
    work.switch("feature", create=True)
    work.write("prompts/farewell.yaml", make_prompt_yaml(id="farewell"))
    good = work.commit("good change on feature")
    result = push(
        [
            RefUpdate(ZERO_SHA, good, "refs/heads/feature"),
            RefUpdate(main, ZERO_SHA, "refs/heads/main"),
        ]
    )
    assert not result.accepted
    assert result.reason == CHECKS_FAILED
    statuses = dict(result.statuses)
    assert statuses["refs/heads/feature"] == ATOMIC
    assert "cannot delete" in statuses["refs/heads/main"]
    main_errors = [f.message for f in result.findings if f.path == "refs/heads/main"]
    assert statuses["refs/heads/main"] == main_errors[0]
    assert_nothing_applied(bare, before, good)


def test_extra_findings_are_reported_and_judged_with_the_checks(
    bare: Path, work: GitRepoBuilder, push: Push
) -> None:
    base = work.head()
    work.write("prompts/greeting.yaml", greeting("1.1.0", "Hi {{ name }}\n"))
    new = work.commit("bump")
    warning = Finding.warning("refs/heads/main", None, "only a warning", "shared")
    result = push([RefUpdate(base, new, "refs/heads/main")], extra_findings=[warning])
    assert result.accepted  # a warning reported, never blocking
    assert result.findings == [warning]
    assert result.messages[0] == "warning: refs/heads/main: only a warning [shared]"
    assert push.progress[0] == result.messages[0]

    before = bare_refs(bare)
    work.write("prompts/greeting.yaml", greeting("1.2.0", "Hey {{ name }}\n"))
    newer = work.commit("bump again")
    error = Finding.error("parts/shared.md", None, "the shared part differs", "shared")
    result = push(
        [RefUpdate(new, newer, "refs/heads/main")], extra_findings=[warning, error]
    )
    assert not result.accepted
    # the warning on the ref is not its own reason: the file error is
    assert result.statuses == [("refs/heads/main", CHECKS_FAILED)]
    assert result.findings == [warning, error]
    assert_nothing_applied(bare, before, newer)


def test_a_ref_error_among_the_extra_findings_names_its_ref(
    bare: Path, work: GitRepoBuilder, push: Push
) -> None:
    base = work.head()
    work.write("prompts/greeting.yaml", greeting("1.1.0", "Hi {{ name }}\n"))
    new = work.commit("bump")
    first = Finding.error("refs/heads/main", None, "first reason", "promote")
    second = Finding.error("refs/heads/main", None, "second reason", "promote")
    result = push(
        [RefUpdate(base, new, "refs/heads/main")], extra_findings=[first, second]
    )
    assert result.statuses == [("refs/heads/main", "first reason")]
    assert result.reason == CHECKS_FAILED


def test_the_object_checks_run_first_and_their_errors_skip_the_push_checks(
    bare: Path, work: GitRepoBuilder, push: Push
) -> None:
    base = work.head()
    before = bare_refs(bare)
    work.write("prompts/big.md", "x" * 5000)
    new = work.commit("a file over the limit")
    calls: list[object] = []

    def checker(store: BaseObjectStore, updates: list[RefUpdate]) -> list[Finding]:
        calls.append(updates)
        return []

    limits = PushLimits(max_file_bytes=1000)
    result = push(
        [RefUpdate(base, new, "refs/heads/main")],
        ReceivePipeline(limits=limits, checker=checker),
    )
    assert not result.accepted
    assert calls == []  # phase 2 never ran
    assert [f.path for f in result.findings if f.severity == "error"] == [
        "prompts/big.md"
    ]
    assert_nothing_applied(bare, before, new)
    # within the limit the object checks pass and the push checks run
    result = push(
        [RefUpdate(base, new, "refs/heads/main")],
        ReceivePipeline(limits=PushLimits(max_file_bytes=10_000), checker=checker),
    )
    assert result.accepted
    assert len(calls) == 1


def test_the_default_checks_use_the_pipeline_s_limits(
    bare: Path, work: GitRepoBuilder, push: Push
) -> None:
    base = work.head()
    work.write("prompts/greeting.yaml", greeting("1.1.0", "Hi {{ name }}\n"))
    new = work.commit("bump")
    updates = [
        RefUpdate(base, new, "refs/heads/main"),
        RefUpdate(ZERO_SHA, new, "refs/heads/feature"),
    ]
    result = push(updates, ReceivePipeline(limits=PushLimits(max_refs=1)))
    assert not result.accepted
    assert result.findings == [
        Finding.error(
            "(push)", None, "too many ref updates in one push (2 > 1)", "limit-refs"
        )
    ]
    assert push(updates, ReceivePipeline(limits=PushLimits(max_refs=2))).accepted


def test_a_version_reused_on_another_branch_is_refused_by_the_default_lookup(
    bare: Path, work: GitRepoBuilder, push: Push
) -> None:
    base = work.head()
    work.switch("feature", create=True)
    work.write("prompts/greeting.yaml", greeting("1.1.0", "Feature {{ name }}\n"))
    feature = work.commit("feature 1.1.0")
    assert push([RefUpdate(ZERO_SHA, feature, "refs/heads/feature")]).accepted
    work.switch("main")
    work.write("prompts/greeting.yaml", greeting("1.1.0", "Main {{ name }}\n"))
    main = work.commit("main 1.1.0, other content")
    result = push([RefUpdate(base, main, "refs/heads/main")])
    assert not result.accepted
    assert any(
        "1.1.0" in f.message and f.path == "prompts/greeting.yaml"
        for f in result.findings
        if f.severity == "error"
    ), result.messages
    # the pipeline's lookup factory decides instead (here: no lookup, no refusal)
    asked: list[tuple[object, PushContext]] = []

    def no_lookup(repo: Repo, context: PushContext) -> None:
        asked.append((repo, context))
        return None

    context = PushContext(source="api")
    result = push(
        [RefUpdate(base, main, "refs/heads/main")],
        ReceivePipeline(version_lookup_factory=no_lookup),
        context=context,
    )
    assert result.accepted, result.messages
    assert [c for _r, c in asked] == [context]
    assert result.context is context


def test_the_default_branch_is_the_context_s_or_head_s(
    bare: Path, work: GitRepoBuilder, push: Push
) -> None:
    """The protected default branch: the push's context names it, else the one HEAD
    points to. A force-push to it is refused, to another branch allowed."""
    work.switch("release", create=True)
    work.write("prompts/farewell.yaml", make_prompt_yaml(id="farewell"))
    old = work.commit("release")
    assert run_git(work.path, "push", str(bare), "release").returncode == 0
    run_git(work.path, "commit", "-q", "--amend", "-m", "rewritten")
    rewritten = work.head()
    force = [RefUpdate(old, rewritten, "refs/heads/release")]

    result = push(force, context=PushContext(default_branch="release"))
    assert not result.accepted
    assert "non-fast-forward" in dict(result.statuses)["refs/heads/release"]

    run_git(bare, "--git-dir", str(bare), "symbolic-ref", "HEAD", "refs/heads/release")
    result = push(force)
    assert not result.accepted
    assert "non-fast-forward" in dict(result.statuses)["refs/heads/release"]

    result = push(force, context=PushContext(default_branch="main"))
    assert result.accepted, result.messages
    assert bare_refs(bare)["refs/heads/release"] == rewritten


def test_a_checker_factory_gets_the_refs_the_push_arrived_at(
    bare: Path, work: GitRepoBuilder, push: Push
) -> None:
    base = work.head()
    work.write("prompts/greeting.yaml", greeting("1.1.0", "Hi {{ name }}\n"))
    new = work.commit("bump")
    seen: list[tuple[PushContext, dict[str, str]]] = []
    refusal = Finding.error("prompts/greeting.yaml", 3, "no", "custom")

    def factory(repo: Repo, context: PushContext, refs: dict[str, str]) -> Any:
        seen.append((context, dict(refs)))
        return lambda store, updates: [refusal]

    context = PushContext(project="p")
    result = push(
        [RefUpdate(base, new, "refs/heads/main")],
        ReceivePipeline(checker_factory=factory),
        context=context,
    )
    assert seen == [(context, {"refs/heads/main": base})]
    assert result.findings == [refusal]
    assert result.messages == ["error: prompts/greeting.yaml:3: no [custom]"]
    assert not result.accepted


def test_a_failing_lookup_refuses_the_push_as_a_storage_error(
    bare: Path,
    work: GitRepoBuilder,
    push: Push,
    caplog: pytest.LogCaptureFixture,
) -> None:
    base = work.head()
    before = bare_refs(bare)
    work.write("prompts/greeting.yaml", greeting("1.1.0", "Hi {{ name }}\n"))
    new = work.commit("bump")

    def gone(repo: Repo, context: PushContext) -> None:
        raise StorageError("the database went away")

    result = push(
        [RefUpdate(base, new, "refs/heads/main")],
        ReceivePipeline(version_lookup_factory=gone),
    )
    assert result.findings == [
        Finding.error(
            "(push)",
            None,
            "the push could not be checked (the database went away); nothing was "
            "applied, try again",
            "storage",
        )
    ]
    assert result.statuses == [("refs/heads/main", CHECKS_FAILED)]
    assert [r.levelno for r in caplog.records if "checking a push" in r.message] == [
        logging.WARNING
    ]
    assert_nothing_applied(bare, before, new)


def test_a_crashing_check_refuses_the_push_as_an_internal_error(
    bare: Path,
    work: GitRepoBuilder,
    push: Push,
    caplog: pytest.LogCaptureFixture,
) -> None:
    base = work.head()
    work.write("prompts/greeting.yaml", greeting("1.1.0", "Hi {{ name }}\n"))
    new = work.commit("bump")

    def broken(repo: Repo, context: PushContext, refs: dict[str, str]) -> Any:
        raise RuntimeError("a bug")

    result = push(
        [RefUpdate(base, new, "refs/heads/main")],
        ReceivePipeline(checker_factory=broken),
    )
    assert result.findings == [
        Finding.error(
            "(push)", None, "internal error while checking the push", "internal"
        )
    ]
    assert not result.accepted
    assert [r.levelno for r in caplog.records if "checking a push" in r.message] == [
        logging.ERROR
    ]


# -- hooks around the push -----------------------------------------------------------


def test_a_failing_rejection_recorder_is_logged_never_raised(
    bare: Path, work: GitRepoBuilder, push: Push, caplog: pytest.LogCaptureFixture
) -> None:
    base = work.head()
    work.write("prompts/greeting.yaml", greeting("1.1.0", "Hi {{ nmae }}\n"))
    bad = work.commit("typo")

    def broken(repo: Repo, result: PushResult) -> None:
        raise RuntimeError("database down")

    result = push(
        [RefUpdate(base, bad, "refs/heads/main")], ReceivePipeline(on_rejected=broken)
    )
    assert not result.accepted
    assert any("recording a rejected push failed" in r.message for r in caplog.records)


def test_a_push_refused_under_the_lock_is_recorded_as_rejected(
    bare: Path, work: GitRepoBuilder, push: Push
) -> None:
    base = work.head()
    work.write("prompts/greeting.yaml", greeting("1.1.0", "Hi {{ name }}\n"))
    new = work.commit("bump")
    recorded: list[PushResult] = []
    after: list[PushResult] = []
    stale = "cd" * 20  # the pusher's idea of main is wrong
    result = push(
        [RefUpdate(stale, new, "refs/heads/main")],
        ReceivePipeline(
            checker=lambda store, updates: [],
            on_rejected=lambda repo, r: recorded.append(r),
            after_accepted=lambda repo, r: after.append(r),
        ),
    )
    assert not result.accepted
    assert result.reason == STALE
    assert recorded == [result]
    assert after == []
    assert bare_refs(bare)["refs/heads/main"] == base


def test_after_accepted_runs_once_and_its_failure_keeps_the_push(
    bare: Path, work: GitRepoBuilder, push: Push, caplog: pytest.LogCaptureFixture
) -> None:
    base = work.head()
    work.write("prompts/greeting.yaml", greeting("1.1.0", "Hi {{ name }}\n"))
    new = work.commit("bump")
    seen: list[PushResult] = []
    recorded: list[PushResult] = []

    def after(repo: Repo, result: PushResult) -> None:
        seen.append(result)
        raise RuntimeError("repack failed")

    result = push(
        [RefUpdate(base, new, "refs/heads/main")],
        ReceivePipeline(
            after_accepted=after, on_rejected=lambda repo, r: recorded.append(r)
        ),
    )
    assert result.accepted
    assert seen == [result]
    assert recorded == []
    assert bare_refs(bare)["refs/heads/main"] == new
    assert any("the after-push hook failed" in r.message for r in caplog.records)


class RecordingLock(LocalProjectLock):
    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str] = []

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        self.keys.append(key)
        with super().hold(key):
            yield


def test_the_push_holds_the_given_lock_keyed_by_the_repository(
    bare: Path, work: GitRepoBuilder, push: Push, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = work.head()
    work.write("prompts/greeting.yaml", greeting("1.1.0", "Hi {{ name }}\n"))
    new = work.commit("bump")
    lock = RecordingLock()
    monkeypatch.chdir(bare.parent)  # the repository opened by a relative path
    push.repo_path = bare.name
    result = push([RefUpdate(base, new, "refs/heads/main")], ReceivePipeline(lock=lock))
    assert result.accepted
    assert lock.keys == [str(bare)]
    assert os.path.isabs(lock.keys[0])


# -- the refs and the default branch as the pipeline reads them -----------------------


def test_repo_refs_lists_every_ref_but_head(bare: Path, work: GitRepoBuilder) -> None:
    sha = work.head()
    work.tag("v1", message="annotated")
    tag = run_git(work.path, "rev-parse", "v1").stdout.strip()  # the tag object
    assert (
        run_git(work.path, "push", str(bare), "v1", "HEAD:refs/heads/b").returncode == 0
    )
    run_git(bare, "--git-dir", str(bare), "pack-refs", "--all")  # packed refs too
    repo = Repo(str(bare))
    try:
        assert repo_refs(repo) == {
            "refs/heads/b": sha,
            "refs/heads/main": sha,
            "refs/tags/v1": tag,
        }
    finally:
        repo.close()
    assert repo_refs(Repo.init_bare(str(bare.parent / "empty.git"), mkdir=True)) == {}


def test_the_default_branch_is_what_head_names(bare: Path) -> None:
    repo = Repo(str(bare))
    try:
        assert repo_default_branch(repo) == "main"
        for target, expected in [
            ("refs/heads/feature/x", "feature/x"),
            ("refs/heads/r", "r"),
            ("refs/tags/v1", "main"),  # not a branch
        ]:
            (bare / "HEAD").write_text(f"ref: {target}\n")
            assert repo_default_branch(repo) == expected, target
        (bare / "HEAD").write_text("ab" * 20 + "\n")  # detached
        assert repo_default_branch(repo) == "main"
        (bare / "HEAD").write_text("ref: refs/heads/\n")  # names no branch
        assert repo_default_branch(repo) == "main"
        (bare / "HEAD").unlink()
        (bare / "HEAD").mkdir()  # unreadable as a file
        assert repo_default_branch(repo) == "main"
    finally:
        repo.close()


def test_a_push_result_starts_refused_and_reject_all_names_every_ref() -> None:
    updates = [
        RefUpdate(ZERO_SHA, "ab" * 20, "refs/heads/a"),
        RefUpdate(ZERO_SHA, "ab" * 20, "refs/heads/b"),
    ]
    result = PushResult(updates=updates, context=PushContext())
    assert result.accepted is False
    assert result.statuses == [] and result.findings == [] and result.messages == []
    result.accepted = True
    result.reject_all("why")
    assert result.accepted is False
    assert result.reason == "why"
    assert result.statuses == [("refs/heads/a", "why"), ("refs/heads/b", "why")]


def test_the_pipeline_s_options_are_keyword_only(bare: Path) -> None:
    def checker(store: BaseObjectStore, updates: list[RefUpdate]) -> list[Finding]:
        return []

    with pytest.raises(TypeError):
        ReceivePipeline(checker)  # type: ignore[misc]
    repo = Repo(str(bare))
    try:
        with pytest.raises(TypeError):
            ReceivePipeline(checker=checker).process(repo, [], repo.object_store)  # type: ignore[misc]
    finally:
        repo.close()
