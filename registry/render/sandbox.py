"""The Jinja environment every template runs in, and the seam for its errors.

``SandboxEnv``: ``ImmutableSandboxedEnvironment`` (templates cannot mutate inputs) +
``StrictUndefined``, ``autoescape=False``, ``keep_trailing_newline=True``, our filters,
a guarded ``range``; ``lipsum``, ``cycler`` and ``joiner`` removed. Besides the
sandbox's attribute rules it guards the operations that could build a huge value
before the output limit sees it (``*``, ``**``, ``+``, ``%``, ``~`` and the ``str``
padding/replace/join/format methods). ``translate_error`` turns whatever Jinja (or a
guard) raised into one ``RenderError`` with the source and line.
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterable
from typing import Any

from jinja2 import (
    BaseLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
    nodes,
)
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from dakora.registry.core import RenderError
from dakora.registry.render.filters import (
    default_filter,
    guard_filters,
    yaml_filter,
)
from dakora.registry.render.limits import (
    check_format_widths,
    check_size,
    check_value,
    finalize,
    limit_error,
    safe_range,
)

_UNDEFINED_NAME = re.compile(r"^'([^']+)' is undefined$")


class _CodeGenerator(CodeGenerator):
    """Routes ``~`` (string concatenation) through a size check."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.dakora_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


_EXPANDING_STR_METHODS = frozenset({"ljust", "rjust", "center", "zfill"})


class SandboxEnv(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _CodeGenerator

    def __init__(self, loader: BaseLoader | None = None) -> None:
        super().__init__(
            loader=loader,
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            auto_reload=False,
            cache_size=1000,
            finalize=finalize,
        )
        for name in ("lipsum", "cycler", "joiner"):
            self.globals.pop(name, None)
        self.globals["range"] = safe_range
        guard_filters(self.filters)
        self.filters["default"] = default_filter
        self.filters["d"] = default_filter
        self.filters["yaml"] = yaml_filter

    def make_globals(self, d: Any) -> Any:
        """A plain dict instead of Jinja's ChainMap: our globals never change after
        ``__init__``, and ``new_context`` copies a dict much faster than a ChainMap
        (measurable on every render and include)."""
        return {**self.globals, **d} if d else dict(self.globals)

    def dakora_concat(self, values: Iterable[Any]) -> str:
        values = tuple(values)
        for v in values:
            if v.__class__ is not str:
                check_value(v, "string concatenation")
        parts = [str(v) for v in values]
        check_size(sum(map(len, parts)), "string concatenation")
        return "".join(parts)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            seq, n = (left, right) if isinstance(right, int) else (right, left)
            if isinstance(seq, str | list | tuple) and isinstance(n, int):
                check_size(len(seq) * n, "repetition")
            elif (
                isinstance(seq, int)
                and isinstance(n, int)
                and seq.bit_length() + n.bit_length() > 4 * 65_536
            ):
                raise limit_error("multiplication: the result would be too large")
        elif operator == "+":
            if isinstance(left, str | list | tuple) and isinstance(
                right, str | list | tuple
            ):
                check_size(len(left) + len(right), "concatenation")
        elif operator == "**":
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and abs(left) > 1
                and right * max(abs(left).bit_length(), 1) > 65_536
            ):
                raise limit_error("power: the result would be too large")
        elif operator == "%" and isinstance(left, str):
            check_format_widths(left, "% formatting")
            check_value([right], "% formatting")
            result = left % right
            check_size(len(result), "% formatting")
            return result
        return self.binop_table[operator](left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        target = getattr(__obj, "__wrapped__", __obj)
        if isinstance(target, types.BuiltinMethodType) and isinstance(
            target.__self__, str
        ):
            _check_str_call(target.__self__, target.__name__, args, kwargs)
            if target.__name__ == "join" and args:
                args = (list(args[0]), *args[1:])
                check_size(
                    sum(len(x) for x in args[0] if isinstance(x, str))
                    + len(target.__self__) * len(args[0]),
                    "join",
                )
        return super().call(__context, __obj, *args, **kwargs)


def _check_str_call(
    owner: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    if name in _EXPANDING_STR_METHODS:
        width = args[0] if args else kwargs.get("width", 0)
        if isinstance(width, int):
            check_size(width, name)
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(size, int):
            check_size(len(owner) + owner.count("\t") * size, name)
    elif name == "replace" and len(args) >= 2:
        old, new = str(args[0]), str(args[1])
        hits = owner.count(old) if old else len(owner) + 1
        check_size(len(owner) + hits * max(len(new) - len(old), 0), name)
    elif name in ("format", "format_map"):
        check_format_widths(owner, name)
        check_value([args, kwargs], name)


def _template_location(exc: BaseException) -> tuple[str | None, int | None]:
    """(file, line) of the innermost template frame of a rewritten traceback."""
    where: tuple[str | None, int | None] = (None, None)
    tb = exc.__traceback__
    while tb is not None:
        if "__jinja_exception__" in tb.tb_frame.f_globals:
            where = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return where


def translate_error(exc: BaseException, label: str) -> RenderError:
    filename: str | None
    line: int | None
    if isinstance(exc, TemplateSyntaxError):
        filename, line = exc.filename or exc.name, exc.lineno
    else:
        filename, line = _template_location(exc)
    if filename and filename.startswith("<") and filename.endswith(">"):
        source = filename[1:-1]
    else:
        source = filename or label
    details: dict[str, Any] = {"source": source}
    if isinstance(exc, RenderError):
        message = exc.message
        details.update(exc.details)
    elif isinstance(exc, UndefinedError):
        text = str(exc)
        m = _UNDEFINED_NAME.match(text)
        message = f"undefined variable '{m[1]}'" if m else f"undefined: {text}"
        if m:
            details["variable"] = m[1]
    elif isinstance(exc, SecurityError):
        message = f"blocked by the sandbox: {exc}"
    elif isinstance(exc, TemplateNotFound):
        message = f"include target '{exc.name}' not found in parts/"
    elif isinstance(exc, TemplateSyntaxError):
        message = f"template syntax error: {exc.message}"
    elif isinstance(exc, RecursionError):
        message = "recursion too deep (a recursive macro or loop?)"
    elif isinstance(exc, MemoryError):
        message = "out of memory while rendering"
    else:
        message = f"{type(exc).__name__}: {exc}"
    if line is not None:
        details["line"] = line
        message = f"{message} ({source}, line {line})"
    return RenderError(message, **details)
