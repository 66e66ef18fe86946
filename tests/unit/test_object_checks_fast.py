"""The object checks' fast paths (docs/performance.md) refuse exactly what the
entry-by-entry checks refuse: the regex tree parser reads the entries the byte walk
read, a "plain" tree breaks no entry rule, and entries shared with the tree at the
same path of a ref-tip commit are not looked up again, while every other entry is."""

from __future__ import annotations

import random
import stat
from pathlib import Path

import pytest
from dulwich.object_store import MemoryObjectStore
from dulwich.objects import Blob, Commit, Tree

from dakora.hooks.object_checks import ObjectChecker
from dakora.hooks.object_rules import (
    ObjectProblem,
    check_tree_entries,
    parse_tree_raw,
    plain_tree,
)
from dakora.hooks.pushed_objects import StoredObject


def _walk_parse(raw: bytes) -> list[tuple[bytes, bytes, bytes]]:
    """The byte-by-byte parser the regex replaced (the reference)."""
    entries: list[tuple[bytes, bytes, bytes]] = []
    pos, end = 0, len(raw)
    while pos < end:
        space = raw.find(b" ", pos)
        nul = raw.find(b"\0", space + 1) if space >= 0 else -1
        if space < 0 or nul < 0 or nul + 21 > end:
            raise ObjectProblem("the tree is malformed (a truncated entry)", "badTree")
        entries.append((raw[pos:space], raw[space + 1 : nul], raw[nul + 1 : nul + 21]))
        pos = nul + 21
    return entries


def _outcome(parse: object, raw: bytes) -> object:
    try:
        return parse(raw)  # type: ignore[operator]
    except ObjectProblem as exc:
        return ("problem", exc.fsck_id)


def test_the_regex_parser_reads_what_the_byte_walk_read() -> None:
    rng = random.Random(7)
    alphabet = [b" ", b"\0", b"1", b"0", b"4", b"a", b".", b"/", b"\xff", b"\n"]
    samples = [b"", b"100644 a\0" + b"x" * 20, b"100644 a\0" + b"x" * 19]
    for _ in range(3000):
        parts = [rng.choice(alphabet) for _ in range(rng.randrange(0, 60))]
        samples.append(b"".join(parts))
        good = b"".join(
            b"100644 f%d\0" % i + bytes(rng.randrange(256) for _ in range(20))
            for i in range(rng.randrange(0, 4))
        )
        cut = rng.randrange(0, len(good) + 1)
        samples.extend([good, good[:cut], good + b"".join(parts)])
    for raw in samples:
        assert _outcome(parse_tree_raw, raw) == _outcome(_walk_parse, raw), raw


def _problem(entries: list[tuple[bytes, bytes, bytes]]) -> str | None:
    try:
        check_tree_entries(entries, "", True, lambda sha, kind, what: None)
    except ObjectProblem as exc:
        return exc.fsck_id
    return None


def test_a_plain_tree_breaks_no_entry_rule() -> None:
    rng = random.Random(11)
    names = [
        b"a",
        b"b",
        b"a.yaml",
        b"a-b",
        b".git",
        b".GIT",
        b"git~1",
        b"x y",
        b"",
        b"..",
        b".",
        b"a/b",
        b"a\\b",
        b"\xc3\xa9",
        b"\xff",
        b".gitmodules",
        b"Z",
        b"_",
        b"-x",
        b"a b.",
        b"p00001.yaml",
    ]
    modes = [
        b"100644",
        b"100755",
        b"40000",
        b"040000",
        b"120000",
        b"160000",
        b"100664",
        b"644",
        b"1006440",
    ]
    plain_seen = 0
    for _ in range(5000):
        entries = [
            (rng.choice(modes), rng.choice(names), bytes([rng.randrange(3)]) * 20)
            for _ in range(rng.randrange(0, 5))
        ]
        if rng.random() < 0.5:  # mostly sorted, as git writes them
            entries.sort(key=lambda e: e[1] + (b"/" if e[0] == b"40000" else b""))
        if plain_tree(entries):
            plain_seen += 1
            assert _problem(entries) is None, entries
    assert plain_seen > 100  # the generator does reach plain trees


# -- look-ups against a ref tip ---------------------------------------------------


class CountingStore(MemoryObjectStore):
    def __init__(self) -> None:
        super().__init__()
        self.asked: list[bytes] = []

    def __contains__(self, sha: object) -> bool:
        self.asked.append(sha)  # type: ignore[arg-type]
        return super().__contains__(sha)  # type: ignore[arg-type]


def _commit(store: MemoryObjectStore, tree: Tree, parents: list[bytes]) -> Commit:
    commit = Commit()
    commit.tree = tree.id
    commit.parents = parents
    commit.author = commit.committer = b"A U Thor <a@example.com>"
    commit.author_time = commit.commit_time = 1_700_000_000
    commit.author_timezone = commit.commit_timezone = 0
    commit.message = b"m\n"
    store.add_object(commit)
    return commit


