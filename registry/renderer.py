"""The sandboxed renderer (DESIGN §4).

``SandboxedEnvironment`` (the immutable flavour: templates cannot mutate inputs) +
``StrictUndefined``, ``autoescape=False``, ``keep_trailing_newline=True``; filters
``yaml`` and ``default``; includes from the snapshot's ``parts/`` with depth ≤ 10 and
cycles reported with the chain; limits: output ≤ 1 MiB, template source ≤ 256 KiB,
``range`` ≤ 10,000 items. Compiled templates are cached by (blob sha, parts key).
SSTI payloads fail with ``RenderError``.

Besides the sandbox's attribute rules, the environment guards the operations that
could build a huge value before the output limit sees it (``*``, ``**``, ``+``, ``%``,
``~``, ``str`` padding/replace/join/format, the ``center``/``indent``/``format``/
``replace``/``join``/``batch``/``slice``/``wordwrap`` filters), and ``range`` also
has a per-render budget so nested loops cannot spin for ever. ``lipsum``, ``cycler``
and ``joiner`` are not available.
"""

from __future__ import annotations

import re
import threading
import types
from collections import OrderedDict
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

import yaml
from jinja2 import (
    BaseLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
    nodes,
)
from jinja2.compiler import CodeGenerator, Frame
from jinja2.environment import Template
from jinja2.exceptions import SecurityError
from jinja2.meta import TrackingCodeGenerator
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from dakora.registry.errors import RenderError
from dakora.registry.model import Prompt
from dakora.registry.parts import is_valid_part_name
from dakora.registry.snapshot import PartsSource

MAX_OUTPUT_BYTES = 1024 * 1024
MAX_SOURCE_BYTES = 256 * 1024
MAX_RANGE = 10_000
MAX_INCLUDE_DEPTH = 10
# Sum of every range() of one render (nested loops), and the largest value (string
# or list) an expression may build: anything bigger could never fit the output.
MAX_RANGE_TOTAL = 10 * MAX_RANGE
MAX_VALUE_SIZE = MAX_OUTPUT_BYTES

_DumpSafe: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_BIG_WIDTH = re.compile(r"[0-9]{7,}")
_UNDEFINED_NAME = re.compile(r"^'([^']+)' is undefined$")


@dataclass(frozen=True)
class TemplateInfo:
    """What a template uses, found by parsing (never compiling) it and its parts."""

    variables: frozenset[str]  # undeclared names used, including inside parts
    includes: tuple[str, ...]  # include targets, transitively, in order
    missing_includes: tuple[tuple[str, int], ...]  # (name, line in the source)
    variable_lines: dict[str, int]  # first line each variable appears on (source's own)
    # (message, line in the source): include cycles (with the chain), nesting deeper
    # than MAX_INCLUDE_DEPTH, non-literal include targets, parts that don't parse or
    # are too big. A variable only used in a part gets the line of its include.
    errors: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class RenderResult:
    kind: Literal["text", "chat"]
    rendered: str | None  # text prompts
    messages: list[dict[str, str]] | None  # chat prompts: [{role, content}]
    inputs_used: dict[str, Any]  # the coerced inputs the template saw


# ------------------------------------------------------------------------- limits

_RANGE_BUDGET: ContextVar[list[int] | None] = ContextVar(
    "dakora_range_budget", default=None
)


def _limit(message: str) -> RenderError:
    return RenderError(message, limit=True)


def _check_size(size: int, what: str) -> None:
    if size > MAX_VALUE_SIZE:
        raise _limit(f"{what} would exceed the {MAX_VALUE_SIZE // 1024} KiB limit")


def _too_big_source(text: str) -> bool:
    if len(text) > MAX_SOURCE_BYTES:
        return True
    return len(text) * 4 > MAX_SOURCE_BYTES and (
        len(text.encode("utf-8", "surrogatepass")) > MAX_SOURCE_BYTES
    )


