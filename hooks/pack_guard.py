"""Refuse oversized objects from the sizes in a pack's headers, before inflating them.

A pack stream is ``PACK``, a version, an object count, then per object a header (type
and inflated size, varint) — for deltas followed by the base (an offset or an object
id) — and a zlib stream; a 20-byte checksum ends it. The header states how big the
object will be, so a compressed bomb (a 1 GiB blob of zeros packs into ~1 MB) can be
refused as soon as its header has arrived, without inflating anything. A delta's
header gives the size of the delta data; the size of the object it builds is the
second varint *inside* that data, so only its first bytes are inflated to read it.

``PackScanner.feed`` parses the stream incrementally as the bytes pass by (the
receive path wraps the wire reads with ``guard_reads``, so dulwich never sees the
bytes of an object that is too large); it keeps no object data, inflating in bounded
pieces only to find where each object ends. ``scan_pack_file`` and
``loose_object_header`` apply the same rules to what git already stored (the
``dakora hook pre-receive`` path).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

from dakora.registry.checks import PushLimits
from dakora.registry.core import LimitExceeded

TYPE_NAMES = {1: "commit", 2: "tree", 3: "blob", 4: "tag", 6: "delta", 7: "delta"}
OFS_DELTA = 6
REF_DELTA = 7
_CHUNK = 64 * 1024
_DELTA_HEAD = 24  # two varints of at most 10 bytes each, with room to spare


@dataclass(frozen=True)
class ObjectLimits:
    """Per-object and per-push bounds, checked from headers before inflating."""

    max_object_bytes: int = 10 * 1024 * 1024
    max_unpacked_bytes: int = 512 * 1024 * 1024
    max_objects: int = 1_000_000


def object_limits(limits: PushLimits, *, wire: bool = False) -> ObjectLimits:
    """The per-object bounds of a push: every object obeys the file-size limit.

    ``wire``: the bounds the scanner applies to headers as the pack arrives — twice
    the file limit, so an object a little too large is still inflated (memory stays
    bounded) and refused by the object checks *naming its path*, while a bomb is
    refused from its header alone."""
    return ObjectLimits(
        max_object_bytes=limits.max_file_bytes * (2 if wire else 1),
        max_unpacked_bytes=limits.max_unpacked_bytes,
    )


class PackTooLarge(LimitExceeded, ValueError):
    """An object (or the whole pack) would inflate past a limit.

    A ``ValueError`` too, so the receive path reports it like any unpack failure
    (``unpack <message>`` and a ``remote:`` line), never as an internal error.
    """


class PackFormatError(ValueError):
    """The pack stream is not a valid pack."""


def _varint_size(data: bytes | bytearray) -> tuple[int, int] | None:
    """(value, bytes used) of a delta header varint, or None when incomplete."""
    value = shift = 0
    for i, byte in enumerate(data):
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i + 1
        if i >= 9:
            raise PackFormatError("delta size varint is too long")
    return None


def delta_target_size(head: bytes | bytearray) -> int | None:
    """The size of the object a delta builds (its second header varint), or None
    when ``head`` holds too few bytes to tell."""
    first = _varint_size(head)
    if first is None:
        return None
    second = _varint_size(head[first[1] :])
    return None if second is None else second[0]


class PackScanner:
    """Incremental parser of one pack stream that enforces ``ObjectLimits``.

    ``feed(data)`` with consecutive pieces of the stream; raises ``PackTooLarge``
    (or ``PackFormatError``) as soon as a header shows a problem. Bytes after the
    trailer are ignored.
    """

    def __init__(self, limits: ObjectLimits | None = None, hash_size: int = 20):
        self.limits = limits or ObjectLimits()
        self.hash_size = hash_size
        self.count: int | None = None
        self.index = 0  # objects whose header was read
        self.unpacked = 0  # sum of declared inflated sizes
        self.done = False
        self._buf = bytearray()
        self._state = "pack-header"
        self._zlib: zlib._Decompress | None = None
        self._type = 0
        self._size = 0
        self._inflated = 0
        self._delta_head: bytearray | None = None

    # -- the stream ---------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if self.done or not data:
            return
        self._buf += data
        while not self.done:
            if self._state == "zlib":
                if not self._inflate():
                    return
            elif not self._parse_header():
                return

    def _parse_header(self) -> bool:
        buf = self._buf
        if self._state == "pack-header":
            if len(buf) < 12:
                return False
            if bytes(buf[:4]) != b"PACK":
                raise PackFormatError("not a pack stream (no PACK signature)")
            version = int.from_bytes(buf[4:8], "big")
            if version not in (2, 3):
                raise PackFormatError(f"unsupported pack version {version}")
            self.count = int.from_bytes(buf[8:12], "big")
            if self.count > self.limits.max_objects:
                raise PackTooLarge(
                    f"the pack holds {self.count} objects (limit "
                    f"{self.limits.max_objects})",
                    limit=self.limits.max_objects,
                )
            del buf[:12]
            self._state = "trailer" if self.count == 0 else "object"
            return True
        if self._state == "trailer":
            if len(buf) < self.hash_size:
                return False
            self.done = True
            return True
        # an object header: type + size, then the delta base, if any
        parsed = self._object_header(buf)
        if parsed is None:
            return False
        pos, type_num, size = parsed
        if type_num == OFS_DELTA:
            while True:
                if pos >= len(buf):
                    return False
                byte = buf[pos]
                pos += 1
                if not byte & 0x80:
                    break
        elif type_num == REF_DELTA:
            if len(buf) < pos + self.hash_size:
                return False
            pos += self.hash_size
        del buf[:pos]
        self.index += 1
        self._type, self._size, self._inflated = type_num, size, 0
        self._check_declared(type_num, size, target=False)
        self._delta_head = bytearray() if type_num in (OFS_DELTA, REF_DELTA) else None
        self._zlib = zlib.decompressobj()
        self._state = "zlib"
        return True

    def _object_header(self, buf: bytearray) -> tuple[int, int, int] | None:
        if not buf:
            return None
        byte = buf[0]
        type_num = (byte >> 4) & 7
        size = byte & 0x0F
        shift, pos = 4, 1
        while byte & 0x80:
            if pos >= len(buf):
                return None
            if pos > 10:
                raise PackFormatError("object header size varint is too long")
            byte = buf[pos]
            size |= (byte & 0x7F) << shift
            shift += 7
            pos += 1
        if type_num not in TYPE_NAMES:
            raise PackFormatError(
                f"object {self.index + 1} of the pack has the invalid type {type_num}"
            )
        return pos, type_num, size

    def _check_declared(self, type_num: int, size: int, *, target: bool) -> None:
        limits = self.limits
        cap = limits.max_object_bytes
        if type_num in (OFS_DELTA, REF_DELTA) and not target:
            # delta data: at worst the target's bytes as inserts, one opcode per 127
            if size > cap + cap // 64 + 64:
                raise PackTooLarge(
                    f"object {self.index} of the pack is a delta of {size} bytes "
                    f"(limit {cap}); refused before inflating it",
                    limit=cap,
                )
            return
        if target:
            what = (
                f"object {self.index} of the pack is a delta that builds {size} bytes"
            )
        else:
            kind = TYPE_NAMES[type_num]
            what = f"object {self.index} of the pack is a {kind} of {size} bytes"
        if size > cap:
            raise PackTooLarge(
                f"{what} (limit {cap}); refused before inflating it", limit=cap
            )
        self.unpacked += size
        if self.unpacked > limits.max_unpacked_bytes:
            raise PackTooLarge(
                f"the pack's objects inflate to more than "
                f"{limits.max_unpacked_bytes} bytes (limit); refused before "
                "inflating them",
                limit=limits.max_unpacked_bytes,
            )

    def _inflate(self) -> bool:
        """Inflate the current object's zlib stream (output discarded, except a
        delta's first bytes). True when it ended and parsing moves on."""
        assert self._zlib is not None
        z = self._zlib
        data = bytes(self._buf)
        self._buf.clear()
        while True:
            out = z.decompress(data, _CHUNK)
            self._inflated += len(out)
            if self._inflated > self._size:
                raise PackFormatError(
                    f"object {self.index} of the pack inflates past the size its "
                    "header states"
                )
            if self._delta_head is not None and len(self._delta_head) < _DELTA_HEAD:
                self._delta_head += out[: _DELTA_HEAD - len(self._delta_head)]
                target = delta_target_size(self._delta_head)
                if target is not None:
                    self._check_declared(self._type, target, target=True)
                    self._delta_head = None
                elif z.eof or len(self._delta_head) >= _DELTA_HEAD:
                    raise PackFormatError(
                        f"object {self.index} of the pack is a delta without a header"
                    )
            if z.eof:
                self._buf += z.unused_data
                self._zlib = None
                self._state = (
                    "trailer"
                    if self.count is not None and self.index >= self.count
                    else "object"
                )
                return True
            data = z.unconsumed_tail
            if not data:
                return False


