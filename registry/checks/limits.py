"""The size and count limits of a push (``limit-refs``, ``limit-files-per-commit``,
``limit-file-size``) and the path rule (``unsafe-path``), on every new commit."""

from __future__ import annotations

import stat
from collections.abc import Iterable
from dataclasses import dataclass

from dulwich.object_store import BaseObjectStore

from dakora.registry.core import Finding
from dakora.registry.git import (
    commit_changes,
    new_commits,
    read_commit,
    read_raw,
    unsafe_path_reason,
)

SUBMODULE_MODE = 0o160000


@dataclass(frozen=True)
class PushLimits:
    """Size and count limits of one push."""

    max_pack_bytes: int = 256 * 1024 * 1024
    max_files_per_commit: int = 20_000
    max_file_bytes: int = 10 * 1024 * 1024
    max_refs: int = 1_000
    # the sum of the inflated sizes of a push's objects (read from their headers)
    max_unpacked_bytes: int = 512 * 1024 * 1024


def refs_limit_findings(count: int, limits: PushLimits) -> list[Finding]:
    if count <= limits.max_refs:
        return []
    message = f"too many ref updates in one push ({count} > {limits.max_refs})"
    return [Finding.error("(push)", None, message, "limit-refs")]


def limit_findings(
    store: BaseObjectStore,
    new: str,
    exclude: Iterable[str],
    limits: PushLimits,
    seen: set[str],
) -> list[Finding]:
    """The limits and the path rule on every commit ``new`` brings (not reachable
    from ``exclude``); commits in ``seen`` are skipped (and new ones added)."""
    findings: list[Finding] = []
    for sha in new_commits(store, new, exclude):
        if sha in seen:
            continue
        seen.add(sha)
        findings.extend(_commit_findings(store, sha, limits))
    return findings


def _commit_findings(
    store: BaseObjectStore, sha: str, limits: PushLimits
) -> list[Finding]:
    changes = commit_changes(store, read_commit(store, sha), "")
    count = len({c.new_path or c.old_path for c in changes})
    findings: list[Finding] = []
    if count > limits.max_files_per_commit:
        findings.append(
            Finding.error(
                "(push)",
                None,
                f"commit {sha[:10]} changes {count} files (limit "
                f"{limits.max_files_per_commit})",
                "limit-files-per-commit",
            )
        )
    for change in changes:
        path, blob, mode = change.new_path, change.new_sha, change.new_mode
        if path is None or blob is None or mode is None or stat.S_ISDIR(mode):
            continue
        unsafe = unsafe_path_reason(path)
        if unsafe is not None:
            findings.append(Finding.error(path, None, unsafe, "unsafe-path"))
            continue
        if mode == SUBMODULE_MODE:
            continue
        try:
            _type, raw = read_raw(store, blob.encode("ascii"))
        except KeyError:
            continue
        if len(raw) > limits.max_file_bytes:
            findings.append(
                Finding.error(
                    path,
                    None,
                    f"file is {len(raw)} bytes (limit {limits.max_file_bytes})",
                    "limit-file-size",
                )
            )
    return findings
