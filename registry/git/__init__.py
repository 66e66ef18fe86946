"""The one seam to dulwich: bare repositories (``repo``), raw object reads (``objects``),
commit-graph walks (``walk``), cached tree diffs (``tree_diff``), snapshots of a commit or a working folder behind one
``Snapshot`` protocol (``snapshot``, ``snapshot_base``, ``commit_snapshot``,
``folder_snapshot``, ``layout``), prompt files parsed once per blob (``prompt_cache``),
and a prompt's history and versions across commits (``history``, ``versions``).

Other layers import from this face; the modules behind it are private.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dakora.registry.core import lazy_getattr

# Loaded on first use of a name, as in ``dakora.registry.core``: a working-tree read
# (``FolderSnapshot``, ``dakora render`` without a ref) or a ``PartsSource`` annotation
# then imports no dulwich (docs/development.md, "CLI start-up"). Type checkers see plain imports.
if TYPE_CHECKING:
    from dakora.registry.git.commit_snapshot import GitSnapshot
    from dakora.registry.git.folder_snapshot import FolderSnapshot
    from dakora.registry.git.known_versions import (
        HistoryVersions,
        VersionLookup,
        history_versions,
        repo_version_lookup,
    )
    from dakora.registry.git.layout import (
        CONFIG_PATH,
        PART_SUFFIXES,
        PROMPT_SUFFIXES,
        branch_ref,
        check_message,
        is_safe_relpath,
        short_ref,
        unsafe_path_reason,
    )
    from dakora.registry.git.objects import (
        as_oid,
        as_raw_oid,
        as_ref,
        read_commit,
        read_raw,
        refresh_packs,
    )
    from dakora.registry.git.prompt_cache import (
        MAX_PROMPT_FILE_BYTES,
        blob_identity,
        load_blob_with_findings,
        load_with_findings,
        parse_scope,
        prompt_identity,
    )
    from dakora.registry.git.reflog import (
        PROMOTE_PREFIX,
        RefLogEntry,
        append_ref_log,
        read_ref_log,
    )
    from dakora.registry.git.repo import PromptRepository
    from dakora.registry.git.snapshot import PartsSource, Snapshot
    from dakora.registry.git.tree_diff import changed_paths, commit_changes, diff_trees
    from dakora.registry.git.versions import (
        PromptHead,
        VersionInfo,
        heads_at,
        versions_in_range,
    )
    from dakora.registry.git.walk import is_ancestor, new_commits, peel

_LAZY = {
    "GitSnapshot": "commit_snapshot",
    "FolderSnapshot": "folder_snapshot",
    "HistoryVersions": "known_versions",
    "VersionLookup": "known_versions",
    "history_versions": "known_versions",
    "repo_version_lookup": "known_versions",
    "CONFIG_PATH": "layout",
    "PART_SUFFIXES": "layout",
    "PROMPT_SUFFIXES": "layout",
    "branch_ref": "layout",
    "check_message": "layout",
    "is_safe_relpath": "layout",
    "short_ref": "layout",
    "unsafe_path_reason": "layout",
    "as_oid": "objects",
    "as_raw_oid": "objects",
    "as_ref": "objects",
    "read_commit": "objects",
    "read_raw": "objects",
    "refresh_packs": "objects",
    "MAX_PROMPT_FILE_BYTES": "prompt_cache",
    "blob_identity": "prompt_cache",
    "load_blob_with_findings": "prompt_cache",
    "load_with_findings": "prompt_cache",
    "parse_scope": "prompt_cache",
    "prompt_identity": "prompt_cache",
    "PROMOTE_PREFIX": "reflog",
    "RefLogEntry": "reflog",
    "append_ref_log": "reflog",
    "read_ref_log": "reflog",
    "PromptRepository": "repo",
    "PartsSource": "snapshot",
    "Snapshot": "snapshot",
    "changed_paths": "tree_diff",
    "commit_changes": "tree_diff",
    "diff_trees": "tree_diff",
    "PromptHead": "versions",
    "VersionInfo": "versions",
    "heads_at": "versions",
    "versions_in_range": "versions",
    "is_ancestor": "walk",
    "new_commits": "walk",
    "peel": "walk",
}


__getattr__ = lazy_getattr(__name__, _LAZY, globals())


__all__ = [
    "branch_ref",
    "check_message",
    "CONFIG_PATH",
    "FolderSnapshot",
    "GitSnapshot",
    "HistoryVersions",
    "MAX_PROMPT_FILE_BYTES",
    "PART_SUFFIXES",
    "PROMPT_SUFFIXES",
    "PartsSource",
    "PromptHead",
    "PROMOTE_PREFIX",
    "PromptRepository",
    "RefLogEntry",
    "append_ref_log",
    "read_ref_log",
    "Snapshot",
    "VersionInfo",
    "VersionLookup",
    "blob_identity",
    "changed_paths",
    "commit_changes",
    "diff_trees",
    "heads_at",
    "history_versions",
    "is_ancestor",
    "is_safe_relpath",
    "load_blob_with_findings",
    "load_with_findings",
    "parse_scope",
    "new_commits",
    "as_oid",
    "as_raw_oid",
    "as_ref",
    "peel",
    "prompt_identity",
    "read_commit",
    "read_raw",
    "refresh_packs",
    "repo_version_lookup",
    "short_ref",
    "unsafe_path_reason",
    "versions_in_range",
]
