"""A local repository's reflog of one ref: what ``dakora history --ref-log`` reads
without a server, and what a local ``dakora promote`` appends (git's own format, so
``git reflog show production`` shows the same lines). See docs/promotion.md."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from dulwich.reflog import format_reflog_line, read_reflog
from dulwich.repo import Repo

from dakora.registry.core import ZERO_SHA

PROMOTE_PREFIX = "dakora promote: "


@dataclass(frozen=True)
class RefLogEntry:
    time: datetime  # UTC
    who: str  # "Name <email>"
    old: str | None  # None: the ref was created
    new: str | None  # None: the ref was deleted
    message: str

    @property
    def source(self) -> str:
        """``promote`` for a local promotion, else ``git``."""
        return "promote" if self.message.startswith(PROMOTE_PREFIX) else "git"


def _reflog_path(repo: Repo, ref: str) -> str:
    return os.path.join(repo.commondir(), "logs", *ref.split("/"))


def _sha(value: bytes) -> str | None:
    text = value.decode("ascii")
    return None if text == ZERO_SHA else text


def read_ref_log(repo: Repo, ref: str) -> list[RefLogEntry]:
    """The reflog of ``ref`` (a full name), newest first; empty when git kept none."""
    try:
        with open(_reflog_path(repo, ref), "rb") as fh:
            entries = list(read_reflog(fh))
    except FileNotFoundError:
        return []
    out = [
        RefLogEntry(
            time=datetime.fromtimestamp(e.timestamp, UTC),
            who=e.committer.decode("utf-8", "replace"),
            old=_sha(e.old_sha),
            new=_sha(e.new_sha),
            message=e.message.decode("utf-8", "replace"),
        )
        for e in entries
    ]
    out.reverse()
    return out


def append_ref_log(
    repo: Repo, ref: str, old: str, new: str, who: bytes, message: str
) -> None:
    """Add one line to the reflog of ``ref`` (``who``: ``Name <email>``)."""
    path = _reflog_path(repo, ref)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    line = format_reflog_line(
        old.encode("ascii"),
        new.encode("ascii"),
        who,
        int(time.time()),
        0,
        message.splitlines()[0].encode("utf-8") if message else b"",
    )
    with open(path, "ab") as fh:
        fh.write(line + b"\n")
