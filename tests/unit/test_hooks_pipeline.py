"""The receive pipeline's apply phase and helpers, on real on-disk dulwich repos.

These cover what git cannot provoke on demand: a ref lock held by another writer in
the middle of a multi-ref push (dulwich applies refs one by one, docs/design.md §12), an index
writer failing after the refs moved, and a stale old sha.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import pytest
from dulwich.objects import Blob, Commit, Tree
from dulwich.repo import Repo

from dakora.hooks.locks import LocalProjectLock
from dakora.hooks.pre_receive import parse_updates
from dakora.hooks.push_checks import RefUpdate
from dakora.hooks.quarantine import QUARANTINE_PREFIX, Quarantine, cleanup_stale
from dakora.hooks.receive import (
    CHECKS_FAILED,
    INTERNAL,
    LOCKED,
    STALE,
    PushResult,
    ReceivePipeline,
)
from dakora.registry.checks import is_protected
from dakora.registry.core.errors import BadRequest
from dakora.registry.core.findings import Finding
from dakora.registry.core.types import ZERO_SHA
from dakora.registry.git import unsafe_path_reason


def _commit(repo: Repo, text: str, parents: list[bytes] | None = None) -> str:
    blob = Blob.from_string(text.encode())
    tree = Tree()
    tree.add(b"README", 0o100644, blob.id)
    commit = Commit()
    commit.tree = tree.id
    commit.parents = parents or []
    commit.author = commit.committer = b"T <t@example.com>"
    commit.author_time = commit.commit_time = 1_700_000_000
    commit.author_timezone = commit.commit_timezone = 0
    commit.message = text.encode()
    for obj in (blob, tree, commit):
        repo.object_store.add_object(obj)
    return commit.id.decode()


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    r = Repo.init_bare(str(tmp_path / "r.git"), mkdir=True)
    base = _commit(r, "base")
    r.refs[b"refs/heads/main"] = base.encode()
    r.refs[b"refs/heads/b"] = base.encode()
    return r


def _refs(repo: Repo) -> dict[bytes, bytes]:
    return {k: v for k, v in repo.get_refs().items() if k != b"HEAD"}


def ok_checker(store: object, updates: list[RefUpdate]) -> list[Finding]:
    return []


def test_lock_held_on_second_ref_rolls_back_the_first(
    repo: Repo, caplog: pytest.LogCaptureFixture
) -> None:
    base = repo.refs[b"refs/heads/main"].decode()
    new = _commit(repo, "new", [base.encode()])
    before = _refs(repo)
    Path(repo.controldir(), "refs", "heads", "b.lock").write_text("held")
    result = ReceivePipeline(checker=ok_checker).process(
        repo,
        [
            RefUpdate(base, new, "refs/heads/main"),
            RefUpdate(base, new, "refs/heads/b"),
        ],
    )
    assert not result.accepted
    assert result.statuses == [("refs/heads/main", LOCKED), ("refs/heads/b", LOCKED)]
    assert _refs(repo) == before
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # clean


def test_index_failure_rolls_the_refs_back(repo: Repo) -> None:
    base = repo.refs[b"refs/heads/main"].decode()
    new = _commit(repo, "new", [base.encode()])
    before = _refs(repo)
    seen: list[PushResult] = []

    def broken(_repo: Repo, result: PushResult) -> None:
        seen.append(result)
        raise RuntimeError("database down")

    result = ReceivePipeline(checker=ok_checker, on_accepted=broken).process(
        repo,
        [
            RefUpdate(base, new, "refs/heads/main"),
            RefUpdate(ZERO_SHA, new, "refs/heads/c"),
        ],
    )
    assert seen, "the index writer ran"
    assert not result.accepted
    assert {s for _r, s in result.statuses} == {INTERNAL}
    assert _refs(repo) == before


def test_a_failed_ref_write_rolls_back_the_refs_already_moved(
    repo: Repo, caplog: pytest.LogCaptureFixture
) -> None:
    """``refs/heads/b`` is a file, so writing ``refs/heads/b/x`` fails with an OSError
    (git's D/F conflict) after ``main`` moved: main goes back, every ref says why."""
    base = repo.refs[b"refs/heads/main"].decode()
    new = _commit(repo, "new", [base.encode()])
    before = _refs(repo)
    result = ReceivePipeline(checker=ok_checker).process(
        repo,
        [
            RefUpdate(base, new, "refs/heads/main"),
            RefUpdate(ZERO_SHA, new, "refs/heads/b/x"),
        ],
    )
    assert not result.accepted
    assert result.statuses == [
        ("refs/heads/main", INTERNAL),
        ("refs/heads/b/x", INTERNAL),
    ]
    assert _refs(repo) == before
    # only the failed write is logged: the rollback of main found main as we left it
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("order", ["below", "above"])
def test_the_pre_check_names_the_stale_ref_whichever_way_the_shas_sort(
    repo: Repo, order: str
) -> None:
    """Refused by the pre-check (before the quarantine is accepted), not only by the
    compare-and-swap: a pushed old sha that sorts below or above the current one."""
    base = repo.refs[b"refs/heads/main"].decode()
    new = _commit(repo, "new", [base.encode()])
    others = (_commit(repo, f"other {i}", [base.encode()]) for i in range(64))
    old = next(o for o in others if (o < base) == (order == "below"))
    before = _refs(repo)
    result = ReceivePipeline(checker=ok_checker).process(
        repo, [RefUpdate(old, new, "refs/heads/main")]
    )
    assert result.statuses == [("refs/heads/main", STALE)]
    assert f"error: refs/heads/main: {STALE}" in result.messages
    assert _refs(repo) == before


def test_a_crashing_pre_apply_check_refuses_the_push(repo: Repo) -> None:
    base = repo.refs[b"refs/heads/main"].decode()
    new = _commit(repo, "new", [base.encode()])
    before = _refs(repo)

    def crash(_repo: Repo, _result: PushResult) -> str | None:
        raise RuntimeError("quota service down")

    pipeline = ReceivePipeline(checker=ok_checker)
    pipeline.before_apply = crash
    result = pipeline.process(repo, [RefUpdate(base, new, "refs/heads/main")])
    assert result.statuses == [("refs/heads/main", INTERNAL)]
    assert _refs(repo) == before


def test_a_delete_from_the_hook_input_removes_the_ref(repo: Repo) -> None:
    """The zero sha as git's hook input spells it (a fresh string, not our
    constant): the ref is deleted, never set to 0000…."""
    base = repo.refs[b"refs/heads/b"].decode()
    updates = parse_updates(f"{base} {'0' * 40} refs/heads/b\n")
    assert updates[0].new == ZERO_SHA and updates[0].new is not ZERO_SHA
    result = ReceivePipeline(checker=ok_checker).process(repo, updates)
    assert result.accepted and result.statuses == [("refs/heads/b", "ok")]
    assert b"refs/heads/b" not in _refs(repo)


def test_a_pre_apply_check_allows_or_refuses(repo: Repo) -> None:
    base = repo.refs[b"refs/heads/main"].decode()
    new = _commit(repo, "new", [base.encode()])
    update = RefUpdate(base, new, "refs/heads/main")
    refuse = ReceivePipeline(checker=ok_checker, before_apply=lambda r, res: "quota")
    result = refuse.process(repo, [update])
    assert result.statuses == [("refs/heads/main", "quota")]
    assert repo.refs[b"refs/heads/main"].decode() == base
    allow = ReceivePipeline(checker=ok_checker, before_apply=lambda r, res: None)
    assert allow.process(repo, [update]).accepted
    assert repo.refs[b"refs/heads/main"].decode() == new


def test_a_rollback_that_finds_a_ref_moved_is_logged_and_the_rest_rolled_back(
    repo: Repo, caplog: pytest.LogCaptureFixture
) -> None:
    """The index writer fails after the refs moved, and by then ``refs/heads/c`` is
    no longer what we wrote (a directory in its place): its rollback is logged as
    such; main is still rolled back and the push refused."""
    base = repo.refs[b"refs/heads/main"].decode()
    new = _commit(repo, "new", [base.encode()])
    heads = Path(repo.controldir(), "refs", "heads")

    def broken(_repo: Repo, _result: PushResult) -> None:
        (heads / "c").unlink()
        (heads / "c").mkdir()
        (heads / "c" / "x").write_text("in the way")
        raise RuntimeError("database down")

    result = ReceivePipeline(checker=ok_checker, on_accepted=broken).process(
        repo,
        [
            RefUpdate(base, new, "refs/heads/main"),
            RefUpdate(ZERO_SHA, new, "refs/heads/c"),
        ],
    )
    assert {s for _r, s in result.statuses} == {INTERNAL}
    assert repo.refs[b"refs/heads/main"].decode() == base
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert "rollback of refs/heads/c found it moved again" in logged


def test_a_rollback_blocked_by_a_lock_is_logged_and_the_rest_rolled_back(
    repo: Repo, caplog: pytest.LogCaptureFixture
) -> None:
    """The index writer fails after the refs moved, and another writer now holds
    ``refs/heads/c.lock``: that rollback is logged as failed, main still goes back."""
    base = repo.refs[b"refs/heads/main"].decode()
    new = _commit(repo, "new", [base.encode()])
    heads = Path(repo.controldir(), "refs", "heads")

    def broken(_repo: Repo, _result: PushResult) -> None:
        (heads / "c.lock").write_text("held")
        raise RuntimeError("database down")

    result = ReceivePipeline(checker=ok_checker, on_accepted=broken).process(
        repo,
        [
            RefUpdate(base, new, "refs/heads/main"),
            RefUpdate(ZERO_SHA, new, "refs/heads/c"),
        ],
    )
    assert {s for _r, s in result.statuses} == {INTERNAL}
    assert repo.refs[b"refs/heads/main"].decode() == base
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert "rollback of refs/heads/c failed" in logged


def test_refs_after_the_failing_one_are_never_written(repo: Repo) -> None:
    """main's lock is held: the push stops there, so ``refs/heads/b`` is not moved
    and moved back (no window in which a reader sees half a push): its file is
    the very same one (a hard link to it still shares its inode)."""
    base = repo.refs[b"refs/heads/main"].decode()
    new = _commit(repo, "new", [base.encode()])
    heads = Path(repo.controldir(), "refs", "heads")
    (heads / "main.lock").write_text("held")
    witness = Path(repo.controldir(), "b.witness")
    os.link(heads / "b", witness)  # a rewrite (lock file + rename) would unlink it
    result = ReceivePipeline(checker=ok_checker).process(
        repo,
        [
            RefUpdate(base, new, "refs/heads/main"),
            RefUpdate(base, new, "refs/heads/b"),
        ],
    )
    assert result.statuses == [("refs/heads/main", LOCKED), ("refs/heads/b", LOCKED)]
    assert (heads / "b").stat().st_ino == witness.stat().st_ino
    assert witness.stat().st_nlink == 2
    assert repo.refs[b"refs/heads/b"].decode() == base


def test_stale_old_sha_moves_nothing(repo: Repo) -> None:
    base = repo.refs[b"refs/heads/main"].decode()
    new = _commit(repo, "new", [base.encode()])
    other = _commit(repo, "other", [base.encode()])
    before = _refs(repo)
    rejected: list[PushResult] = []
    result = ReceivePipeline(
        checker=ok_checker, on_rejected=lambda r, res: rejected.append(res)
    ).process(
        repo,
        [
            RefUpdate(base, new, "refs/heads/b"),
            RefUpdate(other, new, "refs/heads/main"),
        ],
    )
    assert [s for _r, s in result.statuses] == [STALE, STALE]
    assert _refs(repo) == before
    assert rejected and not rejected[0].accepted


def test_check_errors_reject_every_ref_and_say_why(repo: Repo) -> None:
    base = repo.refs[b"refs/heads/main"].decode()
    new = _commit(repo, "new", [base.encode()])
    lines: list[str] = []

    def bad(store: object, updates: list[RefUpdate]) -> list[Finding]:
        return [Finding("prompts/x.yaml", 4, "error", "unknown input 'nmae'", "r")]

    result = ReceivePipeline(checker=bad).process(
        repo,
        [RefUpdate(base, new, "refs/heads/main"), RefUpdate(base, new, "refs/heads/b")],
        progress=lines.append,
    )
    assert [s for _r, s in result.statuses] == [CHECKS_FAILED, CHECKS_FAILED]
    assert lines == ["error: prompts/x.yaml:4: unknown input 'nmae' [r]"]
    assert repo.refs[b"refs/heads/main"].decode() == base


def test_a_crashing_check_rejects_instead_of_failing(repo: Repo) -> None:
    base = repo.refs[b"refs/heads/main"].decode()
    new = _commit(repo, "new", [base.encode()])

    def crash(store: object, updates: list[RefUpdate]) -> list[Finding]:
        raise KeyError("boom")

    result = ReceivePipeline(checker=crash).process(
        repo, [RefUpdate(base, new, "refs/heads/main")]
    )
    assert result.statuses == [("refs/heads/main", CHECKS_FAILED)]
    assert result.findings[0].rule == "internal"


def test_accepted_push_moves_every_ref(repo: Repo) -> None:
    base = repo.refs[b"refs/heads/main"].decode()
    new = _commit(repo, "new", [base.encode()])
    result = ReceivePipeline(checker=ok_checker, summary=False).process(
        repo,
        [
            RefUpdate(base, new, "refs/heads/main"),
            RefUpdate(base, ZERO_SHA, "refs/heads/b"),
            RefUpdate(ZERO_SHA, new, "refs/tags/v1"),
        ],
    )
    assert result.accepted
    refs = _refs(repo)
    assert refs[b"refs/heads/main"].decode() == new
    assert b"refs/heads/b" not in refs
    assert refs[b"refs/tags/v1"].decode() == new


def test_project_lock_serialises_threads(tmp_path: Path) -> None:
    lock = LocalProjectLock(str(tmp_path / "locks"))
    inside = 0
    peak = 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal inside, peak
        with lock.hold("acme/prompts"):
            with guard:
                inside += 1
                peak = max(peak, inside)
            time.sleep(0.01)
            with guard:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 1


def test_quarantine_is_invisible_until_accepted_and_gone_after(repo: Repo) -> None:
    objects = repo.object_store.path
    with Quarantine(objects) as q:
        blob = Blob.from_string(b"quarantined")
        q.store.add_object(blob)
        assert blob.id in q.store
        assert blob.id not in Repo(repo.path).object_store
        path = q.path
    assert not Path(path).exists()


def _age_file(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_cleanup_stale_removes_leftovers_of_dead_processes_only(repo: Repo) -> None:
    control = Path(repo.controldir())
    objects = control / "objects"
    dead = objects / f"{QUARANTINE_PREFIX}999999999-x"
    alive = objects / f"{QUARANTINE_PREFIX}{os.getpid()}-y"
    dead.mkdir()
    alive.mkdir()
    (objects / "pack" / "tmp_pack_abc").write_text("")
    _age_file(objects / "pack" / "tmp_pack_abc", 7200)
    (objects / "pack" / "pack-1.pack").write_text("")
    (control / "refs" / "heads" / "main.lock").write_text("")
    _age_file(control / "refs" / "heads" / "main.lock", 60)
    (control / "refs" / "heads" / "b.lock").write_text("")  # fresh: someone's
    removed = {Path(p).name for p in cleanup_stale(str(control))}
    # the orphan pack was just written (may be mid-move): kept until it is old
    assert removed == {dead.name, "tmp_pack_abc", "main.lock"}
    assert alive.exists()
    assert (control / "refs" / "heads" / "b.lock").exists()
    assert repo.refs[b"refs/heads/main"]


def test_a_stale_ref_lock_is_healed_at_push_time(repo: Repo) -> None:
    base = repo.refs[b"refs/heads/main"].decode()
    new = _commit(repo, "new", [base.encode()])
    lock = Path(repo.controldir(), "refs", "heads", "main.lock")
    lock.write_text("left by a killed writer")
    _age_file(lock, 60)
    result = ReceivePipeline(checker=ok_checker, summary=False).process(
        repo, [RefUpdate(base, new, "refs/heads/main")]
    )
    assert result.accepted, result.statuses
    assert repo.refs[b"refs/heads/main"].decode() == new
    assert not lock.exists()


def test_parse_updates_with_and_without_trailing_newline() -> None:
    a, b = "a" * 40, "b" * 40
    text = f"{a} {b} refs/heads/main\n{ZERO_SHA} {b} refs/heads/x"
    assert parse_updates(text) == parse_updates(text + "\n")
    assert [u.ref for u in parse_updates(text)] == ["refs/heads/main", "refs/heads/x"]
    with pytest.raises(BadRequest):
        parse_updates("nonsense\n")


def test_protected_patterns_and_unsafe_paths() -> None:
    assert is_protected("refs/heads/main", "main", ())
    assert is_protected("refs/heads/production", "main", ("production",))
    assert is_protected("refs/tags/release/1", "main", ("release/*",))
    assert not is_protected("refs/heads/feature", "main", ("production",))
    assert unsafe_path_reason("prompts/a.yaml") is None
    for bad in ("..", "prompts/../x", ".git/config", "a//b", "/abs", "a\\b"):
        assert unsafe_path_reason(bad) is not None, bad


def test_is_ancestor_ignores_commit_dates(repo: Repo) -> None:
    from dakora.registry.git import is_ancestor

    base = repo.refs[b"refs/heads/main"].decode()
    child = _commit(repo, "child", [base.encode()])
    # a descendant whose committer date lies years in the past (imported history)
    old_dated = Commit()
    old_dated.tree = repo.object_store[child.encode()].tree
    old_dated.parents = [child.encode()]
    old_dated.author = old_dated.committer = b"T <t@example.com>"
    old_dated.author_time = old_dated.commit_time = 1_000_000_000
    old_dated.author_timezone = old_dated.commit_timezone = 0
    old_dated.message = b"dated long ago"
    repo.object_store.add_object(old_dated)
    tip = _commit(repo, "tip", [old_dated.id])
    store = repo.object_store
    assert is_ancestor(store, base, tip)
    assert is_ancestor(store, child, tip)
    assert not is_ancestor(store, tip, base)
    sibling = _commit(repo, "sibling", [base.encode()])
    assert not is_ancestor(store, sibling, tip)
