"""git fsck's rules for single objects, on raw bytes: tree entry names (``.git`` in
its Windows and macOS spellings included), modes and order, and the headers and
idents of commits and tags. ``ObjectChecker`` (``object_checks``) applies them."""

from __future__ import annotations

import re
import stat
from collections.abc import Callable

from dulwich.objects import sha_to_hex

from dakora.registry.git import as_raw_oid

GITLINK = 0o160000
HEX_ID = re.compile(rb"[0-9a-f]{40}\Z")
_TZ = re.compile(rb"[+-][0-9]{4}\Z")
# git's is_ntfs_dotgit: ".git" or its 8.3 short name "git~1", then only dots and
# spaces up to the end of the name or an NTFS stream separator (":") or a backslash
_NTFS_DOTGIT = re.compile(rb"(?:\.git|git~1)[. ]*(?:\Z|[\\:])", re.IGNORECASE)
# code points HFS+ ignores when comparing names (git's next_hfs_char)
_HFS_IGNORABLE = frozenset(
    [0x200C, 0x200D, 0x200E, 0x200F, 0xFEFF]
    + list(range(0x202A, 0x202F))
    + list(range(0x206A, 0x2070))
)
_SPECIAL_FILES = (".gitmodules", ".gitattributes", ".gitignore", ".mailmap")
# NTFS short names git also refuses as symlinks (fsck's is_ntfs_dot_generic)
_SPECIAL_SHORT = re.compile(
    rb"(?:gitmod|gi7eba|gitatt|gi7d29|gitign|gi250a|mailma|maba30)~[1-9][. ]*\Z",
    re.IGNORECASE,
)
ALLOWED_MODES = frozenset({0o100644, 0o100755, 0o120000, 0o040000, GITLINK, 0o100664})
MAX_TIME = 2**63 - 1  # git's date_overflows: dates must fit a signed 64-bit time_t


