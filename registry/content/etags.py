"""ETags of the read path and the two headers that name them.

One function computes an ETag (:func:`etag`: the quoted sha of the content: a
prompt's or part's blob, a list's commit, the parts tree), one parses a header's list
of entity tags (:func:`etag_values`, for ``If-None-Match`` and ``If-Match``), and
:func:`if_match_satisfied` decides an API write's precondition: ``If-Match`` names
the base the client edited (``*``, the prompt's current version, its blob sha, or a
commit sha at which it had its current content).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from dulwich.object_store import BaseObjectStore

from dakora.registry.core import DakoraError
from dakora.registry.git import GitSnapshot, as_oid

SHA_PREFIX_RE = re.compile(r"^[0-9a-f]{7,40}$")

PathOf = Callable[[GitSnapshot], "str | None"]


def etag(sha: str) -> str:
    """The ETag header value of content named by ``sha`` (a ``BlobSha``, a
    ``CommitSha``, a parts ``TreeSha`` or a folder's content hash: a strong, quoted tag)."""
    return f'"{sha}"'


def etag_values(header: str) -> list[str]:
    """The entity tags of an ``If-None-Match`` / ``If-Match`` list, weak prefixes
    dropped, quotes kept (``W/"a", "b"`` → ``['"a"', '"b"']``; ``*`` stays ``*``)."""
    out = []
    for item in header.split(","):
        value = item.strip().removeprefix("W/").strip()
        if value:
            out.append(value)
    return out


def etag_matches(if_none_match: str | None, tag: str) -> bool:
    """RFC 9110 weak comparison of ``tag`` against an ``If-None-Match`` list (or
    ``*``)."""
    if not if_none_match:
        return False
    values = etag_values(if_none_match)
    return "*" in values or tag.removeprefix("W/") in values


def if_match_satisfied(
    store: BaseObjectStore,
    header: str,
    *,
    current_blob: str,
    current_version: str | None,
    path_of: PathOf,
) -> bool:
    """True when ``If-Match`` names the current content: ``*``, the current version,
    the current blob, or a commit at which ``path_of`` finds the current blob."""
    for tag in etag_values(header):
        value = tag.strip('"').strip()  # If-Match also takes a bare version or sha
        if not value:
            continue
        if value in ("*", current_blob) or value == current_version:
            return True
        commit = _resolve_commit(store, value)
        if commit is not None and _blob_at(store, commit, path_of) == current_blob:
            return True
    return False


def _blob_at(store: BaseObjectStore, commit: str, path_of: PathOf) -> str | None:
    """The blob ``path_of(snapshot)`` names at ``commit`` (None when absent)."""
    try:
        snap = GitSnapshot(store, commit)
    except DakoraError:
        return None
    path = path_of(snap)
    if path is None or not snap.exists(path):
        return None
    return snap.blob_sha(path)


def _resolve_commit(store: BaseObjectStore, value: str) -> str | None:
    value = value.lower()
    if not SHA_PREFIX_RE.match(value):
        return None
    if len(value) == 40:
        return value if as_oid(value) in store else None
    matches = {sha.decode("ascii") for sha in store.iter_prefix(value.encode("ascii"))}
    return matches.pop() if len(matches) == 1 else None
