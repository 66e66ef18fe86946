"""Prompts to use when the server cannot be reached, and a local renderer for them.

``fallback=`` accepts:

- a mapping ``{prompt_id: prompt}`` where a prompt is the JSON the server returns
  (``id, version, template | messages, inputs, …``), or ``{"prompts": {...} | [...],
  "parts": {"category/name": "source", …}}``;
- a path: a prompt repository folder (``prompts/**/*.yaml|yml`` and ``parts/``, read
  with PyYAML), or a ``.json`` / ``.yaml`` file holding one of the mappings above;
- a callable ``fn(prompt_id) -> prompt | None``.

Rendering a fallback prompt is local: the inputs go through the server's own
coercion (``dakora.registry.core.coerce_inputs``, docs/inputs.md: the same types,
defaults, enums and problem messages), then Jinja2's sandbox with ``StrictUndefined``
as on the server. Jinja2 and the coercion (Pydantic) are imported only when a
fallback render happens.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

Fallback = Mapping[str, Any] | str | os.PathLike[str] | Callable[[str], Any]
PART_SUFFIXES = (".md", ".txt", ".j2", ".jinja", ".jinja2")


class FallbackUnavailable(Exception):
    """The fallback cannot serve this request (message says why)."""


class FallbackInputError(FallbackUnavailable):
    """The inputs were refused by the server's coercion; ``error`` is the body the
    server would have answered with (``{"code": "invalid_inputs", "message", "problems"}``)."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(str(error.get("message", "invalid inputs")))
        self.error = error


class FallbackSource:
    def __init__(self, fallback: Fallback) -> None:
        self._spec = fallback
        self._prompts: dict[str, dict[str, Any]] | None = None
        self._parts: dict[str, str] = {}
        self._func: Callable[[str], Any] | None = None
        if callable(fallback) and not isinstance(fallback, Mapping):
            self._func = fallback

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._prompts is None:
            spec = self._spec
            if isinstance(spec, Mapping):
                self._prompts, self._parts = _from_mapping(spec)
            elif isinstance(spec, str | os.PathLike):
                self._prompts, self._parts = _from_path(Path(spec))
            else:
                self._prompts = {}
        return self._prompts

    def prompt(self, prompt_id: str) -> dict[str, Any] | None:
        if self._func is not None:
            value = self._func(prompt_id)
            return dict(value) if isinstance(value, Mapping) else None
        found = self._load().get(prompt_id)
        return dict(found) if found is not None else None

    def prompts(self) -> list[dict[str, Any]]:
        if self._func is not None:
            return []
        return [self._load()[k] for k in sorted(self._load())]

    def part(self, name: str) -> str | None:
        self._load()
        if name in self._parts:
            return self._parts[name]
        stem = name.rsplit(".", 1)[0] if name.endswith(PART_SUFFIXES) else name
        return self._parts.get(stem)


def _from_mapping(
    spec: Mapping[str, Any],
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    items = spec.get("prompts")
    structured = isinstance(items, list) or (
        isinstance(items, Mapping) and "version" not in items
    )
    parts: dict[str, str] = {}
    if structured:
        raw_parts = spec.get("parts") or {}
        if isinstance(raw_parts, Mapping):
            parts = {str(k): str(v) for k, v in raw_parts.items()}
    else:
        items = spec
    prompts: dict[str, dict[str, Any]] = {}
    if isinstance(items, list):
        for p in items:
            if isinstance(p, Mapping) and p.get("id"):
                prompts[str(p["id"])] = dict(p)
    elif isinstance(items, Mapping):
        for key, p in items.items():
            if isinstance(p, Mapping):
                prompts[str(key)] = {**p, "id": str(key)}
    return prompts, parts


def _from_path(path: Path) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    if path.is_dir():
        prompts: dict[str, dict[str, Any]] = {}
        root = path / "prompts" if (path / "prompts").is_dir() else path
        for file in sorted([*root.rglob("*.yaml"), *root.rglob("*.yml")]):
            if file.name == "dakora.yaml" and file.parent == path:
                continue
            data = _read_yaml(file)
            if isinstance(data, Mapping) and data.get("id"):
                prompts[str(data["id"])] = dict(data)
        parts: dict[str, str] = {}
        parts_dir = path / "parts"
        if parts_dir.is_dir():
            for file in sorted(parts_dir.rglob("*")):
                if file.is_file():
                    rel = file.relative_to(parts_dir).as_posix()
                    text = file.read_text(encoding="utf-8")
                    parts[rel] = text
                    parts.setdefault(rel.rsplit(".", 1)[0], text)
        return prompts, parts
    if path.suffix in (".yaml", ".yml"):
        data = _read_yaml(path)
    else:
        data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, Mapping) and "id" in data and "version" in data:
        data = {"prompts": [data]}
    if not isinstance(data, Mapping):
        return {}, {}
    return _from_mapping(data)