def _repo(count: int) -> tuple[CountingStore, Tree, Commit]:
    store = CountingStore()
    prompts = Tree()
    for n in range(count):
        blob = Blob.from_string(b"id: p%d\n" % n)
        store.add_object(blob)
        prompts.add(b"p%04d.yaml" % n, stat.S_IFREG | 0o644, blob.id)
    store.add_object(prompts)
    root = Tree()
    root.add(b"prompts", stat.S_IFDIR, prompts.id)
    store.add_object(root)
    return store, prompts, _commit(store, root, [])


def _push(
    store: MemoryObjectStore, prompts: Tree, tip: Commit, name: bytes, sha: bytes
) -> list[StoredObject]:
    """A commit on ``tip`` adding ``name`` → ``sha`` in prompts/; its new objects."""
    new = Tree()
    for item in prompts.items():
        new.add(item.path, item.mode, item.sha)
    new.add(name, stat.S_IFREG | 0o644, sha)
    store.add_object(new)
    root = Tree()
    root.add(b"prompts", stat.S_IFDIR, new.id)
    store.add_object(root)
    commit = _commit(store, root, [tip.id])
    return [
        StoredObject(o.id, o.type_name.decode(), len(o.as_raw_string()))
        for o in (commit, root, new)
    ]


def test_entries_the_ref_tip_has_are_not_looked_up_again() -> None:
    store, prompts, tip = _repo(300)
    blob = Blob.from_string(b"id: new\n")
    store.add_object(blob)
    pushed = _push(store, prompts, tip, b"zz.yaml", blob.id)
    pushed.append(StoredObject(blob.id, "blob", len(blob.data)))
    store.asked.clear()
    assert ObjectChecker(store, pushed, trusted={tip.id}).run() == []
    assert len(store.asked) <= 2  # the parent commit at most; not 300 entries
    store.asked.clear()
    assert ObjectChecker(store, pushed).run() == []  # no ref tip: every entry
    assert len(store.asked) >= 300


@pytest.mark.parametrize("trusted", [True, False])
def test_a_new_entry_naming_a_missing_object_is_still_refused(trusted: bool) -> None:
    store, prompts, tip = _repo(50)
    missing = b"1" * 40
    pushed = _push(store, prompts, tip, b"zz.yaml", missing)
    found = ObjectChecker(store, pushed, trusted={tip.id} if trusted else ()).run()
    assert [(f.path, f.message) for f in found] == [
        (
            "prompts/",
            f"tree {pushed[2].sha.decode()}: the entry 'zz.yaml': object "
            f"{missing.decode()} does not exist [missingObject]",
        )
    ]


def test_a_kept_bad_entry_of_the_ref_tip_is_still_refused() -> None:
    """A tree the repository got without these checks (an import) and a push that
    keeps its bad entry: the entry rules run on every entry, not on new ones only."""
    store, prompts, tip = _repo(3)
    bad = Tree()
    for item in prompts.items():
        bad.add(item.path, item.mode, item.sha)
    bad.add(b".GIT", stat.S_IFREG | 0o644, prompts.items()[0].sha)
    store.add_object(bad)
    root = Tree()
    root.add(b"prompts", stat.S_IFDIR, bad.id)
    store.add_object(root)
    base = _commit(store, root, [])
    blob = Blob.from_string(b"id: new\n")
    store.add_object(blob)
    pushed = _push(store, bad, base, b"zz.yaml", blob.id)
    pushed.append(StoredObject(blob.id, "blob", len(blob.data)))
    found = ObjectChecker(store, pushed, trusted={base.id}).run()
    assert [f.message.rsplit("[", 1)[1] for f in found] == ["hasDotgit]"]


def test_the_stored_filter_agrees_with_the_store(tmp_path: Path) -> None:
    """``not_stored`` (pack indexes listed once) answers as ``sha in store``."""
    from dulwich.object_store import DiskObjectStore

    from dakora.hooks.already_stored import not_stored

    store = DiskObjectStore.init(str(tmp_path / "objects"))
    packed = [Blob.from_string(b"packed %d" % n) for n in range(5)]
    store.add_objects([(b, None) for b in packed])
    loose = Blob.from_string(b"loose")
    store.add_object(loose)
    absent = [Blob.from_string(b"absent %d" % n) for n in range(3)]
    objects = [
        StoredObject(b.id, "blob", len(b.data)) for b in [*packed, loose, *absent]
    ]
    expected = [o for o in objects if o.sha not in store]
    assert not_stored(store, objects) == expected
    assert [o.sha for o in expected] == [b.id for b in absent]
