"""Walks over the commit graph of any object store (a quarantine included): ``peel``
(a sha to the commit it names), ``new_commits`` (what a ref update brings, parents
first), ``is_ancestor`` (fast-forward test) and ``topo_parents_first``.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from dulwich.object_store import BaseObjectStore
from dulwich.objects import Commit, ObjectID, Tag
from dulwich.walk import Walker

from dakora.registry.core import ZERO_SHA
from dakora.registry.git.objects import as_oid, read_commit

MAX_TAG_DEPTH = 10  # annotated tags of tags peeled at most this deep


def peel(store: BaseObjectStore, sha: str) -> str | None:
    """The commit a sha names (annotated tags peeled), or None when it names a tree,
    a blob or a tag chain deeper than ``MAX_TAG_DEPTH``. Raises ``KeyError`` when an
    object is missing."""
    obj = store[as_oid(sha)]
    depth = 0
    while isinstance(obj, Tag) and depth < MAX_TAG_DEPTH:
        obj = store[obj.object[1]]
        depth += 1
    return obj.id.decode("ascii") if isinstance(obj, Commit) else None


def _commits(store: BaseObjectStore, shas: Iterable[str]) -> list[ObjectID]:
    """The commits ``shas`` name (tags peeled); zero and missing shas skipped."""
    out: list[ObjectID] = []
    for sha in shas:
        if not sha or sha == ZERO_SHA:
            continue
        try:
            commit = peel(store, sha)
        except (KeyError, ValueError):
            continue
        if commit is not None:
            out.append(as_oid(commit))
    return out


def new_commits(store: BaseObjectStore, new: str, exclude: Iterable[str]) -> list[str]:
    """Commits reachable from ``new`` but from none of ``exclude``, parents first.

    ``exclude`` may hold tags (peeled here), the zero sha and shas the store does not
    have (both skipped). Raises ``RefNotFound`` when ``new`` is not a commit.
    """
    if not new or new == ZERO_SHA:
        return []
    tip = read_commit(store, new)
    walker = Walker(store, include=[tip.id], exclude=_commits(store, exclude))
    commits = {entry.commit.id: entry.commit for entry in walker}
    return [sha.decode("ascii") for sha in topo_parents_first(commits)]


def topo_parents_first(commits: dict[ObjectID, Commit]) -> list[ObjectID]:
    """Order commits so every parent (inside the set) comes before its children;
    ties broken by commit time then sha, so the order is deterministic."""
    children_left: dict[ObjectID, int] = dict.fromkeys(commits, 0)
    for c in commits.values():
        for p in c.parents:
            if p in commits:
                children_left[c.id] += 1  # number of unprocessed parents
    ready = [(commits[s].commit_time, s) for s, n in children_left.items() if n == 0]
    heapq.heapify(ready)
    kids: dict[ObjectID, list[ObjectID]] = {}
    for c in commits.values():
        for p in c.parents:
            if p in commits:
                kids.setdefault(p, []).append(c.id)
    order: list[ObjectID] = []
    while ready:
        _, sha = heapq.heappop(ready)
        order.append(sha)
        for child in kids.get(sha, ()):
            children_left[child] -= 1
            if children_left[child] == 0:
                heapq.heappush(ready, (commits[child].commit_time, child))
    return order


def is_ancestor(store: BaseObjectStore, ancestor: str, descendant: str) -> bool:
    """True when ``ancestor`` is reachable from ``descendant`` (or equal).

    Walks newest commits first, so a fast-forward (the ancestor sits just below the
    new commits) is found after a few steps; a non-fast-forward walks the
    descendant's whole history (exact: commit dates are not trusted for pruning).
    """
    target = as_oid(ancestor)
    start = as_oid(descendant)
    if start == target:
        return True
    seen: set[ObjectID] = {start}
    heap: list[tuple[int, ObjectID]] = []

    def push(sha: ObjectID) -> None:
        try:
            commit = store[sha]
        except KeyError:
            return
        if isinstance(commit, Commit):
            heapq.heappush(heap, (-commit.commit_time, sha))

    push(start)
    while heap:
        _time, sha = heapq.heappop(heap)
        commit = store[sha]
        assert isinstance(commit, Commit)
        for parent in commit.parents:
            if parent == target:
                return True
            if parent not in seen:
                seen.add(parent)
                push(parent)
    return False
