"""The template filters of the sandbox: ``yaml``, ``default`` (alias ``d``), and the
guards every filter runs behind (``guard_filters``).

The filters are an allow-list: Jinja's built-ins minus ``urlize`` (HTML, and its
``target``/``rel`` are copied once per URL: unbounded), each wrapped so that it checks
the render's deadline, never takes a function or method as its value, and returns no
value bigger than ``MAX_VALUE_SIZE``. The ones that can grow a value far beyond their
input are bounded *before* they run: ``center``, ``indent``, ``format``, ``replace``,
``join``, ``batch``, ``slice``, ``wordwrap``, ``string``, ``tojson``, ``pprint``,
``sum``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import yaml
from jinja2.runtime import Undefined

from dakora.registry.core import RenderError
from dakora.registry.render.formats import percent_format_size
from dakora.registry.render.limits import (
    BUDGET,
    MAX_JSON_INDENT,
    MAX_RANGE,
    MAX_VALUE_SIZE,
    MAX_WRAP_LINES,
    check_result,
    check_size,
    check_value,
    is_opaque,
    limit_error,
    opaque_error,
    size_error,
)

_DumpSafe: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

# Not offered to templates (see the module docstring).
REMOVED_FILTERS = frozenset({"urlize"})
# Filters that iterate their value: they may take a generator (``map``, ``select``,
# ``batch``… return one); the others turn it into text, which would show an address.
_ITERATING = frozenset(
    {
        "batch", "count", "d", "default", "dictsort", "first", "groupby", "items",
        "join", "last", "length", "list", "map", "max", "min", "random", "reject",
        "rejectattr", "reverse", "select", "selectattr", "slice", "sort", "sum",
        "tojson", "unique", "yaml",
    }
)  # fmt: skip


def default_filter(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """Replace only undefined, None, "", [] and {} (0 and False are kept)."""
    if isinstance(value, Undefined) or value is None:
        return default_value
    if isinstance(value, str | list | dict | tuple) and not value:
        return default_value
    return value


def yaml_filter(value: Any) -> str:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    check_value(value, "yaml filter", indent=2)
    try:
        text: str = yaml.dump(
            value, Dumper=_DumpSafe, sort_keys=False, allow_unicode=True
        )
    except yaml.YAMLError as exc:
        raise RenderError(
            f"yaml filter: cannot represent a {type(value).__name__} value"
        ) from exc
    if text.endswith("\n...\n"):
        text = text[:-4]
    return text[:-1] if text.endswith("\n") else text


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def guard_filters(filters: dict[str, Callable[..., Any]]) -> None:
    """Replace ``filters`` (Jinja's defaults + ours) by their guarded versions."""
    for name in REMOVED_FILTERS:
        filters.pop(name, None)
    filters.update(_text_guards(filters))
    filters.update(_sequence_guards(filters))
    for name, func in list(filters.items()):
        filters[name] = _guarded(name, func)


def _text_guards(filters: dict[str, Callable[..., Any]]) -> dict[str, Any]:
    """Filters that print values or pad text, bounded before they run."""
    center, indent, fmt = filters["center"], filters["indent"], filters["format"]
    string, tojson, pprint = filters["string"], filters["tojson"], filters["pprint"]

    def g_string(value: Any) -> str:
        check_value(value, "string")
        return string(value)  # type: ignore[no-any-return]

    @_pass_arg_like(tojson)
    def g_tojson(eval_ctx: Any, value: Any, indent: int | None = None) -> Any:
        if isinstance(indent, int) and indent > MAX_JSON_INDENT:
            raise limit_error(
                f"tojson: an indent of more than {MAX_JSON_INDENT}",
                "json_indent",
                MAX_JSON_INDENT,
            )
        check_value(value, "tojson", indent=_int(indent))
        return tojson(eval_ctx, value, indent)

    def g_pprint(value: Any) -> str:
        check_value(value, "pprint", indent=1)
        return pprint(value)  # type: ignore[no-any-return]

    def g_center(value: Any, width: int = 80) -> str:
        check_size(_int(width), "center")
        return center(value, width)  # type: ignore[no-any-return]

    def g_indent(s: Any, width: int | str = 4, *args: Any, **kwargs: Any) -> str:
        text = str(s)
        w = width if isinstance(width, int) else len(str(width))
        check_size(max(w, 0) * (text.count("\n") + 1) + len(text), "indent")
        return indent(s, width, *args, **kwargs)  # type: ignore[no-any-return]

    def g_format(value: Any, *args: Any, **kwargs: Any) -> str:
        if args and kwargs:
            raise RenderError("format: pass positional or keyword arguments, not both")
        text = str(value)
        percent_format_size(text, kwargs or args, "format")
        return fmt(value, *args, **kwargs)  # type: ignore[no-any-return]

    return {
        "string": g_string,
        "tojson": g_tojson,
        "pprint": g_pprint,
        "center": g_center,
        "indent": g_indent,
        "format": g_format,
    }


def _sequence_guards(filters: dict[str, Callable[..., Any]]) -> dict[str, Any]:
    """Filters that repeat, split or join, bounded before they run."""
    replace, join = filters["replace"], filters["join"]
    batch, slice_, wordwrap = filters["batch"], filters["slice"], filters["wordwrap"]
    sum_ = filters["sum"]

    def g_batch(value: Any, linecount: int, *args: Any) -> Any:
        check_size(_int(linecount), "batch")
        return batch(value, linecount, *args)

    @_pass_arg_like(slice_)
    def g_slice(eval_ctx: Any, value: Any, slices: int, *args: Any) -> Any:
        if isinstance(slices, int) and slices > MAX_RANGE:
            raise limit_error(
                f"slice: more than {MAX_RANGE:,} slices", "range_items", MAX_RANGE
            )
        return slice_(eval_ctx, value, slices, *args)

    @_pass_arg_like(wordwrap)
    def g_wordwrap(env: Any, s: Any, width: int = 79, *args: Any, **kwargs: Any) -> str:
        text = str(s)
        wrapstring = kwargs.get("wrapstring", args[1] if len(args) > 1 else None)
        sep = len(str(wrapstring)) if wrapstring is not None else 1
        lines = text.count("\n") + 1 + len(text) // max(_int(width), 1)
        if lines > MAX_WRAP_LINES:
            raise limit_error(
                f"wordwrap: more than {MAX_WRAP_LINES:,} lines",
                "wrap_lines",
                MAX_WRAP_LINES,
            )
        check_size(len(text) + lines * sep, "wordwrap")
        return wordwrap(env, s, width, *args, **kwargs)  # type: ignore[no-any-return]

    @_pass_arg_like(replace)
    def g_replace(eval_ctx: Any, s: Any, old: Any, new: Any, count: Any = None) -> str:
        text = str(s)
        hits = text.count(str(old)) if old != "" else len(text) + 1
        if count is not None and isinstance(count, int):
            hits = min(hits, max(count, 0))
        check_size(len(text) + hits * max(len(str(new)) - len(str(old)), 0), "replace")
        return replace(eval_ctx, s, old, new, count)  # type: ignore[no-any-return]

    @_pass_arg_like(join)
    def g_join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None):  # type: ignore[no-untyped-def]
        items = list(value)
        check_value(items, "join")
        check_size(len(str(d)) * len(items), "join")
        return join(eval_ctx, items, d, attribute)

    @_pass_arg_like(sum_)
    def g_sum(env: Any, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
        if not isinstance(start, int | float):
            raise RenderError("sum: start must be a number (sum adds numbers)")
        return sum_(env, iterable, attribute, start)

    return {
        "batch": g_batch,
        "slice": g_slice,
        "wordwrap": g_wordwrap,
        "replace": g_replace,
        "join": g_join,
        "sum": g_sum,
    }


def _guarded(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """Every filter: the deadline is checked, the value is not a function or method
    (whose text is a memory address), the result is not bigger than a value may be."""
    marker = getattr(func, "jinja_pass_arg", None)
    at = 1 if marker is not None else 0
    what = f"filter '{name}'"
    iterates = name in _ITERATING

    def guarded(*args: Any, **kwargs: Any) -> Any:
        budget = BUDGET.get()
        if budget is not None:
            budget.tick()
        if len(args) > at:
            value = args[at]
            if is_opaque(value) and not (iterates and isinstance(value, Iterator)):
                raise opaque_error(value, what)
        return check_result(func(*args, **kwargs), what)

    if marker is not None:
        guarded.jinja_pass_arg = marker  # type: ignore[attr-defined]
    guarded.__name__ = getattr(func, "__name__", name)
    guarded.__doc__ = func.__doc__
    return guarded


def _pass_arg_like(original: Callable[..., Any]) -> Callable[[Any], Any]:
    """Give a wrapper the same ``pass_*`` marker as the filter it wraps."""

    def decorate(func: Any) -> Any:
        marker = getattr(original, "jinja_pass_arg", None)
        if marker is not None:
            func.jinja_pass_arg = marker
        return func

    return decorate


__all__ = [
    "MAX_VALUE_SIZE",
    "REMOVED_FILTERS",
    "default_filter",
    "guard_filters",
    "size_error",
    "yaml_filter",
]
