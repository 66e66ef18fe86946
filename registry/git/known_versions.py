"""(prompt id, version) → blob sha of every version on any ref, read from git history
(no database): what the version rules ask when a server has no index, and what
``dakora lint`` asks of a local repository.

``HistoryVersions`` is incremental: each ``update`` walks only commits not seen
before, so a long-lived instance (one per repository, ``history_versions``) costs one
full walk at first and then only the new commits of each push.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from dulwich.object_store import BaseObjectStore

from dakora.registry.git.versions import versions_in_range
from dakora.registry.git.walk import peel

# Which blob a (prompt id, version) names across every ref of the project (None: that
# version was never used): lets the version-immutability rule see history beyond the
# parent commit (other branches, tags, the DB index).
VersionLookup = Callable[[str, str], "str | None"]


class HistoryVersions:
    """The version table of one repository (``subdir``: the prompt root in it)."""

    def __init__(self, subdir: str = "") -> None:
        self._subdir = subdir
        self._lock = threading.Lock()
        self._done: list[str] = []
        self._done_set: set[str] = set()
        self._table: dict[tuple[str, str], str] = {}

    def update(self, store: BaseObjectStore, refs: Mapping[str, str]) -> None:
        """Read the versions the commits of ``refs`` (name → sha) bring."""
        with self._lock:
            for _name, sha in sorted(refs.items()):
                try:
                    commit = peel(store, sha)
                except KeyError:
                    continue
                if commit is None or commit in self._done_set:
                    continue
                for info in versions_in_range(
                    store, commit, list(self._done), self._subdir
                ):
                    self._table.setdefault(
                        (info.prompt_id, info.version), info.blob_sha
                    )
                self._done.append(commit)
                self._done_set.add(commit)

    def get(self, prompt_id: str, version: str) -> str | None:
        return self._table.get((prompt_id, version))


_HISTORY: dict[str, HistoryVersions] = {}
_HISTORY_LOCK = threading.Lock()


def history_versions(key: str) -> HistoryVersions:
    """The process-wide ``HistoryVersions`` of one repository (``key``: its path)."""
    with _HISTORY_LOCK:
        found = _HISTORY.get(key)
        if found is None:
            found = _HISTORY[key] = HistoryVersions()
        return found


def repo_version_lookup(
    store: BaseObjectStore,
    refs: Mapping[str, str],
    history: HistoryVersions | None = None,
) -> VersionLookup:
    """A version lookup read from the repository's history, built lazily on the
    first question (servers with an index look versions up there instead)."""
    table = history or HistoryVersions()
    ready = False

    def lookup(prompt_id: str, version: str) -> str | None:
        nonlocal ready
        if not ready:
            table.update(store, refs)
            ready = True
        return table.get(prompt_id, version)

    return lookup
