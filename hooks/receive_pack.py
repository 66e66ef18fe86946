"""The receive pipeline inside dulwich's ``ReceivePackHandler`` (docs/design.md §12):
the pack is read into a ``Quarantine``, an unpack failure refuses every ref with the
reason, and the ref updates go through ``ReceivePipeline.process``; each ``remote:``
line goes out on side-band channel 2.
"""

from __future__ import annotations

import logging
import socket
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

from dulwich.errors import ApplyDeltaError, ChecksumMismatch, ObjectFormatException
from dulwich.object_format import DEFAULT_OBJECT_FORMAT
from dulwich.object_store import BaseObjectStore
from dulwich.objects import sha_to_hex
from dulwich.protocol import CAPABILITY_SIDE_BAND_64K, SIDE_BAND_CHANNEL_PROGRESS
from dulwich.server import Backend, ReceivePackHandler

from dakora.hooks.object_checks import ObjectChecker
from dakora.hooks.pack_guard import (
    TYPE_NAMES,
    ObjectLimits,
    PackTooLarge,
    object_limits,
)
from dakora.hooks.push_checks import RefUpdate, format_remote
from dakora.hooks.pushed_objects import StoredObject
from dakora.hooks.quarantine import Quarantine
from dakora.hooks.receive import (
    INTERNAL,
    UNPACK_FAILED,
    PushContext,
    PushResult,
    ReceivePipeline,
    objects_dir,
)
from dakora.registry.checks import PushLimits
from dakora.registry.core import Finding, has_errors
from dakora.registry.git import parse_scope

logger = logging.getLogger("dakora.hooks.receive")


_UNPACK_ERRORS = (
    OSError,
    ChecksumMismatch,
    ApplyDeltaError,
    AssertionError,
    socket.error,
    zlib.error,
    ObjectFormatException,
    ValueError,
)


