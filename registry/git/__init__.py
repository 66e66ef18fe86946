"""The one seam to dulwich: bare repositories (``repo``), raw object reads (``objects``),
commit-graph walks (``walk``), cached tree diffs (``tree_diff``), snapshots of a commit or a working folder behind one
``Snapshot`` protocol (``snapshot``, ``snapshot_base``, ``commit_snapshot``,
``folder_snapshot``, ``layout``), prompt files parsed once per blob (``prompt_cache``),
and a prompt's history and versions across commits (``history``, ``versions``).

Other layers import from this face; the modules behind it are private.
"""

from __future__ import annotations

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
