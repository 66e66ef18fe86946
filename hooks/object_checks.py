"""Every object a push brings is checked the way ``git fsck`` checks objects.

Runs on the pushed objects only (the quarantine's own packs and loose objects), before
the prompt checks and before anything is accepted; each problem becomes one
``remote:`` line naming the object (and, for a tree entry, the path) and the problem,
with git's own fsck message id in brackets so it can be looked up.

What is refused:

- **sizes** (read from the object headers, nothing is inflated to learn them): any
  object over ``max_object_bytes``, whatever points at it (a blob behind an annotated
  tag obeys the same limit as a file of a commit);
- **trees** (parsed from the raw bytes: dulwich collapses duplicate names into one
  entry, so its parsed ``Tree`` cannot show them): malformed entries, duplicate names,
  entries out of git's order, zero-padded or unknown modes, gitlinks (submodules have
  no place in a prompt registry), empty names, ``.``, ``..``, names holding ``/`` or
  ``\\``, ``.git`` in any case and its HFS+ (ignorable code points) and NTFS
  (``git~1``, trailing dots and spaces, ``:stream``) spellings, symlinks named like
  ``.gitmodules``/``.gitattributes``/``.gitignore``/``.mailmap``, names that are not
  UTF-8, the null object id, and entries naming an object that does not exist (or,
  for pushed objects, one of the wrong type);
- **commits**: headers out of order or missing (``tree``, ``parent``…, ``author``,
  ``committer``), object ids that are not 40 lowercase hex digits, idents that are not
  ``Name <email> <seconds> <+hhmm>`` (zero-padded or overflowing dates included), a
  NUL byte anywhere (header or message), a missing header terminator, a tree or
  parent that does not exist;
- **tags**: ``object``/``type``/``tag``/``tagger`` headers malformed or out of order, a
  tag name that is not a valid ref name, a NUL byte, a target that does not exist or
  is not of the type the tag states, and a target that is a blob or a tree (a tag must
  point at a commit, or at another tag).
"""

from __future__ import annotations

import os
import re
import stat
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from dulwich.object_format import DEFAULT_OBJECT_FORMAT
from dulwich.object_store import BaseObjectStore, DiskObjectStore
from dulwich.objects import sha_to_hex
from dulwich.pack import load_pack_index
from dulwich.refs import check_ref_format

from dakora.hooks.pack_guard import (
    OFS_DELTA,
    REF_DELTA,
    TYPE_NAMES,
    ObjectLimits,
    PackFormatError,
    PackTooLarge,
    delta_target_size,
    loose_object_header,
    scan_pack_file,
)
from dakora.registry.core import Finding

RULE = "object-check"
MAX_FINDINGS = 50
GITLINK = 0o160000
_HEX = re.compile(rb"[0-9a-f]{40}\Z")
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
_ALLOWED_MODES = frozenset({0o100644, 0o100755, 0o120000, 0o040000, GITLINK, 0o100664})
MAX_TIME = 2**63 - 1  # git's date_overflows: dates must fit a signed 64-bit time_t


@dataclass(frozen=True)
class StoredObject:
    """One object of the pushed set: hex id, type name, inflated size."""

    sha: bytes
    kind: str
    size: int


