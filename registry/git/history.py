"""A prompt's history: walk every commit reachable from some tips, children first,
following the prompt's path to each parent (through moves and renames), and keep the
commits where its content changed to a new version string. A blob is parsed only
where it differs from a parent's (tree lookups elsewhere).
"""

from __future__ import annotations

import stat

from dulwich.diff_tree import tree_changes
from dulwich.object_store import BaseObjectStore
from dulwich.objects import Commit, ObjectID

from dakora.registry.core import RefNotFound
from dakora.registry.git.commit_snapshot import GitSnapshot
from dakora.registry.git.layout import PROMPT_SUFFIXES
from dakora.registry.git.objects import (
    as_oid,
    blob_at,
    join_path,
    read_commit,
    subtree_sha,
)
from dakora.registry.git.prompt_cache import blob_identity
from dakora.registry.git.versions import VersionInfo, version_info
from dakora.registry.git.walk import topo_parents_first


def walk_versions(
    store: BaseObjectStore, subdir: str, prompt_id: str, starts: dict[bytes, str]
) -> list[VersionInfo]:
    """Walk every commit reachable from ``starts`` (commit → path of the prompt
    there), children first, following the prompt's path to each parent. A blob
    is parsed only where it differs from a parent's (tree lookups elsewhere)."""
    commits = _ancestry(store, list(starts))
    order = list(reversed(topo_parents_first(commits)))
    prompts_dir = GitSnapshot(store, next(iter(starts)).decode(), subdir)
    pdir = prompts_dir.prompts_dir
    path_at: dict[bytes, str] = dict(starts)
    found: list[VersionInfo] = []
    for sha in order:
        path = path_at.get(sha)
        if path is None:
            continue
        commit = commits[sha]
        blob = blob_at(store, commit.tree, join_path(subdir, path))
        if blob is None:
            continue
        parent_blobs: list[tuple[str, str]] = []
        for parent_sha in commit.parents:
            parent = commits.get(parent_sha)
            if parent is None:
                continue
            ppath: str | None = path
            pblob = blob_at(store, parent.tree, join_path(subdir, path))
            if pblob is None or (
                pblob != blob
                and (blob_identity(store, pblob, path) or ("",))[0] != prompt_id
            ):
                ppath, pblob = _moved_from(
                    store, subdir, parent, commit, prompt_id, pdir
                )
            if ppath is not None and pblob is not None:
                path_at.setdefault(parent_sha, ppath)
                parent_blobs.append((ppath, pblob))
        if any(pb == blob for _, pb in parent_blobs):
            continue  # unchanged compared with a parent
        ident = blob_identity(store, blob, path)
        if ident is None or ident[0] != prompt_id:
            continue  # broken file at this commit: not a version
        before = {
            (blob_identity(store, pb, pp) or ("", ""))[1] for pp, pb in parent_blobs
        }
        if ident[1] in before:
            continue  # content changed without a new version string
        found.append(version_info(commit, prompt_id, ident[1], path, blob))
    # A version string is introduced once: keep its oldest commit.
    oldest: dict[str, VersionInfo] = {}
    for info in reversed(found):
        oldest.setdefault(info.version, info)
    keep = {id(v) for v in oldest.values()}
    return [v for v in found if id(v) in keep]


def _moved_from(
    store: BaseObjectStore,
    subdir: str,
    parent: Commit,
    commit: Commit,
    prompt_id: str,
    prompts_dir: str,
) -> tuple[str | None, str | None]:
    """Where the prompt lived in ``parent`` when ``commit`` moved it (or turned the
    file at its path into another prompt): the old side of this commit's changes
    under prompts/ holding the same id."""
    folder = join_path(subdir, prompts_dir)
    old_tree = subtree_sha(store, parent.tree, folder)
    new_tree = subtree_sha(store, commit.tree, folder)
    if old_tree is None:
        return None, None
    for ch in tree_changes(
        store, as_oid(old_tree), as_oid(new_tree) if new_tree else None
    ):
        if ch.old is None or ch.old.path is None or ch.old.sha is None:
            continue
        if ch.old.mode is None or not stat.S_ISREG(ch.old.mode):
            continue
        rel = f"{prompts_dir}/{ch.old.path.decode('utf-8', errors='replace')}"
        if not rel.endswith(PROMPT_SUFFIXES):
            continue
        sha = ch.old.sha.decode("ascii")
        ident = blob_identity(store, sha, rel)
        if ident is not None and ident[0] == prompt_id:
            return rel, sha
    return None, None


def _ancestry(store: BaseObjectStore, heads: list[bytes]) -> dict[ObjectID, Commit]:
    commits: dict[ObjectID, Commit] = {}
    stack = [as_oid(h) for h in heads]
    while stack:
        sha = stack.pop()
        if sha in commits:
            continue
        try:
            commit = read_commit(store, sha)
        except RefNotFound:
            continue  # shallow clone: history stops here
        commits[sha] = commit
        stack.extend(p for p in commit.parents if p not in commits)
    return commits
