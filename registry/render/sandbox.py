"""The Jinja environment every template runs in, and the seam for its errors.

``SandboxEnv``: ``ImmutableSandboxedEnvironment`` (templates cannot mutate inputs) +
``StrictUndefined``, ``autoescape=False``, ``keep_trailing_newline=True``, our filters,
a guarded ``range``; ``lipsum``, ``cycler`` and ``joiner`` removed. On top of the
sandbox's own rules:

- an **allow-list** of what a template may reach on a value (``SAFE_ATTRIBUTES``:
  per type, the attributes and methods it may use; anything else — ``str.encode``,
  ``int.to_bytes``, ``dict.fromkeys``, attributes of unknown objects — is refused);
- **sizes bounded before building** for every operator (``*``, ``**``, ``+``, ``%``,
  ``~``), method (``ljust``, ``replace``, ``join``, ``translate``, ``format`` and its
  nested ``{:{w}}`` widths, …) and filter (``filters.guard_filters``) that can grow a
  value, and every result checked after;
- the **time and work budget** (``limits.RenderBudget``): the code generator adds a
  check to every loop iteration and include; calls, filters and operators check the
  deadline; macro calls and their nesting are counted;
- functions and methods are never printed (their text is a memory address).

``translate_error`` turns whatever Jinja (or a guard) raised into one ``RenderError``
with the source and line.
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterable
from functools import update_wrapper
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
from jinja2.runtime import (
    Context,
    LoopContext,
    Macro,
)
from jinja2.sandbox import (
    ImmutableSandboxedEnvironment,
    SandboxedFormatter,
)
from markupsafe import Markup

from dakora.registry.core import RenderError, RenderLimitError
from dakora.registry.render.allowlist import allowed_attributes, check_str_call
from dakora.registry.render.filters import (
    default_filter,
    guard_filters,
    yaml_filter,
)
from dakora.registry.render.formats import (
    BoundedEscapeFormatter,
    BoundedFormatter,
    percent_format_size,
)
from dakora.registry.render.limits import (
    BUDGET,
    MAX_CALL_DEPTH,
    check_result,
    check_size,
    check_value,
    depth_error,
    finalize,
    is_opaque,
    limit_error,
    memory_error,
    opaque_error,
    safe_range,
)

_UNDEFINED_NAME = re.compile(r"^'([^']+)' is undefined$")


# -- the code generator: budget checks in loops and includes ---------------------------


class _CodeGenerator(CodeGenerator):
    """Routes ``~`` (string concatenation) through a size check, and counts every loop
    iteration and include against the render's budget."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.dakora_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def _output_child_to_const(
        self, node: nodes.Expr, frame: Frame, finalize: Any
    ) -> str:
        # Jinja evaluates constant ``{{ … }}`` while compiling (even unoptimized):
        # outside any budget, and ``''.upper ~ ''`` would fold into the method's
        # text. Only literal template text is constant here.
        if not isinstance(node, nodes.TemplateData):
            raise nodes.Impossible()
        return super()._output_child_to_const(node, frame, finalize)

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        # the body (a list: identity marks it) starts with the budget check, for
        # every iteration, recursive loops included
        bodies: set[int] = self.__dict__.setdefault("_dakora_loop_bodies", set())
        bodies.add(id(node.body))
        try:
            super().visit_For(node, frame)
        finally:
            bodies.discard(id(node.body))

    def blockvisit(self, nodes: Iterable[nodes.Node], frame: Frame) -> None:
        if id(nodes) in self.__dict__.get("_dakora_loop_bodies", ()):
            self.writeline("environment.dakora_loop_tick()")
        super().blockvisit(nodes, frame)

    def visit_Include(self, node: nodes.Include, frame: Frame) -> None:
        self.writeline("environment.dakora_include_tick()", node)
        super().visit_Include(node, frame)

    def visit_Import(self, node: nodes.Import, frame: Frame) -> None:
        self.writeline("environment.dakora_include_tick()", node)
        super().visit_Import(node, frame)

    def visit_FromImport(self, node: nodes.FromImport, frame: Frame) -> None:
        self.writeline("environment.dakora_include_tick()", node)
        super().visit_FromImport(node, frame)


# -- the environment ------------------------------------------------------------------