class ObjectProblem(Exception):
    """One problem of one object (becomes one finding)."""

    def __init__(self, message: str, fsck_id: str, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fsck_id = fsck_id
        self.path = path


# -- what the push brought -----------------------------------------------------------


def _read_at(fh: object, offset: int, size: int) -> bytes:
    fh.seek(offset)  # type: ignore[attr-defined]
    return fh.read(size)  # type: ignore[attr-defined,no-any-return]


def _pack_objects(pack_path: str) -> Iterator[StoredObject]:
    """(id, type, size) of every object of a pack, from the headers: a delta's type is
    its base's, its size the one its delta header states (first bytes inflated)."""
    index = load_pack_index(pack_path[: -len(".pack")] + ".idx", DEFAULT_OBJECT_FORMAT)
    try:
        entries = [(sha, offset) for sha, offset, _crc in index.iterentries()]
        offsets = {sha: offset for sha, offset in entries}
        types: dict[int, int] = {}
        with open(pack_path, "rb") as fh:

            def header(offset: int) -> tuple[int, int, int, bytes]:
                """(type, size, where the zlib data starts, base) at ``offset``."""
                raw = _read_at(fh, offset, 64)
                if not raw:
                    raise PackFormatError(f"{pack_path}: no object at {offset}")
                byte = raw[0]
                type_num, size, shift, pos = (byte >> 4) & 7, byte & 0x0F, 4, 1
                while byte & 0x80:
                    byte = raw[pos]
                    size |= (byte & 0x7F) << shift
                    shift, pos = shift + 7, pos + 1
                base_ref = b""
                if type_num == OFS_DELTA:
                    byte = raw[pos]
                    pos += 1
                    delta = byte & 0x7F
                    while byte & 0x80:
                        byte = raw[pos]
                        pos += 1
                        delta = ((delta + 1) << 7) | (byte & 0x7F)
                    base_ref = str(offset - delta).encode()
                elif type_num == REF_DELTA:
                    base_ref = raw[pos : pos + 20]
                    pos += 20
                return type_num, size, offset + pos, base_ref

            def type_at(offset: int, depth: int = 0) -> int:
                found = types.get(offset)
                if found is not None:
                    return found
                if depth > 10_000:
                    raise PackFormatError(f"{pack_path}: delta chain too long")
                type_num, _size, _start, base_ref = header(offset)
                if type_num == OFS_DELTA:
                    type_num = type_at(int(base_ref), depth + 1)
                elif type_num == REF_DELTA:
                    base_offset = offsets.get(base_ref)
                    if base_offset is None:
                        raise PackFormatError(f"{pack_path}: a delta base is missing")
                    type_num = type_at(base_offset, depth + 1)
                types[offset] = type_num
                return type_num

            for sha, offset in entries:
                type_num, size, start, _base = header(offset)
                if type_num in (OFS_DELTA, REF_DELTA):
                    z = zlib.decompressobj()
                    head = z.decompress(_read_at(fh, start, 4096), 32)
                    target = delta_target_size(head)
                    if target is None:
                        raise PackFormatError(f"{pack_path}: a delta has no header")
                    size = target
                kind = TYPE_NAMES.get(type_at(offset), "unknown")
                yield StoredObject(sha_to_hex(sha), kind, size)
    finally:
        index.close()


def pushed_objects(
    objects_dir: str, *, scan: bool = False, limits: ObjectLimits | None = None
) -> Iterator[StoredObject]:
    """The objects stored in ``objects_dir`` itself (a quarantine: never its
    alternates). ``scan``: first run ``scan_pack_file`` over each pack (for packs no
    ``PackScanner`` saw arrive, such as git's own quarantine)."""
    pack_dir = os.path.join(objects_dir, "pack")
    if os.path.isdir(pack_dir):
        for name in sorted(os.listdir(pack_dir)):
            if not name.endswith(".pack"):
                continue
            path = os.path.join(pack_dir, name)
            if not os.path.exists(path[: -len(".pack")] + ".idx"):
                continue
            if scan:
                scan_pack_file(path, limits)
            yield from _pack_objects(path)
    for prefix in sorted(os.listdir(objects_dir)):
        if len(prefix) != 2 or not all(c in "0123456789abcdef" for c in prefix):
            continue
        sub = os.path.join(objects_dir, prefix)
        for rest in sorted(os.listdir(sub)):
            sha = (prefix + rest).encode("ascii")
            if len(sha) != 40:
                continue
            kind, size = loose_object_header(os.path.join(sub, rest))
            yield StoredObject(sha, kind, size)


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


def parse_tree_raw(raw: bytes) -> list[tuple[bytes, bytes, bytes]]:
    """Every entry of a raw tree as (mode text, name, 20-byte id), duplicates and all."""
    entries: list[tuple[bytes, bytes, bytes]] = []
    pos, end = 0, len(raw)
    while pos < end:
        space = raw.find(b" ", pos)
        nul = raw.find(b"\0", space + 1) if space >= 0 else -1
        if space < 0 or nul < 0 or nul + 21 > end:
            raise ObjectProblem("the tree is malformed (a truncated entry)", "badTree")
        entries.append((raw[pos:space], raw[space + 1 : nul], raw[nul + 1 : nul + 21]))
        pos = nul + 21
    return entries


def _sort_key(name: bytes, mode: int) -> bytes:
    return name + b"/" if stat.S_ISDIR(mode) else name


# -- commits and tags ------------------------------------------------------------------


def _split_headers(raw: bytes, kind: str) -> list[tuple[bytes, bytes]]:
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


# -- the checker -----------------------------------------------------------------------


class ObjectChecker:
    """Checks the objects of one push (see the module docstring)."""

    def __init__(
        self,
        store: BaseObjectStore,
        objects: list[StoredObject],
        limits: ObjectLimits | None = None,
        raws: dict[bytes, bytes] | None = None,
    ) -> None:
        self.store = store  # the pushed objects *and* the repository's
        self._raws = raws or {}  # bytes of pushed objects, when already read
        self.limits = limits or ObjectLimits()
        self.objects = objects
        self.kinds = {o.sha: o.kind for o in objects}
        # tree or blob id -> where a pushed commit has it
        self.paths: dict[bytes, str] = {}
        self.findings: list[Finding] = []

    def run(self) -> list[Finding]:
        raws: dict[bytes, bytes] = {}
        cap = self.limits.max_object_bytes
        oversized = [o for o in self.objects if o.size > cap]
        for obj in self.objects:
            if obj.size <= cap and obj.kind in ("commit", "tag", "tree"):
                known = self._raws.get(obj.sha)
                raws[obj.sha] = (
                    known if known is not None else self.store.get_raw(obj.sha)[1]
                )
        self._name_trees(raws)
        for obj in oversized:
            path = self.paths.get(obj.sha)
            if obj.kind == "blob" and path is not None:
                self.findings.append(
                    Finding.error(
                        path,
                        None,
                        f"file is {obj.size} bytes (limit {cap})",
                        "limit-file-size",
                    )
                )
            else:
                self._add(
                    obj, f"is {obj.size} bytes (limit {cap})", "limit-object-size"
                )
        for obj in self.objects:
            if obj.sha not in raws:
                continue
            if obj.kind == "commit":
                self._guard(obj, lambda o=obj: self._commit(o, raws[o.sha]))
            elif obj.kind == "tree":
                self._guard(obj, lambda o=obj: self._tree(o, raws[o.sha]))
            elif obj.kind == "tag":
                self._guard(obj, lambda o=obj: self._tag(o, raws[o.sha]))
        return self.findings[:MAX_FINDINGS]

    # -- reporting -----------------------------------------------------------------

    def _label(self, obj: StoredObject) -> str:
        return f"{obj.kind} {obj.sha.decode('ascii')}"

    def _add(
        self, obj: StoredObject, problem: str, fsck_id: str, path: str | None = None
    ) -> None:
        where = path or self.paths.get(obj.sha) or self._label(obj)
        if path or obj.sha in self.paths:
            message = f"{self._label(obj)}: {problem} [{fsck_id}]"
        else:
            message = f"{problem} [{fsck_id}]"
        self.findings.append(Finding.error(where, None, message, RULE))

    def _guard(self, obj: StoredObject, check: object) -> None:
        try:
            check()  # type: ignore[operator]
        except ObjectProblem as problem:
            self._add(obj, problem.message, problem.fsck_id, problem.path)

    # -- references --------------------------------------------------------------------

    def _exists(self, hexsha: bytes, kind: str, what: str) -> None:
        pushed = self.kinds.get(hexsha)
        if pushed is not None:
            if pushed != kind:
                raise ObjectProblem(
                    f"{what} {hexsha.decode()} is a {pushed}, not a {kind}", "badType"
                )
            return
        if hexsha not in self.store:
            raise ObjectProblem(
                f"{what} {hexsha.decode()} does not exist", "missingObject"
            )

    # -- trees -------------------------------------------------------------------------

    def _name_trees(self, raws: dict[bytes, bytes]) -> None:
        """Where each pushed tree sits in a pushed commit (for the messages)."""
        queue: list[tuple[bytes, str]] = []
        for obj in self.objects:
            if obj.kind != "commit" or obj.sha not in raws:
                continue
            first = raws[obj.sha].split(b"\n", 1)[0]
            if first.startswith(b"tree ") and _HEX.match(first[5:]):
                queue.append((first[5:], ""))
        while queue:
            sha, path = queue.pop()
            if sha in self.paths or self.kinds.get(sha) != "tree" or sha not in raws:
                continue
            self.paths[sha] = path or "/"
            try:
                entries = parse_tree_raw(raws[sha])
            except ObjectProblem:
                continue
            for mode_text, name, raw_sha in entries:
                child = sha_to_hex(raw_sha)
                if mode_text in (b"40000", b"040000"):
                    queue.append((child, path + show_name(name) + "/"))
                elif self.kinds.get(child) == "blob":
                    self.paths.setdefault(child, path + show_name(name))

    def _tree(self, obj: StoredObject, raw: bytes) -> None:
        base = self.paths.get(obj.sha, "")
        base = "" if base == "/" else base
        seen: set[bytes] = set()
        last: bytes | None = None
        for mode_text, name, raw_sha in parse_tree_raw(raw):
            path = (base + show_name(name)) if base or obj.sha in self.paths else None
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
                    f"the entry {show_name(name)!r} has the malformed mode "
                    f"{mode_text!r}",
                    "badTree",
                    path,
                ) from None
            if mode not in _ALLOWED_MODES:
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
            key = _sort_key(name, mode)
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
            hexsha = sha_to_hex(raw_sha)
            if raw_sha == b"\0" * 20:
                raise ObjectProblem(
                    f"the entry {show_name(name)!r} names the null object id",
                    "nullSha1",
                    path,
                )
            # a file "a" and a directory "a" are duplicates too, even when not
            # adjacent in the order: ``seen`` compares the names alone
            expected = "tree" if stat.S_ISDIR(mode) else "blob"
            self._exists(hexsha, expected, f"the entry {show_name(name)!r}: object")

    # -- commits -------------------------------------------------------------------------

    def _commit(self, obj: StoredObject, raw: bytes) -> None:
        headers = _split_headers(raw, "commit")
        keys = [k for k, _ in headers]
        if not keys or keys[0] != b"tree":
            raise ObjectProblem(
                "the commit does not start with a tree header", "missingTree"
            )
        tree = headers[0][1]
        if not _HEX.match(tree):
            raise ObjectProblem(f"bad tree id {tree[:50]!r}", "badTreeSha1")
        i = 1
        while i < len(headers) and headers[i][0] == b"parent":
            parent = headers[i][1]
            if not _HEX.match(parent):
                raise ObjectProblem(f"bad parent id {parent[:50]!r}", "badParentSha1")
            self._exists(parent, "commit", "parent")
            i += 1
        for field in (b"author", b"committer"):
            if i >= len(headers) or headers[i][0] != field:
                raise ObjectProblem(
                    f"the {field.decode()} header is missing or out of order",
                    f"missing{field.decode().capitalize()}",
                )
            problem = ident_problem(headers[i][1], f"the {field.decode()}")
            if problem is not None:
                raise ObjectProblem(*problem)
            i += 1
        for key, _ in headers[i:]:
            if key in (b"tree", b"parent", b"author", b"committer"):
                raise ObjectProblem(
                    f"a second or misplaced {key.decode()} header", "badCommit"
                )
        self._exists(tree, "tree", "tree")

    # -- tags ----------------------------------------------------------------------------

    def _tag(self, obj: StoredObject, raw: bytes) -> None:
        headers = _split_headers(raw, "tag")
        expected = (b"object", b"type", b"tag")
        for i, field in enumerate(expected):
            if i >= len(headers) or headers[i][0] != field:
                raise ObjectProblem(
                    f"the {field.decode()} header is missing or out of order",
                    f"missing{field.decode().capitalize()}",
                )
        target, kind, name = (headers[i][1] for i in range(3))
        if not _HEX.match(target):
            raise ObjectProblem(f"bad object id {target[:50]!r}", "badObjectSha1")
        if kind not in (b"commit", b"tag", b"tree", b"blob"):
            raise ObjectProblem(f"bad type {kind[:20]!r}", "badType")
        if not check_ref_format(b"refs/tags/" + name):
            raise ObjectProblem(
                f"the tag name {show_name(name)!r} is not a valid ref name",
                "badTagName",
            )
        if len(headers) > 3 and headers[3][0] == b"tagger":
            problem = ident_problem(headers[3][1], "the tagger")
            if problem is not None:
                raise ObjectProblem(*problem)
        if kind in (b"blob", b"tree"):
            raise ObjectProblem(
                f"the tag points at a {kind.decode()}; a tag must point at a commit",
                "tagTarget",
            )
        self._exists(target, kind.decode(), "the tagged object")
        if self.kinds.get(target) is None:
            try:
                actual = self.store[target].type_name.decode()
            except KeyError:
                actual = kind.decode()
            if actual != kind.decode():
                raise ObjectProblem(
                    f"the tag says {kind.decode()} but {target.decode()} is a {actual}",
                    "badType",
                )


