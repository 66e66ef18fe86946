"""A small thread-safe LRU map: the one shape of the registry's in-process caches
(parsed parts, template analyses, include targets, prompt identities per tree)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LruCache(Generic[K, V]):
    """``get`` refreshes an entry; ``put`` adds or replaces one and drops the least
    recently used entries past ``maxsize``. Values are never None (None = a miss).
    ``hits`` / ``misses`` count ``get`` calls (the server's ``/metrics`` reads them)."""

    def __init__(self, maxsize: int) -> None:
        self._lock = threading.Lock()
        self._data: OrderedDict[K, V] = OrderedDict()
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0

    def get(self, key: K) -> V | None:
        with self._lock:
            hit = self._data.get(key)
            if hit is not None:
                self._data.move_to_end(key)
                self.hits += 1
            else:
                self.misses += 1
            return hit

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
