"""The renderer (docs/design.md §4): ``Renderer`` renders a prompt with coerced inputs in the
sandbox (``sandbox.py``) and owns the compile cache: compiled templates by (blob sha
or source, parts key), one environment per parts key. Output is streamed and stopped
at ``MAX_OUTPUT_BYTES``; chat prompts render to a list of ``{role, content}``.
SSTI payloads fail with ``RenderError``.

The limits live in ``limits.py``, the filters in ``filters.py``,
includes in ``includes.py`` and static analysis in ``analysis.py``; their public
names are re-exported here.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from jinja2 import TemplateSyntaxError
from jinja2.environment import Template

from dakora.registry.core import Prompt, RenderError
from dakora.registry.git import PartsSource
from dakora.registry.render.analysis import (
    analyze_ast,
)
from dakora.registry.render.includes import PartsLoader
from dakora.registry.render.limits import (
    BUDGET,
    DEFAULT_TIMEOUT_MS,
    MAX_OUTPUT_BYTES,
    RenderBudget,
    output_limit_error,
)
from dakora.registry.render.sandbox import SandboxEnv, translate_error
from dakora.registry.render.template_ast import parse_template


@dataclass(frozen=True)
class RenderResult:
    kind: Literal["text", "chat"]
    rendered: str | None  # text prompts
    messages: list[dict[str, str]] | None  # chat prompts: [{role, content}]
    inputs_used: dict[str, Any]  # the coerced inputs the template saw


class Renders(Protocol):
    """What renders a prompt: ``Renderer`` in process, or the server's pool of
    worker processes (``dakora.api.render_pool.RenderPool``)."""

    def render(
        self,
        prompt: Prompt,
        inputs: dict[str, Any],
        parts: PartsSource,
        *,
        cache_key: str | None = None,
    ) -> RenderResult: ...


@dataclass(frozen=True)
class _Compiled:
    templates: tuple[Template, ...]
    labels: tuple[str, ...]
    roles: tuple[str, ...] | None
    loader: PartsLoader


class Renderer:
    """Renders prompts; one instance is shared (thread-safe) and owns the compile cache.

    Compiled templates are cached (LRU, ``max_templates`` prompts) by ``(cache_key or
    the template source, parts.key)``; pass the blob sha as ``cache_key`` on hot paths.
    Every render runs under its own time and work budget (``limits.RenderBudget``):
    ``timeout_ms`` (``DAKORA_RENDER_TIMEOUT_MS``) is checked cooperatively inside the
    sandbox. (On the server, renders also run in worker processes that are killed when
    they overrun it: ``dakora.api.render_pool``.)
    """

    def __init__(
        self,
        max_templates: int = 1024,
        max_environments: int = 64,
        *,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
    ) -> None:
        self.timeout_ms = timeout_ms
        self._lock = threading.Lock()
        self._templates: OrderedDict[tuple[Any, str], _Compiled] = OrderedDict()
        self._envs: OrderedDict[str, SandboxEnv] = OrderedDict()
        self._max_templates = max_templates
        self._max_envs = max_environments
        self.hits = 0
        self.misses = 0

    def clear(self) -> None:
        with self._lock:
            self._templates.clear()
            self._envs.clear()

    def render(
        self,
        prompt: Prompt,
        inputs: dict[str, Any],
        parts: PartsSource,
        *,
        cache_key: str | None = None,
    ) -> RenderResult:
        """Render with already-coerced inputs. Raises RenderError."""
        parts_key = parts.key
        if cache_key is not None:
            src_key: Any = cache_key
        elif prompt.messages is None:
            src_key = prompt.template or ""
        else:
            src_key = tuple((m.role, m.content) for m in prompt.messages)
        key = (src_key, parts_key)
        # Lock-free warm path: OrderedDict.get / move_to_end are atomic under the
        # GIL; an entry evicted in between only costs a KeyError here.
        compiled = self._templates.get(key)
        if compiled is not None:
            try:  # noqa: SIM105 - hot path: suppress() costs more
                self._templates.move_to_end(key)
            except KeyError:
                pass
            self.hits += 1
        else:
            compiled = self._compile(prompt, parts)
            with self._lock:
                self.misses += 1
                self._templates[key] = compiled
                while len(self._templates) > self._max_templates:
                    self._templates.popitem(last=False)
        # Parts not compiled yet load through the environment's loader: let it read
        # from the caller's source (same key, same content) rather than the first
        # one seen, which may hold a repository handle that is closed by now.
        if compiled.loader.parts is not parts:
            compiled.loader.parts = parts
        token = BUDGET.set(RenderBudget(self.timeout_ms))
        try:
            if compiled.roles is None:
                text = _run(compiled.templates[0], inputs, MAX_OUTPUT_BYTES, "template")
                return RenderResult("text", text, None, inputs)
            messages: list[dict[str, str]] = []
            room = MAX_OUTPUT_BYTES
            for template, label, role in zip(
                compiled.templates, compiled.labels, compiled.roles, strict=True
            ):
                text = _run(template, inputs, room, label)
                room -= len(text)
                messages.append({"role": role, "content": text})
            if room < MAX_OUTPUT_BYTES * 3 // 4:
                total = sum(len(m["content"].encode("utf-8")) for m in messages)
                if total > MAX_OUTPUT_BYTES:
                    raise output_limit_error()
            return RenderResult("chat", None, messages, inputs)
        finally:
            BUDGET.reset(token)

    def _env_for(self, parts: PartsSource) -> SandboxEnv:
        key = parts.key
        with self._lock:
            env = self._envs.get(key)
            if env is not None:
                self._envs.move_to_end(key)
                return env
        env = SandboxEnv(loader=PartsLoader(parts))
        with self._lock:
            env = self._envs.setdefault(key, env)
            while len(self._envs) > self._max_envs:
                self._envs.popitem(last=False)
        return env

    def _compile(self, prompt: Prompt, parts: PartsSource) -> _Compiled:
        sources = prompt.sources()
        env = self._env_for(parts)
        templates: list[Template] = []
        for label, source in sources:
            ast = parse_template(source, label)
            info = analyze_ast(ast, parts)
            if info.errors:
                message, line = info.errors[0]
                raise RenderError(
                    f"{message} ({label}, line {line})", line=line, source=label
                )
            if info.missing_includes:
                name, line = info.missing_includes[0]
                raise RenderError(
                    f"include target '{name}' not found in parts/ ({label}, line "
                    f"{line})",
                    line=line,
                    source=label,
                )
            try:
                code = env.compile(ast, filename=f"<{label}>")
            except TemplateSyntaxError as exc:
                raise translate_error(exc, label) from None
            templates.append(
                env.template_class.from_code(env, code, env.make_globals(None), None)
            )
        roles = (
            tuple(m.role for m in prompt.messages)
            if prompt.messages is not None
            else None
        )
        loader = env.loader
        assert isinstance(loader, PartsLoader)
        return _Compiled(
            tuple(templates), tuple(lbl for lbl, _ in sources), roles, loader
        )


def _run(template: Template, inputs: dict[str, Any], room: int, label: str) -> str:
    """Stream the template, stopping as soon as the output passes ``room``."""
    out: list[str] = []
    append = out.append
    size = 0
    try:
        for chunk in template.root_render_func(template.new_context(inputs)):
            size += len(chunk)
            if size > room:
                raise output_limit_error()
            append(chunk)
    except Exception:
        try:
            template.environment.handle_exception()
        except BaseException as exc:  # handle_exception always raises
            raise translate_error(exc, label) from None
    text = "".join(out)
    if size * 4 > room and len(text.encode("utf-8", "surrogatepass")) > room:
        raise output_limit_error()
    return text
