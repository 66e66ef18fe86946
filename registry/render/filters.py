"""The template filters of the sandbox: ``yaml``, ``default`` (alias ``d``) and size
guards around the built-in filters that could build a huge value (``center``,
``indent``, ``format``, ``replace``, ``join``, ``batch``, ``slice``, ``wordwrap``,
``string``, ``tojson``, ``pprint``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import yaml
from jinja2.runtime import Undefined

from dakora.registry.core import RenderError
from dakora.registry.render.limits import (
    MAX_RANGE,
    check_format_widths,
    check_size,
    check_value,
    limit_error,
)

_DumpSafe: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


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
    check_value(value, "yaml filter")
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


def guard_filters(filters: dict[str, Callable[..., Any]]) -> None:
    center, indent, fmt = filters["center"], filters["indent"], filters["format"]
    replace, join = filters["replace"], filters["join"]
    batch, slice_, wordwrap = filters["batch"], filters["slice"], filters["wordwrap"]
    string, tojson, pprint = filters["string"], filters["tojson"], filters["pprint"]

    def g_string(value: Any) -> str:
        check_value(value, "string")
        return string(value)  # type: ignore[no-any-return]

    @_pass_eval_ctx_like(tojson)
    def g_tojson(eval_ctx: Any, value: Any, indent: int | None = None) -> Any:
        check_value(value, "tojson")
        if isinstance(indent, int):
            check_size(indent, "tojson indent")
        return tojson(eval_ctx, value, indent)

    def g_pprint(value: Any) -> str:
        check_value(value, "pprint")
        return pprint(value)  # type: ignore[no-any-return]

    def g_center(value: Any, width: int = 80) -> str:
        check_size(width if isinstance(width, int) else 0, "center")
        return center(value, width)  # type: ignore[no-any-return]

    def g_indent(s: str, width: int | str = 4, *args: Any, **kwargs: Any) -> str:
        w = width if isinstance(width, int) else len(str(width))
        check_size(w * (str(s).count("\n") + 1) + len(str(s)), "indent")
        return indent(s, width, *args, **kwargs)  # type: ignore[no-any-return]

    def g_format(value: str, *args: Any, **kwargs: Any) -> str:
        check_format_widths(str(value), "format")
        check_value([args, kwargs], "format")
        result = fmt(value, *args, **kwargs)
        check_size(len(result), "format")
        return result  # type: ignore[no-any-return]

    def g_batch(value: Any, linecount: int, *args: Any) -> Any:
        check_size(linecount if isinstance(linecount, int) else 0, "batch")
        return batch(value, linecount, *args)

    def g_slice(value: Any, slices: int, *args: Any) -> Any:
        if isinstance(slices, int) and slices > MAX_RANGE:
            raise limit_error(f"slice: more than {MAX_RANGE:,} slices")
        return slice_(value, slices, *args)

    def g_wordwrap(s: str, width: int = 79, *args: Any, **kwargs: Any) -> str:
        wrapstring = kwargs.get("wrapstring", args[1] if len(args) > 1 else None)
        if wrapstring is not None and len(str(wrapstring)) > 64:
            raise limit_error("wordwrap: wrapstring longer than 64 characters")
        return wordwrap(s, width, *args, **kwargs)  # type: ignore[no-any-return]

    @_pass_eval_ctx_like(replace)
    def g_replace(eval_ctx: Any, s: str, old: str, new: str, count: Any = None) -> str:
        text = str(s)
        hits = text.count(str(old)) if old != "" else len(text) + 1
        if count is not None and isinstance(count, int):
            hits = min(hits, max(count, 0))
        check_size(len(text) + hits * max(len(str(new)) - len(str(old)), 0), "replace")
        return replace(eval_ctx, s, old, new, count)  # type: ignore[no-any-return]

    @_pass_eval_ctx_like(join)
    def g_join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None):  # type: ignore[no-untyped-def]
        items = list(value)
        check_value(items, "join")
        check_size(len(d) * len(items), "join")
        return join(eval_ctx, items, d, attribute)

    filters.update(
        string=g_string,
        tojson=g_tojson,
        pprint=g_pprint,
        center=g_center,
        indent=g_indent,
        format=g_format,
        batch=g_batch,
        slice=g_slice,
        wordwrap=g_wordwrap,
        replace=g_replace,
        join=g_join,
    )


def _pass_eval_ctx_like(original: Callable[..., Any]) -> Callable[[Any], Any]:
    """Give a wrapper the same ``pass_eval_context`` marker as the filter it wraps."""

    def decorate(func: Any) -> Any:
        marker = getattr(original, "jinja_pass_arg", None)
        if marker is not None:
            func.jinja_pass_arg = marker
        return func

    return decorate
