"""Where things live in a prompt repository: file suffixes, ``dakora.yaml``, the
symlink mode and git's empty tree, and the path rules every snapshot applies (safe
relative paths, configured folders, part names to file names).
"""

from __future__ import annotations

from dakora.registry.load import PART_EXTENSIONS

PROMPT_SUFFIXES: tuple[str, ...] = (".yaml", ".yml")
PART_SUFFIXES: tuple[str, ...] = PART_EXTENSIONS  # one list: parts.py
CONFIG_PATH = "dakora.yaml"
SYMLINK_MODE = 0o120000
EMPTY_TREE_SHA = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's empty tree


def is_safe_relpath(path: str) -> bool:
    """A relative forward-slash path without ``..``/``.``/empty components."""
    if not path or path.startswith("/") or "\\" in path or "\x00" in path:
        return False
    if len(path) > 1 and path[1] == ":":
        return False
    return all(part not in ("", ".", "..") for part in path.split("/"))


def clean_dir(value: str, default: str) -> str:
    value = value.strip().strip("/")
    return value if value and is_safe_relpath(value) else default


def part_candidates(name: str) -> list[str]:
    """``category/name`` (extension optional) → file names to try inside parts/."""
    if not is_safe_relpath(name) or name.count("/") != 1:
        return []
    if name.endswith(PART_SUFFIXES):
        return [name]
    return [name + suffix for suffix in PART_SUFFIXES]