def _safe_range(*args: Any) -> range:
    try:
        rng = range(*args)
        size = len(rng)
    except OverflowError as exc:
        raise _limit(f"range() exceeds the limit of {MAX_RANGE:,} items") from exc
    if size > MAX_RANGE:
        raise _limit(f"range() of {size:,} items exceeds the limit of {MAX_RANGE:,}")
    budget = _RANGE_BUDGET.get()
    if budget is not None:
        budget[0] += size
        if budget[0] > MAX_RANGE_TOTAL:
            raise _limit(
                f"range() calls produced more than {MAX_RANGE_TOTAL:,} items in one "
                "render (nested loops?)"
            )
    return rng


_CONTAINERS = (list, tuple, dict, set, frozenset)


def _estimate(value: Any, limit: int = MAX_VALUE_SIZE) -> int:
    """Roughly ``len(str(value))`` for nested containers, without building it; stops
    counting once past ``limit`` (so a container of a million shared references to
    one big string costs a few steps, not a gigabyte)."""
    total = 0
    stack = [value]
    pop, extend = stack.pop, stack.extend
    while stack:
        item = pop()
        if isinstance(item, str):
            total += len(item) + 4
        elif isinstance(item, dict):
            total += 2
            extend(item.keys())
            extend(item.values())
        elif isinstance(item, _CONTAINERS):
            total += 2
            extend(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            total += item.bit_length() // 3 + 3
        else:
            total += 8
        if total > limit:
            break
    return total


def _check_value(value: Any, what: str) -> None:
    """Refuse to turn a container into a string that could never fit the output."""
    if isinstance(value, _CONTAINERS) and _estimate(value) > MAX_VALUE_SIZE:
        raise _limit(f"{what} would exceed the {MAX_VALUE_SIZE // 1024} KiB limit")


def _finalize(value: Any) -> Any:
    """Every ``{{ … }}`` passes here before ``str()``."""
    if value.__class__ is not str and isinstance(value, _CONTAINERS):
        _check_value(value, "printing a value")
    return value


def _check_format_widths(fmt: str, what: str) -> None:
    if _BIG_WIDTH.search(fmt):
        raise _limit(f"{what}: a width or precision of a million or more")


# ------------------------------------------------------------------------ filters


def _default_filter(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """Replace only undefined, None, "", [] and {} (0 and False are kept)."""
    if isinstance(value, Undefined) or value is None:
        return default_value
    if isinstance(value, str | list | dict | tuple) and not value:
        return default_value
    return value


def _yaml_filter(value: Any) -> str:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    _check_value(value, "yaml filter")
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


def _guard_filters(filters: dict[str, Callable[..., Any]]) -> None:
    center, indent, fmt = filters["center"], filters["indent"], filters["format"]
    replace, join = filters["replace"], filters["join"]
    batch, slice_, wordwrap = filters["batch"], filters["slice"], filters["wordwrap"]
    string, tojson, pprint = filters["string"], filters["tojson"], filters["pprint"]

    def g_string(value: Any) -> str:
        _check_value(value, "string")
        return string(value)  # type: ignore[no-any-return]

    @_pass_eval_ctx_like(tojson)
    def g_tojson(eval_ctx: Any, value: Any, indent: int | None = None) -> Any:
        _check_value(value, "tojson")
        if isinstance(indent, int):
            _check_size(indent, "tojson indent")
        return tojson(eval_ctx, value, indent)

    def g_pprint(value: Any) -> str:
        _check_value(value, "pprint")
        return pprint(value)  # type: ignore[no-any-return]

    def g_center(value: Any, width: int = 80) -> str:
        _check_size(width if isinstance(width, int) else 0, "center")
        return center(value, width)  # type: ignore[no-any-return]

    def g_indent(s: str, width: int | str = 4, *args: Any, **kwargs: Any) -> str:
        w = width if isinstance(width, int) else len(str(width))
        _check_size(w * (str(s).count("\n") + 1) + len(str(s)), "indent")
        return indent(s, width, *args, **kwargs)  # type: ignore[no-any-return]

    def g_format(value: str, *args: Any, **kwargs: Any) -> str:
        _check_format_widths(str(value), "format")
        _check_value([args, kwargs], "format")
        result = fmt(value, *args, **kwargs)
        _check_size(len(result), "format")
        return result  # type: ignore[no-any-return]

    def g_batch(value: Any, linecount: int, *args: Any) -> Any:
        _check_size(linecount if isinstance(linecount, int) else 0, "batch")
        return batch(value, linecount, *args)

    def g_slice(value: Any, slices: int, *args: Any) -> Any:
        if isinstance(slices, int) and slices > MAX_RANGE:
            raise _limit(f"slice: more than {MAX_RANGE:,} slices")
        return slice_(value, slices, *args)

    def g_wordwrap(s: str, width: int = 79, *args: Any, **kwargs: Any) -> str:
        wrapstring = kwargs.get("wrapstring", args[1] if len(args) > 1 else None)
        if wrapstring is not None and len(str(wrapstring)) > 64:
            raise _limit("wordwrap: wrapstring longer than 64 characters")
        return wordwrap(s, width, *args, **kwargs)  # type: ignore[no-any-return]

    @_pass_eval_ctx_like(replace)
    def g_replace(eval_ctx: Any, s: str, old: str, new: str, count: Any = None) -> str:
        text = str(s)
        hits = text.count(str(old)) if old != "" else len(text) + 1
        if count is not None and isinstance(count, int):
            hits = min(hits, max(count, 0))
        _check_size(len(text) + hits * max(len(str(new)) - len(str(old)), 0), "replace")
        return replace(eval_ctx, s, old, new, count)  # type: ignore[no-any-return]

    @_pass_eval_ctx_like(join)
    def g_join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None):  # type: ignore[no-untyped-def]
        items = list(value)
        _check_value(items, "join")
        _check_size(len(d) * len(items), "join")
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


# -------------------------------------------------------------------- environment


class _CodeGenerator(CodeGenerator):
    """Routes ``~`` (string concatenation) through a size check."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.dakora_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


_EXPANDING_STR_METHODS = frozenset({"ljust", "rjust", "center", "zfill"})


class _Env(ImmutableSandboxedEnvironment):
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
        )
        for name in ("lipsum", "cycler", "joiner"):
            self.globals.pop(name, None)
        self.globals["range"] = _safe_range
        _guard_filters(self.filters)
        self.filters["default"] = _default_filter
        self.filters["d"] = _default_filter
        self.filters["yaml"] = _yaml_filter

    def make_globals(self, d: Any) -> Any:
        """A plain dict instead of Jinja's ChainMap: our globals never change after
        ``__init__``, and ``new_context`` copies a dict much faster than a ChainMap
        (measurable on every render and include)."""
        return {**self.globals, **d} if d else dict(self.globals)

    def dakora_concat(self, values: Iterable[Any]) -> str:
        values = tuple(values)
        for v in values:
            if v.__class__ is not str:
                _check_value(v, "string concatenation")
        parts = [str(v) for v in values]
        _check_size(sum(map(len, parts)), "string concatenation")
        return "".join(parts)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            seq, n = (left, right) if isinstance(right, int) else (right, left)
            if isinstance(seq, str | list | tuple) and isinstance(n, int):
                _check_size(len(seq) * n, "repetition")
            elif (
                isinstance(seq, int)
                and isinstance(n, int)
                and seq.bit_length() + n.bit_length() > 4 * 65_536
            ):
                raise _limit("multiplication: the result would be too large")
        elif operator == "+":
            if isinstance(left, str | list | tuple) and isinstance(
                right, str | list | tuple
            ):
                _check_size(len(left) + len(right), "concatenation")
        elif operator == "**":
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and abs(left) > 1
                and right * max(abs(left).bit_length(), 1) > 65_536
            ):
                raise _limit("power: the result would be too large")
        elif operator == "%" and isinstance(left, str):
            _check_format_widths(left, "% formatting")
            _check_value([right], "% formatting")
            result = left % right
            _check_size(len(result), "% formatting")
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
                _check_size(
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
            _check_size(width, name)
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(size, int):
            _check_size(len(owner) + owner.count("\t") * size, name)
    elif name == "replace" and len(args) >= 2:
        old, new = str(args[0]), str(args[1])
        hits = owner.count(old) if old else len(owner) + 1
        _check_size(len(owner) + hits * max(len(new) - len(old), 0), name)
    elif name in ("format", "format_map"):
        _check_format_widths(owner, name)
        _check_value([args, kwargs], name)


class _PartsLoader(BaseLoader):
    """Resolves ``{% include "category/name" %}`` from one snapshot's parts."""

    def __init__(self, parts: PartsSource) -> None:
        self.parts = parts

    def get_source(
        self, environment: Any, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        found = (
            self.parts.get_source(template) if is_valid_part_name(template) else None
        )
        if found is None:
            raise TemplateNotFound(template)
        text, path = found
        if _too_big_source(text):
            raise _limit(
                f"part '{template}' is larger than {MAX_SOURCE_BYTES // 1024} KiB"
            )
        return text, path, _always_fresh


def _always_fresh() -> bool:
    return True


# ---------------------------------------------------------------------- analysis

_ANALYSIS_ENV = _Env()
_TARGET_NODES = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)


def _parse(source: str, where: str = "template") -> nodes.Template:
    if _too_big_source(source):
        raise _limit(f"{where} is larger than {MAX_SOURCE_BYTES // 1024} KiB")
    try:
        return _ANALYSIS_ENV.parse(source)
    except TemplateSyntaxError as exc:
        raise RenderError(
            f"template syntax error at line {exc.lineno}: {exc.message}",
            line=exc.lineno,
            source=where,
        ) from None


def _undeclared(ast: nodes.Template) -> set[str]:
    codegen = TrackingCodeGenerator(_ANALYSIS_ENV)
    codegen.visit(ast)
    return set(codegen.undeclared_identifiers)


def _bound_names(ast: nodes.Template) -> frozenset[str]:
    names = {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}
    for imp in ast.find_all(nodes.Import):
        names.add(imp.target)
    for frm in ast.find_all(nodes.FromImport):
        for item in frm.names:
            names.add(item[1] if isinstance(item, tuple) else item)
    return frozenset(names)


def _targets(ast: nodes.Template) -> list[tuple[str | None, int, bool]]:
    """(literal target or None, line, ignore missing) of includes/imports/extends."""
    out: list[tuple[str | None, int, bool]] = []
    for node in ast.find_all(_TARGET_NODES):
        tmpl = node.template
        name = (
            tmpl.value
            if isinstance(tmpl, nodes.Const) and isinstance(tmpl.value, str)
            else None
        )
        ignore = bool(getattr(node, "ignore_missing", False))
        out.append((name, node.lineno, ignore))
    out.sort(key=lambda t: t[1])
    return out


def _first_lines(ast: nodes.Template, names: set[str]) -> dict[str, int]:
    lines: dict[str, int] = {}
    for node in ast.find_all(nodes.Name):
        if (
            node.ctx == "load"
            and node.name in names
            and (node.name not in lines or node.lineno < lines[node.name])
        ):
            lines[node.name] = node.lineno
    return lines


@dataclass(frozen=True)
class _PartInfo:
    found: bool
    variables: frozenset[str] = frozenset()
    bound: frozenset[str] = frozenset()
    targets: tuple[tuple[str | None, int, bool], ...] = ()
    error: str | None = None


_PART_INFO: OrderedDict[tuple[str, str], _PartInfo] = OrderedDict()
_PART_INFO_LOCK = threading.Lock()
_PART_INFO_MAX = 4096


def _part_info(parts: PartsSource, name: str) -> _PartInfo:
    key = (parts.key, name)
    with _PART_INFO_LOCK:
        info = _PART_INFO.get(key)
        if info is not None:
            _PART_INFO.move_to_end(key)
            return info
    found = parts.get_source(name) if is_valid_part_name(name) else None
    if found is None:
        info = _PartInfo(found=False)
    else:
        text, path = found
        try:
            ast = _parse(text, path)
            info = _PartInfo(
                found=True,
                variables=frozenset(_undeclared(ast)),
                bound=_bound_names(ast),
                targets=tuple(_targets(ast)),
            )
        except RenderError as exc:
            info = _PartInfo(found=True, error=f"{path}: {exc.message}")
        except TemplateSyntaxError as exc:  # e.g. an assertion in the code generator
            info = _PartInfo(
                found=True, error=f"{path}: line {exc.lineno}: {exc.message}"
            )
    with _PART_INFO_LOCK:
        _PART_INFO[key] = info
        while len(_PART_INFO) > _PART_INFO_MAX:
            _PART_INFO.popitem(last=False)
    return info


def _analyze_ast(ast: nodes.Template, parts: PartsSource) -> TemplateInfo:
    try:
        variables = _undeclared(ast)
    except TemplateSyntaxError as exc:
        raise RenderError(
            f"template error at line {exc.lineno}: {exc.message}", line=exc.lineno
        ) from None
    variable_lines = _first_lines(ast, variables)
    includes: list[str] = []
    missing: list[tuple[str, int]] = []
    errors: list[tuple[str, int]] = []
    # DFS over the include graph: ``height`` of finished parts (longest chain below
    # and including them), ``stack`` the parts on the current path (cycle check).
    height: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str, line: int, depth: int, bound: frozenset[str]) -> int:
        chain = [*stack, name]
        if name in stack:
            cycle = chain[chain.index(name) :]
            errors.append((f"include cycle: {' -> '.join(cycle)}", line))
            return 0
        if name in height:
            if depth + height[name] - 1 > MAX_INCLUDE_DEPTH:
                errors.append(
                    (
                        f"includes nested deeper than {MAX_INCLUDE_DEPTH}: "
                        f"{' -> '.join(chain)} -> …",
                        line,
                    )
                )
            return height[name]
        if depth > MAX_INCLUDE_DEPTH:
            errors.append(
                (
                    f"includes nested deeper than {MAX_INCLUDE_DEPTH}: "
                    f"{' -> '.join(chain)}",
                    line,
                )
            )
            return 0
        info = _part_info(parts, name)
        if not info.found:
            missing.append((name, line))
            return 0
        if name not in includes:
            includes.append(name)
        if info.error is not None:
            errors.append((f"in part '{name}': {info.error}", line))
            return 1
        for var in info.variables - bound:
            if var not in variables:
                variables.add(var)
                variable_lines.setdefault(var, line)
        stack.append(name)
        below = 0
        inner_bound = bound | info.bound
        for target, _tline, ignore in info.targets:
            if target is None:
                errors.append(
                    (f"in part '{name}': include target must be a string literal", line)
                )
                continue
            if ignore and _part_info(parts, target).found is False:
                continue
            below = max(below, visit(target, line, depth + 1, inner_bound))
            if len(errors) > 50:
                break
        stack.pop()
        height[name] = below + 1
        return below + 1

    root_bound = _bound_names(ast)
    for target, line, ignore in _targets(ast):
        if target is None:
            errors.append(
                ('include target must be a string literal like "category/name"', line)
            )
            continue
        if ignore and _part_info(parts, target).found is False:
            continue
        visit(target, line, 1, root_bound)
    seen: set[tuple[str, int]] = set()
    missing_unique = [m for m in missing if not (m in seen or seen.add(m))]
    return TemplateInfo(
        variables=frozenset(variables),
        includes=tuple(includes),
        missing_includes=tuple(missing_unique),
        variable_lines=variable_lines,
        errors=tuple(dict.fromkeys(errors)),
    )


