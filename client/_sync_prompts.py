"""``Dakora.prompts``: list, get and render (cached), and the writes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dakora.client import _telemetry
from dakora.client import _writes as writes
from dakora.client._core import (
    is_unreachable,
    make_selector,
)
from dakora.client._errors import DakoraClientError, NotFound
from dakora.client._models import (
    Prompt,
    PromptList,
    RenderResult,
    WriteResult,
)

if TYPE_CHECKING:
    from dakora.client._sync import Dakora


class Prompts:
    def __init__(self, client: Dakora) -> None:
        self._c = client

    def list(self, ref: str | None = None, *, commit: str | None = None) -> PromptList:
        """Every prompt (id, version, description) on ``ref`` (default branch)."""
        try:
            call = self._c._ready().list_call(ref, commit)
            entry, source = self._c._cached(call)
        except DakoraClientError as exc:
            if not is_unreachable(exc):
                raise
            return self._c._core.fallback_list(exc)
        return PromptList.from_json(entry.data, source)  # type: ignore[arg-type]

    def get(
        self,
        prompt_id: str,
        *,
        ref: str | None = None,
        version: str | None = None,
        commit: str | None = None,
    ) -> Prompt:
        """The prompt on the default branch, or by ``ref``, ``version`` or ``commit``."""
        selector = make_selector(ref, version, commit)
        try:
            call = self._c._ready().get_call(prompt_id, selector)
            entry, source = self._c._cached(call)
        except DakoraClientError as exc:
            if not is_unreachable(exc):
                raise
            data = self._c._core.fallback_prompt(prompt_id, selector, exc)
            return _traced(Prompt.from_json(data, "fallback"))
        return _traced(self._c._core.prompt_from(entry, source))

    def render(
        self,
        prompt_id: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        ref: str | None = None,
        version: str | None = None,
        commit: str | None = None,
    ) -> RenderResult:
        """Render on the server; offline, from the cached prompt or the fallback."""
        selector = make_selector(ref, version, commit)
        core = self._c._core
        try:
            self._c._ready()
            response = self._c._send(
                "POST",
                core.render_path(prompt_id),
                json=core.render_body(inputs, selector),
            )
            result = RenderResult.from_json(core.json_body(response), "network")
        except DakoraClientError as exc:
            if not is_unreachable(exc):
                raise
            result = core.render_offline(prompt_id, inputs, selector, exc)
        _telemetry.annotate(
            result.prompt_id, result.version, result.commit, result.source
        )
        return result

    def create(
        self,
        prompt_id: str,
        version: str,
        *,
        template: str | None = None,
        messages: Sequence[Mapping[str, str]] | None = None,
        inputs: Mapping[str, Mapping[str, Any]] | None = None,
        description: str | None = None,
        model: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        examples: Sequence[Mapping[str, Any]] | None = None,
        branch: str | None = None,
        message: str | None = None,
    ) -> WriteResult:
        """Add a prompt: one commit on ``branch`` (default branch), checked like a
        push. Give exactly one of ``template`` / ``messages``."""
        core = self._c._ready()
        body = writes.create_body(
            prompt_id,
            {
                "version": version,
                "description": description,
                "template": template,
                "messages": messages,
                "inputs": inputs,
                "model": model,
                "metadata": metadata,
                "examples": examples,
            },
            {"branch": branch, "message": message},
        )
        try:
            response = self._c._send("POST", core.prompts_path(), json=body)
        finally:
            core.forget_prompt(prompt_id)
        return core.write_result(response)

    def update(
        self,
        prompt_id: str,
        *,
        version: str | None = None,
        template: str | None = None,
        messages: Sequence[Mapping[str, str]] | None = None,
        inputs: Mapping[str, Mapping[str, Any]] | None = None,
        description: str | None = None,
        model: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        examples: Sequence[Mapping[str, Any]] | None = None,
        branch: str | None = None,
        message: str | None = None,
        if_match: str | None = None,
    ) -> WriteResult:
        """Change a prompt: the fields given replace the current ones on ``branch``
        (fetched afresh), the rest are kept. Bump ``version``. The write is
        conditional on the content it was merged onto (412 ``PreconditionFailed``
        when someone changed it meanwhile), or on ``if_match`` (a version, blob sha
        or commit) when given."""
        core = self._c._ready()
        current, etag = self._current(prompt_id, branch)
        body = writes.update_body(
            prompt_id,
            current,
            {
                "version": version,
                "description": description,
                "template": template,
                "messages": messages,
                "inputs": inputs,
                "model": model,
                "metadata": metadata,
                "examples": examples,
            },
            {"branch": branch, "message": message},
        )
        try:
            response = self._c._send(
                "PUT",
                core.prompt_path(prompt_id),
                json=body,
                headers=writes.if_match_headers(if_match or etag),
            )
        finally:
            core.forget_prompt(prompt_id)
        return core.write_result(response)

    def delete(
        self,
        prompt_id: str,
        *,
        branch: str | None = None,
        message: str | None = None,
        if_match: str | None = None,
    ) -> WriteResult:
        """Remove a prompt's file: one commit on ``branch`` (its versions stay in the
        history and can still be fetched by ``version=``)."""
        core = self._c._ready()
        try:
            response = self._c._send(
                "DELETE",
                core.prompt_path(prompt_id),
                params=writes.delete_params(branch, message),
                headers=writes.if_match_headers(if_match),
            )
        finally:
            core.forget_prompt(prompt_id)
        return core.write_result(response)

    def _current(
        self, prompt_id: str, branch: str | None
    ) -> tuple[dict[str, Any], str | None]:
        """The prompt on ``branch`` (uncached) and its ETag; a branch that does not
        exist yet starts from the default branch, as the write will."""
        core = self._c._ready()
        path = core.prompt_path(prompt_id)
        try:
            response = self._c._send(
                "GET", path, params=writes.read_params(branch, None)
            )
            return core.json_body(response), response.headers.get("ETag")
        except NotFound as exc:
            if branch is None or exc.code != "ref_not_found":
                raise
        response = self._c._send("GET", path)
        return core.json_body(response), response.headers.get("ETag")


def _traced(prompt: Prompt) -> Prompt:
    """The prompt, its name, version and commit set on the current span."""
    _telemetry.annotate(prompt.id, prompt.version, prompt.commit, prompt.source)
    return prompt
