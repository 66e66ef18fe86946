"""Strict, predictable input coercion (docs/design.md §3).

Callers send JSON (HTTP, ``source="json"``) or strings (CLI ``-i key=value``,
``source="cli"``). Every bad, missing or unknown input is reported at once in one
``InputError`` whose problems name the input, the expected type and the value.
``enum`` is enforced after coercion. Optional inputs without default become None.

| type          | accepts     | converts                                   | rejects                 |
|---------------|-------------|--------------------------------------------|-------------------------|
| string        | str         | int/float → str                            | bool, list, object,     |
|               |             |                                            | null unless optional    |
| number        | int, float  | "3" → 3, "2.5" → 2.5                       | bool, "abc", nan/inf    |
| boolean       | bool        | true/false/yes/no/on/off/1/0 (any case),   | other strings, numbers  |
|               |             | 0/1                                        |                         |
| array<string> | list of str | "a" → ["a"]; CLI: a JSON array             | non-str items           |
| object        | dict        | CLI: a JSON object                         | anything else           |
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, Literal

from dakora.registry.core.errors import InputError, InputProblem
from dakora.registry.core.model import InputSpec

_INT = re.compile(r"^[+-]?[0-9]+$")
_FLOAT = re.compile(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


class _Reject(Exception):
    """A value does not fit its type; ``detail`` is appended to the message."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.detail = detail


def show_value(value: Any, limit: int = 60) -> str:
    """A short, JSON-like rendering of a value for error messages."""
    if isinstance(value, str):
        text = repr(value)
    elif value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=repr)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise _Reject()
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Reject(" (must be finite)")
        return value
    if isinstance(value, str):
        try:
            if _INT.match(value):
                return int(value)
            if _FLOAT.match(value):
                result = float(value)
                if math.isfinite(result):
                    return result
                raise _Reject(" (must be finite)")
        except ValueError:  # e.g. more digits than int() allows
            pass
    raise _Reject()


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise _Reject(" (use true/false, yes/no, on/off or 1/0)")
    raise _Reject()


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise _Reject()


def _string_list(value: Any, source: str) -> list[str]:
    if isinstance(value, str):
        if source == "cli" and value.lstrip().startswith("["):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise _Reject(
                    f" (not a valid JSON array: {getattr(exc, 'msg', exc)})"
                ) from exc
        else:
            return [value]
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise _Reject(f" (item {i} is {show_value(item)}, not a string)")
        return list(value)
    raise _Reject()


def _object(value: Any, source: str) -> dict[str, Any]:
    if isinstance(value, str) and source == "cli":
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise _Reject(
                f" (not a valid JSON object: {getattr(exc, 'msg', exc)})"
            ) from exc
    if isinstance(value, dict):
        return dict(value)
    raise _Reject()


def _coerce(type_: str, value: Any, source: str) -> Any:
    if type_ == "string":
        return _string(value)
    if type_ == "number":
        return _number(value)
    if type_ == "boolean":
        return _boolean(value)
    if type_ == "array<string>":
        return _string_list(value, source)
    if type_ == "object":
        return _object(value, source)
    raise _Reject(f" (unknown type {type_!r})")  # pragma: no cover - model forbids


def _fresh(value: Any) -> Any:
    """Defaults live in the (shared, cached) prompt model: hand out copies."""
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value


def coerce_inputs(
    specs: Mapping[str, InputSpec],
    raw: Mapping[str, Any],
    *,
    source: Literal["json", "cli"] = "json",
) -> dict[str, Any]:
    """Coerce ``raw`` by the declared specs. Raises InputError listing every problem.

    The result has every declared input: given values coerced, missing optional ones
    set to their default (or None). Problems come in a stable order: unknown inputs,
    then bad values, then missing required inputs, each in declaration order.
    """
    unknown: list[InputProblem] = []
    bad: list[InputProblem] = []
    missing: list[InputProblem] = []
    out: dict[str, Any] = {}
    if not isinstance(raw, Mapping):
        raise InputError(
            [
                InputProblem(
                    name="",
                    message=f"inputs must be an object, got {show_value(raw)}",
                    expected="object",
                    value=raw,
                )
            ]
        )
    for name, value in raw.items():
        if name not in specs:
            unknown.append(
                InputProblem(
                    name=str(name),
                    message=f"unknown input '{name}'",
                    expected=None,
                    value=value,
                )
            )
    for name, spec in specs.items():
        _coerce_one(name, spec, raw, source, out, bad, missing)
    problems = unknown + bad + missing
    if problems:
        raise InputError(problems)
    return out


def _coerce_one(
    name: str,
    spec: InputSpec,
    raw: Mapping[str, Any],
    source: Literal["json", "cli"],
    out: dict[str, Any],
    bad: list[InputProblem],
    missing: list[InputProblem],
) -> None:
    """One declared input: its coerced value (or default) into ``out``, or a problem
    into ``bad`` / ``missing``."""
    value = raw.get(name)
    if value is None:
        if spec.has_default:
            out[name] = _fresh(spec.default)
        elif spec.required is False:
            out[name] = None
        elif name in raw:
            bad.append(
                InputProblem(
                    name=name,
                    message=f"input '{name}': expected {spec.type}, got null",
                    expected=spec.type,
                    value=None,
                )
            )
        else:
            missing.append(
                InputProblem(
                    name=name,
                    message=f"missing required input '{name}' ({spec.type})",
                    expected=spec.type,
                    value=None,
                )
            )
        return
    try:
        coerced = _coerce(spec.type, value, source)
    except _Reject as exc:
        bad.append(
            InputProblem(
                name=name,
                message=f"input '{name}': expected {spec.type}, got "
                f"{show_value(value)}{exc.detail}",
                expected=spec.type,
                value=value,
            )
        )
        return
    if spec.enum is not None and coerced not in spec.enum:
        choices = ", ".join(show_value(e) for e in spec.enum)
        bad.append(
            InputProblem(
                name=name,
                message=f"input '{name}': expected one of {choices}, got "
                f"{show_value(value)}",
                expected=f"one of {choices}",
                value=value,
            )
        )
        return
    out[name] = coerced


def parse_cli_pairs(pairs: list[str]) -> dict[str, str]:
    """``["k=v", …]`` → dict; a pair without ``=`` is an InputError naming it.

    Splits on the first ``=`` (values may contain ``=``); a name given twice is an
    error too (use a JSON array for ``array<string>`` inputs).
    """
    out: dict[str, str] = {}
    problems: list[InputProblem] = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            problems.append(
                InputProblem(
                    name=name or pair,
                    message=f"bad input {pair!r}: expected key=value",
                    expected="key=value",
                    value=pair,
                )
            )
        elif name in out:
            problems.append(
                InputProblem(
                    name=name,
                    message=f"input '{name}' given more than once",
                    expected=None,
                    value=value,
                )
            )
        else:
            out[name] = value
    if problems:
        raise InputError(problems)
    return out