def analyze_template(source: str, parts: PartsSource) -> TemplateInfo:
    """Parse (not compile) a template and everything it includes.

    Raises ``RenderError`` (``details["line"]``) when the source itself does not
    parse or is larger than ``MAX_SOURCE_BYTES``; problems with includes are data
    (``missing_includes``, ``errors``). Loop, ``set``, macro and import names are not
    undeclared; names an including template binds count as declared in its parts.
    """
    return _analyze_ast(_parse(source), parts)


def compile_template(source: str, label: str = "template") -> None:
    """Check that a template compiles in the render sandbox; raises ``RenderError``
    (``details["line"]``) if not.

    Use this rather than a plain ``SandboxedEnvironment().compile``: Jinja folds
    constant expressions while compiling, so ``{{ 'a' * 10**10 }}`` or
    ``{{ 'a' | center(10**10) }}`` would allocate gigabytes at *check* time in a plain
    environment; here the guarded operators and filters are never folded.
    """
    ast = _parse(source, label)
    try:
        _ANALYSIS_ENV.compile(ast, filename=f"<{label}>")
    except TemplateSyntaxError as exc:
        raise _translate(exc, label) from None


# ---------------------------------------------------------------------- rendering


def _template_location(exc: BaseException) -> tuple[str | None, int | None]:
    """(file, line) of the innermost template frame of a rewritten traceback."""
    where: tuple[str | None, int | None] = (None, None)
    tb = exc.__traceback__
    while tb is not None:
        if "__jinja_exception__" in tb.tb_frame.f_globals:
            where = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return where


