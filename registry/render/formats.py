"""Format specs with bounded sizes: ``%``-formatting (``percent_format_size``), one
``format()`` field (``format_spec_size``) and ``str.format`` / ``format_map`` through a
formatter that bounds every field before it is built (``BoundedFormatter``), literal,
``*`` and nested ``{:{w}}`` widths and precisions alike."""

from __future__ import annotations

import re
from typing import Any

from jinja2.sandbox import SandboxedEscapeFormatter, SandboxedFormatter

from dakora.registry.render.limits import (
    CONTAINERS,
    MAX_VALUE_SIZE,
    check_value,
    estimate,
    is_opaque,
    opaque_error,
    size_error,
)

# A %-conversion: %(key)flags width .precision length type
_PERCENT = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?(?P<flags>[-+ #0]*)(?P<width>\*|\d+)?"
    r"(?:\.(?P<prec>\*|\d*))?[hlL]?(?P<type>.?)",
    re.S,
)
# A format() spec: [[fill]align][sign][z][#][0][width][grouping][.precision][type]
_SPEC = re.compile(
    r"(?:.?[<>=^])?[-+ ]?z?#?0?(?P<width>\d+)?[,_]?(?:\.(?P<prec>\d+))?[a-zA-Z%]?",
    re.S,
)


def _scalar_size(value: Any, precision: int | None, kind: str) -> int:
    if isinstance(value, str | bytes):
        n = len(value)
        return min(n, precision) if precision is not None and kind in "sra" else n
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        return value.bit_length() // 3 + 3 + (precision or 0)
    if isinstance(value, float):
        # 'f' of 1e308 has 309 digits before the point
        return 330 + (precision or 0)
    if isinstance(value, CONTAINERS):
        return estimate(value, what="% formatting")
    if is_opaque(value):
        raise opaque_error(value, "% formatting")
    return 64 + (precision or 0)


def _star(args: list[Any], what: str) -> int:
    if not args:
        return 0
    value = args.pop(0)
    if isinstance(value, int):
        if abs(value) > MAX_VALUE_SIZE:
            raise size_error(f"{what}: a '*' width or precision of {value:,}")
        return abs(value)
    return 0


def percent_format_size(fmt: str, right: Any, what: str = "% formatting") -> int:
    """The size ``fmt % right`` would have, at most (estimated without building it):
    every width and precision — literal, ``*`` or ``%(key)``-style — is bounded, and
    each conversion counts the larger of its width and its value's text."""
    if isinstance(right, tuple):
        args = list(right)
        mapping = None
    else:
        args = [right]
        mapping = right if isinstance(right, dict) else None
    total = len(fmt)
    for m in _PERCENT.finditer(fmt):
        kind = m["type"]
        if kind == "%":
            continue
        width = m["width"]
        prec = m["prec"]
        w = _star(args, what) if width == "*" else int(width or 0)
        if prec == "*":
            p: int | None = _star(args, what)
        else:
            p = int(prec) if prec else None
        if w > MAX_VALUE_SIZE or (p is not None and p > MAX_VALUE_SIZE):
            raise size_error(f"{what}: a width or precision of {max(w, p or 0):,}")
        key = m["key"]
        if key is not None and mapping is not None:
            value = mapping.get(key, "")
        elif args:
            value = args.pop(0)
        else:
            value = ""
        total += max(w, _scalar_size(value, p, kind or "s"))
        if total > MAX_VALUE_SIZE:
            raise size_error(what)
    return total


def format_spec_size(value: Any, spec: str, what: str = "format") -> int:
    """The size ``format(value, spec)`` would have, at most."""
    m = _SPEC.fullmatch(spec)
    if m is None:  # an invalid spec: format() raises ValueError without building
        return len(spec)
    w = int(m["width"]) if m["width"] else 0
    p = int(m["prec"]) if m["prec"] else None
    if w > MAX_VALUE_SIZE or (p is not None and p > MAX_VALUE_SIZE):
        raise size_error(f"{what}: a width or precision of {max(w, p or 0):,}")
    return max(w, _scalar_size(value, p, spec[-1:] or "s"))


class _Bounded:
    """``str.format`` fields: no width/precision (also nested ``{:{w}}``) beyond the
    value limit, no container too big to print, and the whole result bounded as the
    fields are formatted — before each one is built."""

    total = 0

    def vformat(self, format_string: str, args: Any, kwargs: Any) -> str:
        self.total = len(format_string)
        return super().vformat(format_string, args, kwargs)  # type: ignore[misc, no-any-return]

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        check_value(value, "format")
        return super().convert_field(value, conversion)  # type: ignore[misc]

    def format_field(self, value: Any, format_spec: str) -> Any:
        check_value(value, "format")
        self.total += format_spec_size(value, format_spec)
        if self.total > MAX_VALUE_SIZE:
            raise size_error("format")
        return super().format_field(value, format_spec)  # type: ignore[misc]


class BoundedFormatter(_Bounded, SandboxedFormatter):
    pass


class BoundedEscapeFormatter(_Bounded, SandboxedEscapeFormatter):
    pass
