"""The in-memory response cache: TTL, stale-while-revalidate window, ETags.

An entry is *fresh* for ``ttl`` seconds after it was stored (or last revalidated), then
*stale* for ``stale_ttl`` more seconds — served at once while a background refresh runs
— then *expired*: the next read revalidates in the foreground (``If-None-Match`` with
the entry's ETag; a 304 makes it fresh again without a body). Entries fetched by
``version=`` or a full ``commit=`` sha are immutable (a version names one content for
ever) and never go stale. The cache holds at most ``max_entries`` (least recently used
evicted). Thread-safe; the clock is injectable for tests.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Literal

State = Literal["miss", "fresh", "stale", "expired"]


@dataclass
class Entry:
    data: dict[str, Any]
    etag: str | None
    stored_at: float
    immutable: bool


class ResponseCache:
    def __init__(
        self,
        ttl: float,
        stale_ttl: float,
        *,
        max_entries: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl < 0 or stale_ttl < 0:
            raise ValueError("cache_ttl and stale_ttl must be >= 0")
        self.ttl = ttl
        self.stale_ttl = stale_ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[Hashable, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def lookup(self, key: Hashable) -> tuple[Entry | None, State]:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None, "miss"
            self._entries.move_to_end(key)
        if entry.immutable:
            return entry, "fresh"
        age = self.clock() - entry.stored_at
        if age < self.ttl:
            return entry, "fresh"
        if age < self.ttl + self.stale_ttl:
            return entry, "stale"
        return entry, "expired"

    def peek(self, key: Hashable) -> Entry | None:
        """The entry whatever its age (for serving when the server is unreachable)."""
        with self._lock:
            return self._entries.get(key)

    def put(
        self, key: Hashable, data: dict[str, Any], etag: str | None, immutable: bool
    ) -> Entry:
        entry = Entry(data, etag, self.clock(), immutable)
        if self.max_entries <= 0:
            return entry
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return entry

    def touch(self, key: Hashable, entry: Entry) -> Entry:
        """A 304: the entry is fresh again (re-inserted if it was evicted meanwhile)."""
        entry.stored_at = self.clock()
        if self.max_entries > 0:
            with self._lock:
                self._entries[key] = entry
                self._entries.move_to_end(key)
        return entry

    def pop(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def drop_where(self, predicate: Callable[[Hashable], bool]) -> int:
        """Drop every entry whose key matches; returns how many were dropped."""
        with self._lock:
            doomed = [key for key in self._entries if predicate(key)]
            for key in doomed:
                del self._entries[key]
        return len(doomed)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