def _translate(exc: BaseException, label: str) -> RenderError:
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


@dataclass(frozen=True)
class _Compiled:
    templates: tuple[Template, ...]
    labels: tuple[str, ...]
    roles: tuple[str, ...] | None
    loader: _PartsLoader


class Renderer:
    """Renders prompts; one instance is shared (thread-safe) and owns the compile cache.

    Compiled templates are cached (LRU, ``max_templates`` prompts) by ``(cache_key or
    the template source, parts.key)``; pass the blob sha as ``cache_key`` on hot paths.
    """

    def __init__(self, max_templates: int = 1024, max_environments: int = 64) -> None:
        self._lock = threading.Lock()
        self._templates: OrderedDict[tuple[Any, str], _Compiled] = OrderedDict()
        self._envs: OrderedDict[str, _Env] = OrderedDict()
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
        token = _RANGE_BUDGET.set([0])
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
                    raise _output_limit()
            return RenderResult("chat", None, messages, inputs)
        finally:
            _RANGE_BUDGET.reset(token)

    def _env_for(self, parts: PartsSource) -> _Env:
        key = parts.key
        with self._lock:
            env = self._envs.get(key)
            if env is not None:
                self._envs.move_to_end(key)
                return env
        env = _Env(loader=_PartsLoader(parts))
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
            ast = _parse(source, label)
            info = _analyze_ast(ast, parts)
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
                raise _translate(exc, label) from None
            templates.append(
                env.template_class.from_code(env, code, env.make_globals(None), None)
            )
        roles = (
            tuple(m.role for m in prompt.messages)
            if prompt.messages is not None
            else None
        )
        loader = env.loader
        assert isinstance(loader, _PartsLoader)
        return _Compiled(
            tuple(templates), tuple(lbl for lbl, _ in sources), roles, loader
        )


def _output_limit() -> RenderError:
    return _limit(f"rendered output exceeds the {MAX_OUTPUT_BYTES // 1024} KiB limit")


def _run(template: Template, inputs: dict[str, Any], room: int, label: str) -> str:
    """Stream the template, stopping as soon as the output passes ``room``."""
    out: list[str] = []
    append = out.append
    size = 0
    try:
        for chunk in template.root_render_func(template.new_context(inputs)):
            size += len(chunk)
            if size > room:
                raise _output_limit()
            append(chunk)
    except Exception:
        try:
            template.environment.handle_exception()
        except BaseException as exc:  # handle_exception always raises
            raise _translate(exc, label) from None
    text = "".join(out)
    if size * 4 > room and len(text.encode("utf-8", "surrogatepass")) > room:
        raise _output_limit()
    return text