ReadFn = Callable[[int], bytes]


def guard_reads(
    read_all: ReadFn,
    read_some: ReadFn | None,
    scanner: PackScanner,
    copy: Callable[[bytes], object] | None = None,
) -> tuple[ReadFn, ReadFn | None]:
    """Wrap the wire reads so every byte passes ``scanner`` before dulwich sees it
    (and, with ``copy``, is written there too)."""

    def seen(data: bytes) -> bytes:
        scanner.feed(data)
        if copy is not None:
            copy(data)
        return data

    def guarded_all(size: int) -> bytes:
        return seen(read_all(size))

    if read_some is None:
        return guarded_all, None

    def guarded_some(size: int) -> bytes:
        return seen(read_some(size))

    return guarded_all, guarded_some


def scan_pack_file(
    path: str, limits: ObjectLimits | None = None, hash_size: int = 20
) -> PackScanner:
    """Run the scanner over a stored ``.pack`` file (raises like ``feed``)."""
    scanner = PackScanner(limits, hash_size=hash_size)
    with open(path, "rb") as fh:
        while not scanner.done:
            data = fh.read(_CHUNK)
            if not data:
                break
            scanner.feed(data)
    return scanner


def loose_object_header(path: str) -> tuple[str, int]:
    """(type name, size) of a loose object, inflating only its first bytes."""
    z = zlib.decompressobj()
    head = b""
    with open(path, "rb") as fh:
        while b"\0" not in head and len(head) < 64:
            data = z.unconsumed_tail or fh.read(4096)
            if not data:
                break
            head += z.decompress(data, 64 - len(head))
            if z.eof:
                break
    text, sep, _ = head.partition(b"\0")
    kind, _, size = text.partition(b" ")
    if (
        not sep
        or not size.isdigit()
        or kind not in (b"blob", b"tree", b"commit", b"tag")
    ):
        raise PackFormatError(f"{path}: not a loose git object")
    return kind.decode("ascii"), int(size)
