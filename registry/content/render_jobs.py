"""What a render of one prompt needs (:class:`RenderTarget`, kept per commit by the
:class:`~dakora.registry.content.store.ContentStore`), a render ready to run
(:class:`RenderJob`: the target and the coerced inputs, and the response body of its
result) and what a render that raised answers (:func:`render_failure`). The server runs
jobs in its worker processes (``api/render_pool.py``), the store in-process."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from dakora.registry.core import DakoraError, Prompt, RenderError
from dakora.registry.git import PartsSource
from dakora.registry.render import RenderResult

log = logging.getLogger("dakora.api")


def encode(data: Any) -> bytes:
    """Compact UTF-8 JSON (what every cached body is)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class RenderTarget:
    """What a render of one prompt at one commit needs besides the inputs (kept per
    (project, commit, prompt id, ref) once built: commits are immutable)."""

    prompt: Prompt
    parts: PartsSource
    cache_key: str  # the compiled template's key in the renderer / render workers
    commit: str
    ref: str | None

    @cached_property
    def head(self) -> bytes:
        """The start of every render response of this target: its JSON object up to
        the result's fields (``{"prompt_id":…,"ref":…,``), built once."""
        return encode(self.fields())[:-1] + b","

    def fields(self) -> dict[str, Any]:
        return {
            "prompt_id": self.prompt.id,
            "version": self.prompt.version,
            "commit": self.commit,
            "ref": self.ref,
        }


def result_fields(result: RenderResult) -> dict[str, Any]:
    """The result's part of a render response, in its order."""
    data: dict[str, Any] = {"kind": result.kind}
    if result.kind == "chat":
        data["messages"] = result.messages
    else:
        data["rendered"] = result.rendered
    data["inputs_used"] = result.inputs_used
    return data


def encode_result(result: RenderResult) -> bytes:
    """:func:`result_fields` as JSON without its opening brace: what follows
    :attr:`RenderTarget.head` in the response body (a RenderError when the result is
    not JSON). The server's render workers encode it (``api/render_worker.py``)."""
    return encode_render(result_fields(result))[1:]


@dataclass(frozen=True)
class RenderJob:
    """A render ready to run: its target and the coerced inputs. Run it with any
    :class:`~dakora.registry.render.Renders` (``renderer.render(job.prompt, job.inputs,
    job.parts, cache_key=job.cache_key)``), then encode with :meth:`body`."""

    target: RenderTarget
    inputs: dict[str, Any]

    @property
    def prompt(self) -> Prompt:
        return self.target.prompt

    @property
    def parts(self) -> PartsSource:
        return self.target.parts

    @property
    def cache_key(self) -> str:
        return self.target.cache_key

    def data(self, result: RenderResult) -> dict[str, Any]:
        """The response of ``POST …/render`` as data."""
        return {**self.target.fields(), **result_fields(result)}

    def body(self, result: RenderResult) -> bytes:
        """The response body of ``POST …/render``."""
        return encode_render(self.data(result))

    def body_of(self, encoded: bytes) -> bytes:
        """The response body from :func:`encode_result`'s bytes (the same bytes as
        :meth:`body`: one compact JSON object split after the target's fields)."""
        return self.target.head + encoded


def encode_render(data: Mapping[str, Any]) -> bytes:
    """A render's response body (a RenderError when the result is not JSON)."""
    try:
        return encode(data)
    except (TypeError, ValueError) as exc:
        raise RenderError(f"the rendered result is not JSON: {exc}") from exc


def render_failure(prompt_id: str, exc: Exception) -> DakoraError:
    """What a render that raised answers: a DakoraError as it is, anything else as a
    RenderError (400): a template must never turn into a 500."""
    if isinstance(exc, DakoraError):
        return exc
    log.warning("render of %s failed unexpectedly", prompt_id, exc_info=exc)
    return RenderError(f"template failed: {type(exc).__name__}: {exc}")
