"""What a push brought: the objects stored in a quarantine itself (its packs and
loose objects, never its alternates), each with its type and inflated size read from
the headers — a delta's type from its base, its size from its own delta header — so
nothing is inflated to learn how big an object is."""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from dulwich.object_format import DEFAULT_OBJECT_FORMAT
from dulwich.objects import sha_to_hex
from dulwich.pack import load_pack_index

from dakora.hooks.pack_guard import (
    OFS_DELTA,
    REF_DELTA,
    TYPE_NAMES,
    ObjectLimits,
    PackFormatError,
    delta_target_size,
    loose_object_header,
    scan_pack_file,
)
from dakora.registry.git import as_raw_oid


@dataclass(frozen=True)
class StoredObject:
    """One object of the pushed set: hex id, type name, inflated size."""

    sha: bytes
    kind: str
    size: int


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
                    base_offset = offsets.get(as_raw_oid(base_ref))
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