def _read_yaml(path: Path) -> Any:
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - PyYAML ships with dakora
        raise FallbackUnavailable("reading YAML fallbacks needs PyYAML") from exc
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _is_empty(value: Any) -> bool:
    from jinja2 import Undefined

    if isinstance(value, Undefined) or value is None:
        return True
    return isinstance(value, str | list | dict | tuple) and not value


def _default_filter(value: Any, default: Any = "", boolean: bool = False) -> Any:
    """Like the server's: replaces only None, "", [] and {} (keeps 0 and False)."""
    return default if _is_empty(value) else value


def _yaml_filter(value: Any) -> str:
    import yaml

    text = str(yaml.safe_dump(value, sort_keys=False, allow_unicode=True))
    if text.endswith("\n...\n"):
        text = text[:-4]
    return text[:-1] if text.endswith("\n") else text


def coerce_like_server(
    declared: Mapping[str, Any], inputs: Mapping[str, Any]
) -> dict[str, Any]:
    """``inputs`` coerced by the declared specs with the server's code (one home:
    ``registry/core/inputs.py``); FallbackInputError with the server's problems."""
    from pydantic import ValidationError

    from dakora.registry.core import InputError, InputSpec, coerce_inputs

    if not isinstance(declared, Mapping):
        raise FallbackUnavailable("the prompt's inputs are not a mapping")
    specs: dict[str, InputSpec] = {}
    for name, raw in declared.items():
        spec = dict(raw) if isinstance(raw, Mapping) else {}
        spec.pop("has_default", None)
        try:
            specs[str(name)] = InputSpec.model_validate(
                {**spec, "has_default": "default" in spec}
            )
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(p) for p in problem["loc"])
            raise FallbackUnavailable(
                f"input {name!r} of the prompt is invalid: {where}: {problem['msg']}"
            ) from exc
    try:
        return coerce_inputs(specs, inputs, source="json")
    except InputError as exc:
        raise FallbackInputError(exc.to_dict()) from exc


def render_locally(
    prompt: Mapping[str, Any],
    inputs: Mapping[str, Any],
    part: Callable[[str], str | None],
) -> dict[str, Any]:
    """Render a prompt dict like the server's render response."""
    try:
        from jinja2 import FunctionLoader, StrictUndefined, TemplateError
        from jinja2.sandbox import SandboxedEnvironment
    except ImportError as exc:  # pragma: no cover - Jinja2 ships with dakora
        raise FallbackUnavailable("rendering a fallback needs Jinja2") from exc

    values = coerce_like_server(prompt.get("inputs") or {}, inputs)

    env = SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        loader=FunctionLoader(part),
    )
    env.filters["default"] = _default_filter
    env.filters["d"] = _default_filter
    env.filters["yaml"] = _yaml_filter
    out: dict[str, Any] = {
        "prompt_id": prompt.get("id"),
        "version": prompt.get("version"),
        "commit": prompt.get("commit"),
        "inputs_used": values,
    }
    try:
        messages = prompt.get("messages")
        if isinstance(messages, list):
            out["messages"] = [
                {
                    "role": str(m.get("role")),
                    "content": env.from_string(str(m.get("content", ""))).render(
                        values
                    ),
                }
                for m in messages
                if isinstance(m, Mapping)
            ]
        else:
            template = env.from_string(str(prompt.get("template") or ""))
            out["rendered"] = template.render(values)
    except TemplateError as exc:
        raise FallbackUnavailable(f"the fallback template failed: {exc}") from exc
    return out
