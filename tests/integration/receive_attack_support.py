"""Helpers for the attack tests of the receive path: a project of a live ``dakora
serve`` (made in-process on its database), and objects crafted with the real git CLI
(``git hash-object --literally``, raw tree bytes) that ``git commit`` would never make.
"""

from __future__ import annotations

import binascii
import contextlib
import hashlib
import os
import subprocess
import zlib
from pathlib import Path
from typing import Any

from tests.fixtures.gitrepos import GitRepoBuilder, make_prompt_yaml
from tests.integration.git_server_support import run_git

# the client never checks what it sends
PUSH_OPTS = ("-c", "transfer.fsckObjects=false", "-c", "push.followTags=false")


class LiveProject:
    """A project of a live server with a write and a read key, and a work clone
    holding one valid prompt on ``main`` (pushed)."""

    def __init__(self, server: Any, slug: str, tmp: Path) -> None:
        from dakora.registry import tenancy
        from dakora.registry.core.errors import AlreadyExists
        from dakora.registry.tenancy import keys

        engine, settings = server.engine(), server.settings()
        with contextlib.suppress(AlreadyExists):
            tenancy.create_workspace(engine, "acme")
        project = tenancy.create_project(engine, settings, "acme", slug)
        self.server = server
        self.slug = slug
        self.id = str(project.id)
        self.path = Path(project.repo_path)
        self.write_key = keys.create_key(
            engine, settings.pepper(), project.id, scope="write"
        ).plaintext
        self.read_key = keys.create_key(
            engine, settings.pepper(), project.id, scope="read"
        ).plaintext
        out = run_git(tmp, "clone", "-q", self.url(), str(tmp / slug))
        assert out.returncode == 0, out.stderr
        self.work = GitRepoBuilder(tmp / slug)
        self.work.write("prompts/greeting.yaml", make_prompt_yaml(id="greeting"))
        self.main = self.work.commit("add greeting")
        out = self.push(self.main)
        assert out.returncode == 0, out.stderr

    def url(self, key: str | None = None) -> str:
        key = key or self.write_key
        host = f"{self.server.host}:{self.server.port}"
        return f"http://git:{key}@{host}/git/acme/{self.slug}.git"

    def push(
        self, sha: str, ref: str = "refs/heads/main", *, force: bool = False
    ) -> subprocess.CompletedProcess[str]:
        spec = f"{'+' if force else ''}{sha}:{ref}"
        return run_git(self.work.path, *PUSH_OPTS, "push", self.url(), spec)


def write_object(repo: Path, kind: str, data: bytes) -> str:
    """Store any bytes as an object of ``kind`` (no checks), return its id."""
    proc = subprocess.run(
        ["git", "hash-object", "-t", kind, "-w", "--literally", "--stdin"],
        cwd=repo,
        input=data,
        capture_output=True,
        check=True,
    )
    return proc.stdout.decode().strip()


def blob(repo: Path, data: bytes) -> str:
    return write_object(repo, "blob", data)


def raw_tree(entries: list[tuple[bytes, bytes, str]]) -> bytes:
    """Tree bytes from (mode text, name, hex id), in the order given."""
    return b"".join(m + b" " + n + b"\0" + bytes.fromhex(s) for m, n, s in entries)


def tree(repo: Path, entries: list[tuple[bytes, bytes, str]]) -> str:
    return write_object(repo, "tree", raw_tree(entries))


def commit(repo: Path, tree_sha: str, parent: str | None, message: str = "x") -> str:
    args = ["commit-tree", tree_sha, "-m", message]
    if parent:
        args += ["-p", parent]
    out = run_git(repo, *args)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def tree_of(repo: Path, rev: str, path: str = "") -> str:
    out = run_git(repo, "rev-parse", f"{rev}^{{tree}}" if not path else f"{rev}:{path}")
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def raw_commit(
    tree_sha: str,
    parent: str | None,
    *,
    author: bytes | None = None,
    committer: bytes | None = None,
    message: bytes = b"msg\n",
    extra: bytes = b"",
) -> bytes:
    ident = b"A U Thor <a@example.com> 1700000000 +0000"
    head = b"tree " + tree_sha.encode() + b"\n"
    if parent:
        head += b"parent " + parent.encode() + b"\n"
    head += b"author " + (author if author is not None else ident) + b"\n"
    head += b"committer " + (committer if committer is not None else ident) + b"\n"
    return head + extra + b"\n" + message


# -- a compressed bomb, cheaply ---------------------------------------------------------

ZERO_GIB_BLOB = (
    "4fce05a4e4ed8cefef2d99f32c519b2fd7841b74"  # 2**30 zero bytes, as a blob
)


def zero_blob_pack(repo: Path, size: int = 1 << 30) -> str:
    """Store a blob of ``size`` zero bytes in ``repo`` as a pack (+ index) without
    deflating ``size`` bytes: deflate blocks of zeros repeat after a full flush, so
    the stream is one block repeated; git sends it as is (pack reuse). Returns the
    blob's id."""
    from dulwich.pack import write_pack_index

    mib = 1 << 20
    assert size % mib == 0
    chunk = bytes(mib)
    z = zlib.compressobj(9)
    first = z.compress(chunk) + z.flush(zlib.Z_FULL_FLUSH)
    block = z.compress(chunk) + z.flush(zlib.Z_FULL_FLUSH)
    adler = ((size % 65521) << 16) | 1  # adler32 of ``size`` zero bytes
    stream = first + block * (size // mib - 1) + b"\x03\x00" + adler.to_bytes(4, "big")
    if size == 1 << 30:
        sha = bytes.fromhex(ZERO_GIB_BLOB)
    else:
        h = hashlib.sha1(b"blob %d\0" % size)
        for _ in range(size // mib):
            h.update(chunk)
        sha = h.digest()
    header = bytearray()
    rest = size >> 4
    byte = (3 << 4) | (size & 0x0F)
    while rest:
        header.append(byte | 0x80)
        byte, rest = rest & 0x7F, rest >> 7
    header.append(byte)
    entry = bytes(header) + stream
    body = b"PACK" + (2).to_bytes(4, "big") + (1).to_bytes(4, "big") + entry
    checksum = hashlib.sha1(body).digest()
    pack_dir = repo / ".git" / "objects" / "pack"
    base = pack_dir / f"pack-{checksum.hex()}"
    base.with_suffix(".pack").write_bytes(body + checksum)
    with open(base.with_suffix(".idx"), "wb") as fh:
        write_pack_index(fh, [(sha, 12, binascii.crc32(entry))], checksum)
    return sha.hex()


def peak_rss_kib(pid: int) -> int:
    """VmHWM (peak resident set) of a process, in KiB."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


def reset_peak_rss(pid: int) -> None:
    """Reset VmHWM to the current RSS (Linux ≥ 4.0: write 5 to clear_refs)."""
    with open(f"/proc/{pid}/clear_refs", "w") as fh:
        fh.write("5")


def environ_without_git() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