class ObjectProblem(Exception):
    """One problem of one object (becomes one finding)."""

    def __init__(self, message: str, fsck_id: str, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fsck_id = fsck_id
        self.path = path


# -- names -----------------------------------------------------------------------------


def _hfs_fold(name: bytes) -> str | None:
    """The name as HFS+ compares it (ignorable code points dropped, lower case)."""
    try:
        text = name.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "".join(c for c in text if ord(c) not in _HFS_IGNORABLE).lower()


def is_dotgit(name: bytes) -> bool:
    """``.git`` as git, Windows (NTFS) or macOS (HFS+) would read the name."""
    if name.lower() == b".git" or _hfs_fold(name) == ".git":
        return True
    return any(_NTFS_DOTGIT.match(part) for part in name.split(b"\\"))


def is_special_file(name: bytes) -> bool:
    """``.gitmodules`` & co. in any spelling git refuses for a symlink."""
    folded = _hfs_fold(name)
    if folded is not None and folded.rstrip(". ") in _SPECIAL_FILES:
        return True
    return bool(_SPECIAL_SHORT.match(name))


def show_name(name: bytes) -> str:
    """A file name for a message: UTF-8 as is, other bytes as ``\\xNN``."""
    return name.decode("utf-8", "backslashreplace")


def name_problem(name: bytes, mode: int) -> tuple[str, str] | None:
    """(problem, git fsck id) of a tree entry's name, or None."""
    if not name:
        return "an entry has an empty name", "emptyName"
    if name in (b".", b".."):
        return f"an entry is named {show_name(name)!r}", (
            "hasDot" if name == b"." else "hasDotdot"
        )
    if b"/" in name:
        return f"the entry name {show_name(name)!r} holds a '/'", "fullPathname"
    if is_dotgit(name):
        return (
            f"the entry name {show_name(name)!r} reads as '.git' (on Windows or macOS)",
            "hasDotgit",
        )
    if b"\\" in name:
        return (
            f"the entry name {show_name(name)!r} holds a '\\' (a path separator on "
            "Windows)",
            "hasBackslash",
        )
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:
        return f"the file name {show_name(name)!r} is not valid UTF-8", "badName"
    if mode == 0o120000 and is_special_file(name):
        return (
            f"{show_name(name)!r} is a symlink (git refuses symlinked "
            ".gitmodules, .gitattributes, .gitignore and .mailmap)",
            "gitmodulesSymlink",
        )
    return None


# -- trees -----------------------------------------------------------------------------


# one tree entry as git lays it out: the mode up to the first space, the name up to
# the next NUL, then the 20-byte id (each part is matched exactly once, so the regex
# reads the same entries the byte-by-byte walk would, at C speed)
_TREE = re.compile(rb"(?:[^ ]* [^\0]*\0.{20})*", re.DOTALL)
_ENTRY = re.compile(rb"([^ ]*) ([^\0]*)\0(.{20})", re.DOTALL)
NULL_ID = b"\0" * 20


def parse_tree_raw(raw: bytes) -> list[tuple[bytes, bytes, bytes]]:
    """Every entry of a raw tree as (mode text, name, 20-byte id), duplicates and all."""
    if _TREE.fullmatch(raw) is None:
        raise ObjectProblem("the tree is malformed (a truncated entry)", "badTree")
    entries: list[tuple[bytes, bytes, bytes]] = _ENTRY.findall(raw)
    return entries


def tree_entries_lenient(raw: bytes) -> list[tuple[bytes, bytes, bytes]]:
    """The entries of a tree already in the repository (no checks, never raises)."""
    entries: list[tuple[bytes, bytes, bytes]] = _ENTRY.findall(raw)
    return entries


# A "plain" tree breaks none of the rules above, which a few whole-tree tests at C
# speed prove for typical trees: every mode one of git's canonical ones (no gitlink,
# no zero padding), every name ASCII letters, digits and ``_-.,+=@`` and space, not
# starting with a dot (so no ``.``/``..``, no ``.git`` spelling, no special file, no
# ``/`` or ``\\``, no ``git~1``), no duplicate name, entries in git's order, no null
# id. Anything else takes the entry-by-entry checks, which name the problem.
_PLAIN_MODES = frozenset({b"100644", b"100755", b"100664", b"120000", b"40000"})
_NAME = rb"[A-Za-z0-9_-][A-Za-z0-9_.,+=@ -]*"
_PLAIN_NAMES = re.compile(_NAME + rb"(?:\0" + _NAME + rb")*")


def plain_tree(entries: list[tuple[bytes, bytes, bytes]]) -> bool:
    """True when no entry of the tree can break a name, mode, order or duplicate rule
    (see above); False means: check entry by entry."""
    if not entries:
        return True
    modes = {e[0] for e in entries}
    if not modes <= _PLAIN_MODES:
        return False
    names = [e[1] for e in entries]
    if _PLAIN_NAMES.fullmatch(b"\0".join(names)) is None:
        return False
    if len(set(names)) != len(names):  # a file and a directory "a" included
        return False
    if NULL_ID in {e[2] for e in entries}:
        return False
    if b"40000" in modes:
        keys = [n + b"/" if m == b"40000" else n for m, n, _ in entries]
    else:
        keys = names
    return keys == sorted(keys)


def sort_key(name: bytes, mode: int) -> bytes:
    return name + b"/" if stat.S_ISDIR(mode) else name


def check_tree_entries(
    entries: list[tuple[bytes, bytes, bytes]],
    base: str,
    named: bool,
    exists: Callable[[bytes, str, str], None],
) -> None:
    """git fsck's rules on a tree's entries, one by one; the first problem raises
    ``ObjectProblem`` (its path ``base + name`` when the tree is ``named``).
    ``exists(hex id, kind, what)`` raises for an entry naming a missing object."""
    seen: set[bytes] = set()
    last: bytes | None = None
    for mode_text, name, raw_sha in entries:
        path = (base + show_name(name)) if named else None
        if mode_text.startswith(b"0"):
            raise ObjectProblem(
                f"the entry {show_name(name)!r} has the zero-padded mode "
                f"{mode_text.decode('ascii', 'replace')}",
                "zeroPaddedFilemode",
                path,
            )
        try:
            mode = int(mode_text, 8)
        except ValueError:
            raise ObjectProblem(
                f"the entry {show_name(name)!r} has the malformed mode {mode_text!r}",
                "badTree",
                path,
            ) from None
        if mode not in ALLOWED_MODES:
            raise ObjectProblem(
                f"the entry {show_name(name)!r} has the bad mode {mode:o}",
                "badFilemode",
                path,
            )
        problem = name_problem(name, mode)
        if problem is not None:
            raise ObjectProblem(problem[0], problem[1], path)
        if name in seen:
            raise ObjectProblem(
                f"duplicate entry {show_name(name)!r} (git clone would drop "
                "one of them)",
                "duplicateEntries",
                path,
            )
        seen.add(name)
        key = sort_key(name, mode)
        if last is not None and key < last:
            raise ObjectProblem(
                f"the entries are not sorted (at {show_name(name)!r})",
                "treeNotSorted",
                path,
            )
        last = key
        if mode == GITLINK:
            raise ObjectProblem(
                f"{show_name(name)!r} is a submodule (gitlink); submodules are "
                "not supported in a prompt registry",
                "gitlink",
                path,
            )
        if raw_sha == NULL_ID:
            raise ObjectProblem(
                f"the entry {show_name(name)!r} names the null object id",
                "nullSha1",
                path,
            )
        # a file "a" and a directory "a" are duplicates too, even when not
        # adjacent in the order: ``seen`` compares the names alone
        expected = "tree" if stat.S_ISDIR(mode) else "blob"
        exists(
            sha_to_hex(as_raw_oid(raw_sha)),
            expected,
            f"the entry {show_name(name)!r}: object",
        )


# -- commits and tags ------------------------------------------------------------------


def split_headers(raw: bytes, kind: str) -> list[tuple[bytes, bytes]]:
    nul = raw.find(b"\0")
    if nul >= 0:
        where = "header" if raw.find(b"\n\n", 0, nul) < 0 else "message"
        fsck = "nulInHeader" if where == "header" else f"nulIn{kind.capitalize()}"
        raise ObjectProblem(f"a NUL byte in the {kind}'s {where} (offset {nul})", fsck)
    end = raw.find(b"\n\n")
    if end < 0:
        if not raw.endswith(b"\n"):
            raise ObjectProblem(
                f"the {kind}'s header is unterminated", "unterminatedHeader"
            )
        end = len(raw) - 1
    headers: list[tuple[bytes, bytes]] = []
    for line in raw[:end].split(b"\n"):
        if line.startswith(b" ") and headers:  # continuation (gpgsig, mergetag)
            continue
        key, sep, value = line.partition(b" ")
        if not sep or not key:
            raise ObjectProblem(
                f"malformed {kind} header line {line[:40]!r}", f"bad{kind.capitalize()}"
            )
        headers.append((key, value))
    return headers


def ident_problem(value: bytes, what: str) -> tuple[str, str] | None:
    """git fsck's ident rules for ``Name <email> <seconds> <tz>``."""
    lt = value.find(b"<")
    gt = value.find(b">")
    if lt < 0 or gt < 0 or gt < lt:
        return f"{what} has no '<email>'", "badEmail"
    if lt == 0 or value[lt - 1 : lt] != b" ":
        return f"{what} lacks the space before '<email>'", "missingSpaceBeforeEmail"
    if b">" in value[:lt] or b"<" in value[lt + 1 : gt]:
        return f"{what} has a malformed name or email", "badName"
    rest = value[gt + 1 :]
    if not rest.startswith(b" "):
        return f"{what} lacks the space before its date", "missingSpaceBeforeDate"
    date, sep, tz = rest[1:].partition(b" ")
    if not sep or not date.isdigit():
        return f"{what} has a malformed date", "badDate"
    if len(date) > 1 and date.startswith(b"0"):
        return f"{what} has a zero-padded date", "zeroPaddedDate"
    if int(date) > MAX_TIME:
        return f"{what} has a date that overflows", "badDateOverflow"
    if not _TZ.match(tz):
        return f"{what} has a malformed time zone", "badTimezone"
    return None
