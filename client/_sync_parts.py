"""``Dakora.parts`` (the snippets prompts include) and ``Dakora.logs``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dakora.client import _writes as writes
from dakora.client._models import (
    Part,
    PartList,
    WriteResult,
)

if TYPE_CHECKING:
    from dakora.client._sync import Dakora


class Parts:
    """The snippets prompts include (``parts/<category>/<name>.<ext>``)."""

    def __init__(self, client: Dakora) -> None:
        self._c = client

    def list(self, ref: str | None = None, *, commit: str | None = None) -> PartList:
        """Every part at ``ref`` (default branch) or ``commit``."""
        core = self._c._ready()
        response = self._c._send(
            "GET", core.parts_path(), params=writes.read_params(ref, commit)
        )
        return core.part_list_from(response)

    def get(
        self,
        category: str,
        name: str,
        *,
        ref: str | None = None,
        commit: str | None = None,
    ) -> Part:
        """One part's source (``name`` with or without its extension)."""
        core = self._c._ready()
        response = self._c._send(
            "GET",
            core.part_path(category, name),
            params=writes.read_params(ref, commit),
        )
        return core.part_from(response)

    def create(
        self,
        category: str,
        name: str,
        content: str,
        *,
        ext: str | None = None,
        branch: str | None = None,
        message: str | None = None,
    ) -> WriteResult:
        """Add ``parts/<category>/<name>.<ext>`` (ext ``md`` by default, or ``txt``,
        ``j2``): one commit on ``branch``, checked like a push."""
        core = self._c._ready()
        body = writes.part_body(
            content, ext, branch, message, category=category, name=name
        )
        response = self._c._send("POST", core.parts_path(), json=body)
        return core.write_result(response)

    def update(
        self,
        category: str,
        name: str,
        content: str,
        *,
        ext: str | None = None,
        branch: str | None = None,
        message: str | None = None,
        if_match: str | None = None,
    ) -> WriteResult:
        """Replace a part's content (a new ``ext`` renames its file); conditional
        on ``if_match`` (its blob sha, ``Part.etag``, or a commit) when given."""
        core = self._c._ready()
        response = self._c._send(
            "PUT",
            core.part_path(category, name),
            json=writes.part_body(content, ext, branch, message),
            headers=writes.if_match_headers(if_match),
        )
        return core.write_result(response)

    def delete(
        self,
        category: str,
        name: str,
        *,
        branch: str | None = None,
        message: str | None = None,
        if_match: str | None = None,
    ) -> WriteResult:
        """Remove a part (refused with ``InvalidPrompt`` while a prompt includes
        it)."""
        core = self._c._ready()
        response = self._c._send(
            "DELETE",
            core.part_path(category, name),
            params=writes.delete_params(branch, message),
            headers=writes.if_match_headers(if_match),
        )
        return core.write_result(response)


class Logs:
    def __init__(self, client: Dakora) -> None:
        self._c = client

    def create(
        self,
        *,
        prompt_id: str | None = None,
        version: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        output: str | None = None,
        provider: str | None = None,
        model: str | None = None,
        tokens_in: int = 0,
        tokens_out: int = 0,
        cost: float | None = None,
        latency_ms: int | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Record one execution of a prompt; returns the server's log record."""
        body = writes.log_body(
            prompt_id=prompt_id,
            version=version,
            inputs=inputs,
            output=output,
            provider=provider,
            model=model,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost=cost,
            latency_ms=latency_ms,
            **extra,
        )
        core = self._c._ready()
        response = self._c._send("POST", core.logs_path(), json=body)
        return core.json_body(response)

    def list(self, **filters: Any) -> dict[str, Any]:
        """The project's logs (filters and paging as the server accepts them)."""
        core = self._c._ready()
        params = core.query(filters)
        response = self._c._send("GET", core.logs_path(), params=params)
        return core.json_body(response)
