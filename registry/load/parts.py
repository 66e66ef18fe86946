"""Part names and an in-memory ``PartsSource`` (for tests, API writes and tools).

A part lives at ``parts/<category>/<name>.<ext>`` (ext one of ``PART_EXTENSIONS``) and is
included as ``{% include "category/name" %}``; the extension is optional in the
include. These helpers are shared by every ``PartsSource`` so all resolve names alike.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

PART_EXTENSIONS: tuple[str, ...] = (".md", ".txt", ".j2")
PARTS_DIR = "parts"


def is_valid_part_name(name: str) -> bool:
    """``category/name`` (optionally with extension): relative, no ``..``, no ``\\``."""
    if not name or "\\" in name or "\x00" in name or name.startswith("/"):
        return False
    segments = name.split("/")
    return all(s not in ("", ".", "..") for s in segments)


def strip_extension(name: str) -> str:
    for ext in PART_EXTENSIONS:
        if name.endswith(ext) and len(name) > len(ext):
            return name[: -len(ext)]
    return name


def part_name_from_path(path: str, parts_dir: str = PARTS_DIR) -> str | None:
    """``parts/system/tone.md`` → ``system/tone``; None if not a part path."""
    prefix = parts_dir.rstrip("/") + "/"
    if not path.startswith(prefix):
        return None
    rel = path[len(prefix) :]
    if "/" not in rel or not rel.endswith(PART_EXTENSIONS):
        return None
    name = strip_extension(rel)
    return name if is_valid_part_name(name) else None


def part_candidates(name: str) -> list[str]:
    """Names relative to ``parts/`` to try, in order, for an include target."""
    if not is_valid_part_name(name):
        return []
    if name.endswith(PART_EXTENSIONS):
        return [name]
    return [name + ext for ext in PART_EXTENSIONS]


class MemoryParts(dict[str, str]):
    """A ``PartsSource`` over a dict ``{"category/name.ext": source}``.

    Keys are relative to ``parts/`` and may omit the extension. ``key`` is a content
    hash (recomputed after any change), so renders cache correctly.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._key: str | None = None

    # -- PartsSource -------------------------------------------------------------

    @property
    def key(self) -> str:
        key = self._key
        if key is None:
            digest = hashlib.sha256()
            for name in sorted(self):
                digest.update(name.encode("utf-8") + b"\x00")
                digest.update(self[name].encode("utf-8") + b"\x00")
            key = self._key = "mem:" + digest.hexdigest()
        return key

    def names(self) -> list[str]:
        return sorted({strip_extension(k) for k in self})

    def get_source(self, name: str) -> tuple[str, str] | None:
        if not is_valid_part_name(name):
            return None
        candidates = [name] if name in self else part_candidates(name)
        for candidate in candidates:
            text = self.get(candidate)
            if text is not None:
                return text, f"{PARTS_DIR}/{candidate}"
        return None

    # -- keep ``key`` in sync with the content ------------------------------------

    def __setitem__(self, k: str, v: str) -> None:
        self._key = None
        super().__setitem__(k, v)

    def __delitem__(self, k: str) -> None:
        self._key = None
        super().__delitem__(k)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._key = None
        super().update(*args, **kwargs)

    def pop(self, *args: Any) -> Any:
        self._key = None
        return super().pop(*args)

    def popitem(self) -> tuple[str, str]:
        self._key = None
        return super().popitem()

    def clear(self) -> None:
        self._key = None
        super().clear()

    def setdefault(self, k: str, default: str = "") -> str:
        self._key = None
        return super().setdefault(k, default)

    def __ior__(self, other: Iterable[Any]) -> MemoryParts:  # type: ignore[override,misc]
        self._key = None
        super().__ior__(other)
        return self