class DakoraReceivePackHandler(ReceivePackHandler):
    """dulwich's receive-pack with the pipeline in ``_apply_pack`` (docs/design.md §12).

    The pipeline and the push context come from the backend when it has
    ``pipeline`` / ``push_context`` attributes (``api/git_http.py`` gives each
    request its own backend), else from the class attributes below.
    """

    pipeline: ReceivePipeline | None = None
    context: PushContext | None = None

    def __init__(
        self,
        backend: Backend,
        args: Sequence[str],
        proto: Any,
        stateless_rpc: bool = False,
        advertise_refs: bool = False,
    ) -> None:
        super().__init__(
            backend,
            args,
            proto,
            stateless_rpc=stateless_rpc,
            advertise_refs=advertise_refs,
        )
        self.pipeline = (
            getattr(backend, "pipeline", None) or self.pipeline or ReceivePipeline()
        )
        self.context = (
            getattr(backend, "push_context", None) or self.context or PushContext()
        )
        self.result: PushResult | None = None

    # dulwich runs repository hook scripts around _apply_pack; ours is the pipeline.
    def _on_pre_receive(self, client_refs: Any) -> None:
        return None

    def _on_post_receive(self, client_refs: Any) -> None:
        return None

    def progress(self, line: str) -> None:
        """One ``remote:`` line (side-band channel 2), when the client asked for it."""
        if self._client_capabilities is None:
            return
        if self.has_capability(CAPABILITY_SIDE_BAND_64K):
            self.proto.write_sideband(
                SIDE_BAND_CHANNEL_PROGRESS, line.encode("utf-8", "replace") + b"\n"
            )

    def _diagnose(self, quarantine: Quarantine, exc: BaseException) -> list[Finding]:
        """Findings naming the pushed objects dulwich could not parse, if any."""
        if isinstance(exc, PackTooLarge) or not quarantine.spool_path:
            return []
        assert self.pipeline is not None
        found = diagnose_pack(
            quarantine.spool_path,
            self.repo.object_store,
            object_limits(self.pipeline.limits),
        )
        return found if has_errors(found) else []

    def _refuse_objects(
        self, updates: list[RefUpdate], found: list[Finding]
    ) -> Iterator[tuple[bytes, bytes]]:
        """Refuse every ref like failed checks, each finding a ``remote:`` line."""
        assert self.pipeline is not None and self.context is not None
        yield (b"unpack", b"ok")
        result = PushResult(updates=updates, context=self.context)
        result.findings = found
        for finding in found:
            line = format_remote(finding)
            result.messages.append(line)
            self.progress(line)
        result.reject_checked(found)
        self.result = result
        self.pipeline.rejected(self.repo, result)  # type: ignore[arg-type]
        for ref, status in result.statuses:
            yield (ref.encode("utf-8"), status.encode("utf-8"))

    def _apply_pack(self, refs: list[Any]) -> Iterator[tuple[bytes, bytes]]:
        assert self.pipeline is not None and self.context is not None
        repo = self.repo
        updates = [RefUpdate.parse(old, new, ref) for old, new, ref in refs]
        quarantine: Quarantine | None = None
        try:
            if any(not u.is_delete for u in updates):
                quarantine = Quarantine(objects_dir(repo))  # type: ignore[arg-type]
                try:
                    quarantine.receive_pack(
                        self.proto.read,
                        getattr(self.proto, "recv", None),
                        max_input_size=self.pipeline.limits.max_pack_bytes,
                        limits=object_limits(self.pipeline.limits, wire=True),
                    )
                except _UNPACK_ERRORS as exc:
                    found = self._diagnose(quarantine, exc)
                    if found:  # objects dulwich cannot parse: name them
                        yield from self._refuse_objects(updates, found)
                        return
                    message = _unpack_message(exc, self.pipeline.limits)
                    self.progress(f"error: {message}")
                    yield (b"unpack", message.encode("utf-8", "replace"))
                    result = PushResult(updates=updates, context=self.context)
                    result.messages.append(f"error: {message}")
                    result.reject_all(UNPACK_FAILED)
                    self.result = result
                    self.pipeline.rejected(repo, result)  # type: ignore[arg-type]
                    for update in updates:
                        yield (update.ref.encode("utf-8"), UNPACK_FAILED.encode())
                    return
            yield (b"unpack", b"ok")
            try:
                # each prompt file parsed once for the whole push: checks, index
                # rows and events read the same blobs (docs/performance.md)
                with parse_scope():
                    result = self.pipeline.process(
                        repo,  # type: ignore[arg-type]
                        updates,
                        quarantine=quarantine,
                        context=self.context,
                        progress=self.progress,
                    )
            except Exception:  # never a 500 / "hung up": every ref gets an ng
                logger.exception("processing a push failed")
                self.progress(f"error: {INTERNAL}")
                result = PushResult(updates=updates, context=self.context)
                result.reject_all(INTERNAL)
            self.result = result
            for ref, status in result.statuses:
                yield (ref.encode("utf-8"), status.encode("utf-8", "replace"))
        finally:
            if quarantine is not None:
                quarantine.drop()


def _unpack_message(exc: BaseException, limits: PushLimits) -> str:
    if isinstance(exc, PackTooLarge):
        return exc.message
    if type(exc).__name__ == "PackInputTooLarge":
        return f"pack exceeds the size limit of {limits.max_pack_bytes} bytes"
    text = str(exc).replace("\n", " ").strip() or type(exc).__name__
    return f"unpack failed: {text}"[:200]


def make_receive_handler(
    pipeline: ReceivePipeline, context: PushContext | None = None
) -> type[DakoraReceivePackHandler]:
    """A handler class bound to one pipeline (for ``make_wsgi_chain(handlers=…)``)."""
    return type(
        "BoundDakoraReceivePackHandler",
        (DakoraReceivePackHandler,),
        {"pipeline": pipeline, "context": context},
    )


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
                resolve_ext_ref=store.get_raw,
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