_SEQUENCES = (str, bytes, bytearray, list, tuple)


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
            finalize=_finalize,
            # No constant folding: it would run template code at compile time,
            # outside the budget, and fold ``''.upper ~ ''`` into the method's text.
            optimized=False,
        )
        for name in ("lipsum", "cycler", "joiner"):
            self.globals.pop(name, None)
        self.globals["range"] = safe_range
        self.filters["default"] = default_filter
        self.filters["d"] = default_filter
        self.filters["yaml"] = yaml_filter
        guard_filters(self.filters)

    def make_globals(self, d: Any) -> Any:
        """A plain dict instead of Jinja's ChainMap: our globals never change after
        ``__init__``, and ``new_context`` copies a dict much faster than a ChainMap
        (measurable on every render and include)."""
        return {**self.globals, **d} if d else dict(self.globals)

    # -- the allow-list

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        names = allowed_attributes(obj)
        return names is None or attr in names

    def wrap_str_format(self, value: Any) -> Any:
        """``str.format`` / ``format_map`` with the bounded formatter (Jinja wraps them
        where they are read, so a call made without ``call`` is sandboxed too)."""
        if not isinstance(
            value, types.MethodType | types.BuiltinMethodType
        ) or value.__name__ not in ("format", "format_map"):
            return None
        owner: Any = value.__self__
        if not isinstance(owner, str):
            return None
        str_type = type(owner)
        is_format_map = value.__name__ == "format_map"
        formatter: SandboxedFormatter = (
            BoundedEscapeFormatter(self, escape=owner.escape)
            if isinstance(owner, Markup)
            else BoundedFormatter(self)
        )

        def wrapper(*args: Any, **kwargs: Any) -> str:
            if is_format_map:
                if kwargs:
                    raise TypeError("format_map() takes no keyword arguments")
                if len(args) != 1:
                    raise TypeError(
                        f"format_map() takes exactly one argument ({len(args)} given)"
                    )
                kwargs = args[0]
                args = ()
            return str_type(formatter.vformat(owner, args, kwargs))

        return update_wrapper(wrapper, value)

    # -- budget checks the generated code calls

    def dakora_loop_tick(self) -> None:
        budget = BUDGET.get()
        if budget is not None:
            budget.loop_iteration()

    def dakora_include_tick(self) -> None:
        budget = BUDGET.get()
        if budget is not None:
            budget.include()

    # -- size guards

    def dakora_concat(self, values: Iterable[Any]) -> str:
        budget = BUDGET.get()
        if budget is not None:
            budget.tick()
        values = tuple(values)
        for v in values:
            if v.__class__ is not str:
                check_value(v, "string concatenation")
        parts = [str(v) for v in values]
        check_size(sum(map(len, parts)), "string concatenation")
        return "".join(parts)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = BUDGET.get()
        if budget is not None:
            budget.tick()
        if operator == "*":
            seq, n = (left, right) if isinstance(right, int) else (right, left)
            if isinstance(seq, _SEQUENCES) and isinstance(n, int):
                check_size(len(seq) * n, "repetition")
            elif (
                isinstance(seq, int)
                and isinstance(n, int)
                and seq.bit_length() + n.bit_length() > 4 * 65_536
            ):
                raise limit_error(
                    "multiplication: the result would be too large", "value_size"
                )
        elif operator == "+":
            if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
                check_size(len(left) + len(right), "concatenation")
        elif operator == "**":
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and abs(left) > 1
                and right * max(abs(left).bit_length(), 1) > 65_536
            ):
                raise limit_error("power: the result would be too large", "value_size")
        elif operator == "%" and isinstance(left, str | bytes):
            fmt = left if isinstance(left, str) else left.decode("latin-1")
            percent_format_size(fmt, right)
            return check_result(left % right, "% formatting")
        return self.binop_table[operator](left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        budget = BUDGET.get()
        if budget is not None:
            budget.tick()
            if isinstance(__obj, Macro | LoopContext):
                budget.macro_call()
                budget.depth += 1
                try:
                    if budget.depth > MAX_CALL_DEPTH:
                        raise depth_error()
                    return super().call(__context, __obj, *args, **kwargs)
                finally:
                    budget.depth -= 1
        target = getattr(__obj, "__wrapped__", __obj)
        if isinstance(target, types.BuiltinMethodType) and isinstance(
            target.__self__, str
        ):
            args = check_str_call(target.__self__, target.__name__, args, kwargs)
        return check_result(super().call(__context, __obj, *args, **kwargs), "a call")


def _finalize(value: Any) -> Any:
    budget = BUDGET.get()
    if budget is not None:
        budget.tick()
    return finalize(value)


# -- errors ---------------------------------------------------------------------------


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
    error_class: type[RenderError] = RenderError
    if isinstance(exc, RecursionError):
        exc = depth_error()
    elif isinstance(exc, MemoryError):
        exc = memory_error()
    if isinstance(exc, RenderError):
        message = exc.message
        details.update(exc.details)
        error_class = type(exc)
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
    else:
        message = f"{type(exc).__name__}: {exc}"
    if line is not None:
        details["line"] = line
        message = f"{message} ({source}, line {line})"
    if issubclass(error_class, RenderLimitError):
        return error_class(message, **details)
    return RenderError(message, **details)


__all__ = [
    "SandboxEnv",
    "is_opaque",
    "opaque_error",
    "translate_error",
]