def check_pushed_objects(
    objects_dir: str,
    store: BaseObjectStore,
    limits: ObjectLimits | None = None,
    *,
    scan: bool = False,
    existing: BaseObjectStore | None = None,
) -> list[Finding]:
    """Findings for every object stored in ``objects_dir`` (a quarantine), read
    through ``store`` (which sees the repository too). ``scan``: also run the
    header scan over its packs (what git stored itself). ``existing``: the
    repository's own store — objects it already holds (the bases dulwich appends to
    complete a thin pack) were accepted before and are not checked again."""
    try:
        objects = list(pushed_objects(objects_dir, scan=scan, limits=limits))
        if existing is not None:
            objects = [o for o in objects if o.sha not in existing]
    except PackTooLarge as exc:
        return [Finding.error("(push)", None, exc.message, "limit-object-size")]
    except (PackFormatError, OSError, ValueError, IndexError) as exc:
        return [
            Finding.error("(push)", None, f"the pushed pack is malformed: {exc}", RULE)
        ]
    return ObjectChecker(store, objects, limits).run()


def diagnose_pack(
    pack_path: str, store: BaseObjectStore, limits: ObjectLimits | None = None
) -> list[Finding]:
    """Why a received (thin) pack could not be stored: dulwich parses every object
    while it stores a pack and stops at the first it cannot parse, with a bare
    parser message. Read the pack's objects raw (deltas resolved, bases from
    ``store``) and run the checks on them, so the pusher learns which object and
    what is wrong. Empty when nothing is found (or the pack cannot be read)."""
    from dulwich.pack import PackData, UnpackedObjectIterator

    objects: list[StoredObject] = []
    raws: dict[bytes, bytes] = {}
    try:
        with PackData(pack_path, object_format=DEFAULT_OBJECT_FORMAT) as data:
            walker = UnpackedObjectIterator.for_pack_data(
                data,
                resolve_ext_ref=store.get_raw,  # type: ignore[arg-type]
            )
            for unpacked in walker:
                type_num = unpacked.obj_type_num
                chunks = unpacked.obj_chunks or []
                sha = sha_to_hex(unpacked.sha())
                kind = TYPE_NAMES.get(type_num or 0, "unknown")
                size = sum(len(c) for c in chunks)
                objects.append(StoredObject(sha, kind, size))
                if kind != "blob":
                    raws[sha] = b"".join(chunks)
    except Exception:  # noqa: BLE001 - a diagnosis never fails the push twice
        return []
    return ObjectChecker(store, objects, limits, raws).run()


def quarantine_store(objects_dir: str) -> DiskObjectStore:
    """A store of only the objects in ``objects_dir`` (no alternates)."""
    return DiskObjectStore(objects_dir)
