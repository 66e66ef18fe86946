"""Trees the repository already holds, as a pushed tree's reference (docs/performance.md).

Every object reachable from a ref tip is in the repository: git's own connectivity
check (``rev-list --objects --not --all``) relies on it, and the receive pipeline
keeps it (a pack moves in only once every object of it passed ``object_checks``).
So an entry a pushed tree shares with the tree at the same path in a ref-tip commit
(the one a pushed commit descends from, typically) names an object that exists, and
the object checks look up only the other entries: a one-file change in a tree of
10,000 files costs one look-up, not 10,000.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from dulwich.object_store import BaseObjectStore
from dulwich.objects import sha_to_hex

from dakora.hooks.object_rules import show_name, tree_entries_lenient
from dakora.registry.core import LruCache
from dakora.registry.git import as_oid, as_raw_oid

Entry = tuple[bytes, bytes, bytes]  # (mode text, name, 20-byte id)

# tree id (hex) -> its entries: a pure function of the id. A push's checked trees
# are kept, so the next push (whose reference they are) does not parse them again.
_ENTRIES: LruCache[bytes, frozenset[Entry]] = LruCache(16)


def remember_entries(tree: bytes, entries: frozenset[Entry]) -> None:
    """Keep the parsed entries of tree ``tree`` (hex id) for later pushes."""
    _ENTRIES.put(tree, entries)


def trusted_parents(
    commit_raws: Iterable[bytes], trusted: Collection[bytes]
) -> list[bytes]:
    """The parents (hex) of the pushed commits (their raw bytes) that are trusted
    commits (ref tips)."""
    out: list[bytes] = []
    for raw in commit_raws:
        header = raw.split(b"\n\n", 1)[0]
        for line in header.split(b"\n")[1:]:
            if not line.startswith(b"parent "):
                break
            parent = line[7:]
            if parent in trusted and parent not in out:
                out.append(parent)
    return out


class TrustedTrees:
    """The entries of the trees at a path in ``bases`` (commits, hex), cached per
    path. A path is ``/`` (the root) or ``a/b/`` (as ``ObjectChecker.paths``)."""

    def __init__(self, store: BaseObjectStore, bases: list[bytes]) -> None:
        self.store = store
        self.bases = bases
        self._at: dict[str, frozenset[Entry]] = {}

    def _entries(self, sha: bytes) -> frozenset[Entry]:
        found = _ENTRIES.get(sha)
        if found is None:
            raw = self.store.get_raw(as_oid(sha))[1]
            found = frozenset(tree_entries_lenient(raw))
            _ENTRIES.put(sha, found)
        return found

    def entries_at(self, path: str | None) -> frozenset[Entry]:
        if path is None or not self.bases:
            return frozenset()
        cached = self._at.get(path)
        if cached is not None:
            return cached
        found: frozenset[Entry] = frozenset()
        parts = [p for p in path.split("/") if p]
        for commit in self.bases:
            try:
                first = self.store.get_raw(as_oid(commit))[1].split(b"\n", 1)[0]
                entries = self._entries(first[5:])
                for part in parts:
                    tree = next(
                        sha_to_hex(as_raw_oid(sha))
                        for mode, name, sha in entries
                        if mode == b"40000" and show_name(name) == part
                    )
                    entries = self._entries(tree)
            except (KeyError, StopIteration, ValueError):
                continue  # no tree there: nothing known
            found = found | entries if found else entries
        self._at[path] = found
        return found
