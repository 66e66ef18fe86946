"""The text a review shows: unified diffs of text, a prompt's template as text, and
each example rendered before and after (the defaults, with placeholders for required
inputs, when a prompt has no examples).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from dakora.registry.core import (
    DakoraError,
    InputError,
    InputSpec,
    Prompt,
    coerce_inputs,
)
from dakora.registry.git import PartsSource
from dakora.registry.load import LoadedPrompt
from dakora.registry.render import RenderResult, Renders
from dakora.registry.review.report import RenderReport


def unified_diff(old: str | None, new: str | None, old_name: str, new_name: str) -> str:
    """A git-style unified diff (``-`` old, ``+`` new); "" when equal."""
    a = (old or "").splitlines()
    b = (new or "").splitlines()
    if a == b:
        return ""
    lines = difflib.unified_diff(
        a,
        b,
        fromfile=old_name if old is not None else "/dev/null",
        tofile=new_name if new is not None else "/dev/null",
        lineterm="",
    )
    return "\n".join(lines) + "\n"


def template_text(prompt: Prompt | None) -> str | None:
    """The template, or the messages as ``[role]`` blocks, for diffing."""
    if prompt is None:
        return None
    if prompt.messages is None:
        return prompt.template or ""
    return "\n".join(
        f"[{m.role}]\n{m.content.rstrip(chr(10))}" for m in prompt.messages
    )


def rendered_text(result: RenderResult) -> str:
    if result.kind == "chat":
        return "\n".join(
            f"[{m['role']}]\n{m['content'].rstrip(chr(10))}"
            for m in result.messages or []
        )
    return result.rendered or ""


def decode_text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


_PLACEHOLDERS: dict[str, Any] = {
    "number": 0,
    "boolean": False,
    "object": {},
}


def _placeholder(name: str, spec: InputSpec) -> Any:
    if spec.enum:
        return spec.enum[0]
    if spec.type == "array<string>":
        return [f"<{name}>"]
    if spec.type in _PLACEHOLDERS:
        return _PLACEHOLDERS[spec.type]
    return f"<{name}>"


def _example_sets(prompt: Prompt) -> list[tuple[str, dict[str, Any], list[str]]]:
    """(label, inputs, placeholder names) for each example, or the defaults."""
    if prompt.examples:
        return [
            (f"example {i + 1}", dict(ex), []) for i, ex in enumerate(prompt.examples)
        ]
    values: dict[str, Any] = {}
    filled: list[str] = []
    for name, spec in prompt.inputs.items():
        if spec.is_required:
            values[name] = _placeholder(name, spec)
            filled.append(name)
    return [("defaults", values, filled)]


def _render_side(
    renderer: Renders,
    loaded: LoadedPrompt,
    raw: Mapping[str, Any],
    parts: PartsSource,
) -> tuple[str | None, str | None, list[str]]:
    """(rendered text, error, dropped input names) for one side."""
    prompt = loaded.prompt
    dropped = sorted(k for k in raw if k not in prompt.inputs)
    inputs = {k: v for k, v in raw.items() if k in prompt.inputs}
    try:
        coerced = coerce_inputs(prompt.inputs, inputs, source="json")
        result = renderer.render(prompt, coerced, parts, cache_key=loaded.blob_sha)
    except InputError as exc:
        return None, f"inputs: {exc.message}", dropped
    except DakoraError as exc:
        return None, exc.message, dropped
    return rendered_text(result), None, dropped


def render_examples(
    renderer: Renders,
    old: LoadedPrompt | None,
    new: LoadedPrompt | None,
    base_parts: PartsSource,
    head_parts: PartsSource,
) -> list[RenderReport]:
    source = new if new is not None else old
    if source is None:
        return []
    reports: list[RenderReport] = []
    for label, raw, placeholders in _example_sets(source.prompt):
        rep = RenderReport(label=label, inputs=raw, placeholders=placeholders)
        if old is not None:
            rep.before, rep.before_error, rep.dropped_base = _render_side(
                renderer, old, raw, base_parts
            )
        if new is not None:
            rep.after, rep.after_error, rep.dropped_head = _render_side(
                renderer, new, raw, head_parts
            )
        rep.diff = unified_diff(
            rep.before if old is not None else None,
            rep.after if new is not None else None,
            f"a/{label} (base)",
            f"b/{label} (head)",
        )
        rep.changed = rep.before != rep.after
        reports.append(rep)
    return reports
