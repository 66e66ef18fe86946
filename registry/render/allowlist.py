"""What a template may call: the allow-list of attributes and methods per type
(``SAFE_ATTRIBUTES``), and the size bounds of the ``str`` methods that can grow a
string, checked before they run (``check_str_call``)."""

from __future__ import annotations

import datetime
import types
from collections.abc import Iterable
from typing import Any

from jinja2.environment import TemplateModule
from jinja2.runtime import (
    BlockReference,
    LoopContext,
    Macro,
    TemplateReference,
    Undefined,
)
from jinja2.utils import Namespace
from markupsafe import Markup

from dakora.registry.core import RenderError
from dakora.registry.render.limits import MAX_VALUE_SIZE, check_size


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STR_METHODS = _names(
    "capitalize casefold center count endswith expandtabs find format format_map "
    "index isalnum isalpha isascii isdecimal isdigit isidentifier islower isnumeric "
    "isprintable isspace istitle isupper join ljust lower lstrip partition "
    "removeprefix removesuffix replace rfind rindex rjust rpartition rsplit rstrip "
    "split splitlines startswith strip swapcase title translate upper zfill"
)
_DATE_ATTRS = _names(
    "year month day hour minute second microsecond weekday isoweekday isoformat "
    "isocalendar strftime toordinal date time"
)
_NUMBER_ATTRS = _names(
    "real imag conjugate numerator denominator bit_length bit_count is_integer"
)
# (type, attributes a template may use on it); None = every public attribute (these
# objects only hold template data: namespaces, blocks, imported template modules).
# Checked in order (Markup before str, bool is an int). A type not listed: nothing.
SAFE_ATTRIBUTES: tuple[tuple[type | types.UnionType, frozenset[str] | None], ...] = (
    (Markup, _STR_METHODS | {"escape", "unescape", "striptags"}),
    (str, _STR_METHODS),
    (
        bytes,
        _names(
            "count decode endswith find hex index isalnum isalpha isascii isdigit "
            "islower isspace istitle isupper rfind rindex startswith"
        ),
    ),
    (dict, frozenset({"get", "items", "keys", "values", "copy"})),
    (list, frozenset({"count", "index", "copy"})),
    (tuple, frozenset({"count", "index"})),
    (
        set | frozenset,
        _names(
            "copy difference intersection isdisjoint issubset issuperset "
            "symmetric_difference union"
        ),
    ),
    (int, _NUMBER_ATTRS),
    (float, _NUMBER_ATTRS | {"as_integer_ratio", "hex"}),
    (datetime.date | datetime.time, _DATE_ATTRS),
    (range, frozenset({"start", "stop", "step", "count", "index"})),
    (
        LoopContext,
        _names(
            "index index0 revindex revindex0 first last length depth depth0 "
            "previtem nextitem cycle changed"
        ),
    ),
    (
        Macro,
        frozenset({"name", "arguments", "catch_kwargs", "catch_varargs", "caller"}),
    ),
    (Namespace, None),
    (TemplateReference, None),
    (BlockReference, frozenset({"super"})),
    (TemplateModule, None),
    (Undefined, None),
)


def allowed_attributes(obj: Any) -> frozenset[str] | None:
    for cls, names in SAFE_ATTRIBUTES:
        if isinstance(obj, cls):
            return names
    return frozenset()


def _int_arg(
    args: tuple[Any, ...], kwargs: dict[str, Any], name: str, default: int
) -> Any:
    return args[0] if args else kwargs.get(name, default)


def check_str_call(
    owner: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, ...]:
    """Bound what a ``str`` method would build, before it runs. Returns the args
    (``join``'s iterable becomes a list, so it is read once)."""
    if name in ("ljust", "rjust", "center", "zfill"):
        width = _int_arg(args, kwargs, "width", 0)
        if isinstance(width, int):
            check_size(width, name)
    elif name == "expandtabs":
        size = _int_arg(args, kwargs, "tabsize", 8)
        if isinstance(size, int):
            check_size(len(owner) + owner.count("\t") * max(size, 0), name)
    elif name == "replace" and len(args) >= 2:
        old, new = str(args[0]), str(args[1])
        hits = owner.count(old) if old else len(owner) + 1
        count = args[2] if len(args) > 2 else kwargs.get("count", -1)
        if isinstance(count, int) and count >= 0:
            hits = min(hits, count)
        check_size(len(owner) + hits * max(len(new) - len(old), 0), name)
    elif name == "join" and args:
        items = list(args[0])
        size = len(owner) * max(len(items) - 1, 0)
        for item in items:
            if isinstance(item, str):
                size += len(item)
            if size > MAX_VALUE_SIZE:
                break
        check_size(size, name)
        args = (items, *args[1:])
    elif name == "translate" and args:
        check_size(len(owner) * _longest_replacement(args[0]), name)
    return args


def _longest_replacement(table: Any) -> int:
    """The longest string a ``str.translate`` table maps one character to."""
    if isinstance(table, dict):
        values: Iterable[Any] = table.values()
    elif isinstance(table, str | list | tuple):
        values = table
    else:
        raise RenderError(
            f"translate: the table must be a dict, list or string, not a "
            f"{type(table).__name__}"
        )
    longest = 1
    for v in values:
        if isinstance(v, str) and len(v) > longest:
            longest = len(v)
    return longest
