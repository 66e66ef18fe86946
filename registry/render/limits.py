"""The render limits (docs/design.md §4) and the guards that enforce them.

Three kinds of limit, each breach a ``RenderLimitError`` (422 ``render_limit``) whose
``details["limit"]`` names the limit and ``details["max"]`` its value:

- **time**: one render runs at most ``timeout_ms`` (``DAKORA_RENDER_TIMEOUT_MS``,
  default ``DEFAULT_TIMEOUT_MS``), checked cooperatively at every loop iteration,
  call, filter, operator and include (``RenderBudget.tick``);
- **work**: loop iterations ≤ ``MAX_LOOP_ITERATIONS``, macro (and recursive loop)
  calls ≤ ``MAX_MACRO_CALLS``, includes ≤ ``MAX_INCLUDES``, nested calls ≤
  ``MAX_CALL_DEPTH``, one ``range`` ≤ ``MAX_RANGE`` items and all of one render's
  ranges ≤ ``MAX_RANGE_TOTAL``;
- **size**: output ≤ ``MAX_OUTPUT_BYTES``, template/part source ≤ ``MAX_SOURCE_BYTES``,
  and no value bigger than ``MAX_VALUE_SIZE`` (characters, bytes or items) built by an
  operator, method, filter or format spec — refused from its estimated size *before*
  it is built (``check_size``, ``check_value``; format specs: ``formats.py``).

The budget of the render running on this thread lives in ``BUDGET`` (a ContextVar the
renderer sets); without one (compiling, analysis) nothing is counted.
"""

from __future__ import annotations

import datetime
import types
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from itertools import chain
from time import monotonic
from typing import Any

from dakora.registry.core import DEFAULT_RENDER_TIMEOUT_MS, RenderLimitError

MAX_OUTPUT_BYTES = 1024 * 1024
MAX_SOURCE_BYTES = 256 * 1024
MAX_RANGE = 10_000
MAX_INCLUDE_DEPTH = 10
# Sum of every range() of one render (nested loops), and the largest value (string,
# bytes or container) an expression may build: anything bigger could never fit the
# output.
MAX_RANGE_TOTAL = 10 * MAX_RANGE
MAX_VALUE_SIZE = MAX_OUTPUT_BYTES

DEFAULT_TIMEOUT_MS = DEFAULT_RENDER_TIMEOUT_MS  # DAKORA_RENDER_TIMEOUT_MS
MAX_LOOP_ITERATIONS = 100_000
MAX_MACRO_CALLS = 20_000
MAX_INCLUDES = 2_000
MAX_CALL_DEPTH = 100
MAX_WRAP_LINES = 100_000  # wordwrap
MAX_JSON_INDENT = 64  # tojson(indent)


def limit_error(
    message: str, limit: str, maximum: int | None = None
) -> RenderLimitError:
    details: dict[str, Any] = {"limit": limit}
    if maximum is not None:
        details["max"] = maximum
    return RenderLimitError(message, **details)


def size_error(what: str) -> RenderLimitError:
    return limit_error(
        f"{what} would exceed the {MAX_VALUE_SIZE // 1024} KiB value limit",
        "value_size",
        MAX_VALUE_SIZE,
    )


def check_size(size: int, what: str) -> None:
    if size > MAX_VALUE_SIZE:
        raise size_error(what)


# -- the time and work budget of one render -----------------------------------------


@dataclass
class RenderBudget:
    """What one render may still spend. ``tick`` checks the deadline; the counters
    are checked by the sandbox where the work happens."""

    timeout_ms: int
    deadline: float = 0.0
    iterations: int = 0
    macro_calls: int = 0
    includes: int = 0
    depth: int = 0
    range_items: int = 0

    def __post_init__(self) -> None:
        if not self.deadline:
            self.deadline = monotonic() + self.timeout_ms / 1000

    def tick(self) -> None:
        if monotonic() > self.deadline:
            raise timeout_error(self.timeout_ms)

    def loop_iteration(self) -> None:
        self.iterations += 1
        if self.iterations > MAX_LOOP_ITERATIONS:
            raise limit_error(
                f"more than {MAX_LOOP_ITERATIONS:,} loop iterations in one render",
                "loop_iterations",
                MAX_LOOP_ITERATIONS,
            )
        if monotonic() > self.deadline:
            raise timeout_error(self.timeout_ms)

    def macro_call(self) -> None:
        self.macro_calls += 1
        if self.macro_calls > MAX_MACRO_CALLS:
            raise limit_error(
                f"more than {MAX_MACRO_CALLS:,} macro calls in one render",
                "macro_calls",
                MAX_MACRO_CALLS,
            )

    def include(self) -> None:
        self.includes += 1
        if self.includes > MAX_INCLUDES:
            raise limit_error(
                f"more than {MAX_INCLUDES:,} includes in one render",
                "includes",
                MAX_INCLUDES,
            )
        if monotonic() > self.deadline:
            raise timeout_error(self.timeout_ms)


def timeout_error(timeout_ms: int) -> RenderLimitError:
    return limit_error(
        f"the render took longer than its time budget of {timeout_ms:,} ms "
        "(DAKORA_RENDER_TIMEOUT_MS)",
        "timeout_ms",
        timeout_ms,
    )


def depth_error() -> RenderLimitError:
    return limit_error(
        f"recursion deeper than {MAX_CALL_DEPTH} nested calls (a recursive macro or loop?)",
        "recursion_depth",
        MAX_CALL_DEPTH,
    )


def memory_error() -> RenderLimitError:
    return limit_error("the render ran out of memory", "memory")


BUDGET: ContextVar[RenderBudget | None] = ContextVar(
    "dakora_render_budget", default=None
)


def too_big_source(text: str) -> bool:
    if len(text) > MAX_SOURCE_BYTES:
        return True
    return len(text) * 4 > MAX_SOURCE_BYTES and (
        len(text.encode("utf-8", "surrogatepass")) > MAX_SOURCE_BYTES
    )


def source_error(what: str) -> RenderLimitError:
    return limit_error(
        f"{what} is larger than {MAX_SOURCE_BYTES // 1024} KiB",
        "source_bytes",
        MAX_SOURCE_BYTES,
    )


def safe_range(*args: Any) -> range:
    try:
        rng = range(*args)
        size = len(rng)
    except OverflowError as exc:
        raise limit_error(
            f"range() exceeds the limit of {MAX_RANGE:,} items",
            "range_items",
            MAX_RANGE,
        ) from exc
    if size > MAX_RANGE:
        raise limit_error(
            f"range() of {size:,} items exceeds the limit of {MAX_RANGE:,}",
            "range_items",
            MAX_RANGE,
        )
    budget = BUDGET.get()
    if budget is not None:
        budget.range_items += size
        if budget.range_items > MAX_RANGE_TOTAL:
            raise limit_error(
                f"range() calls produced more than {MAX_RANGE_TOTAL:,} items in one "
                "render (nested loops?)",
                "range_total",
                MAX_RANGE_TOTAL,
            )
    return rng


# -- sizes of values, estimated without building them ----------------------------------

CONTAINERS = (list, tuple, dict, set, frozenset)
_CONTAINERS = CONTAINERS
_SCALARS = (str, int, float, bool, type(None), bytes, datetime.date, datetime.time)
# Values whose text is a memory address (``<built-in method format_map of str object
# at 0x…>``): never printed.
_OPAQUE = (
    types.BuiltinFunctionType,
    types.BuiltinMethodType,
    types.FunctionType,
    types.MethodType,
    types.MethodWrapperType,
    types.WrapperDescriptorType,
    types.MethodDescriptorType,
    types.ClassMethodDescriptorType,
    types.GetSetDescriptorType,
    types.MemberDescriptorType,
    types.ModuleType,
    types.CodeType,
    types.FrameType,
    types.GeneratorType,
)


def is_opaque(value: Any) -> bool:
    """A function, method or other object whose text would be a memory address."""
    if isinstance(value, _SCALARS + _CONTAINERS):
        return False
    if isinstance(value, _OPAQUE):
        return True
    cls: Any = type(value)
    return bool(cls.__repr__ is object.__repr__ and cls.__str__ is object.__str__)


def opaque_error(value: Any, what: str) -> Exception:
    from dakora.registry.core import RenderError

    name = getattr(value, "__name__", None) or type(value).__name__
    return RenderError(
        f"{what}: '{name}' is a {type(value).__name__.replace('_', ' ')}, not a value "
        "(call it, or use x['name'] for a key of that name)"
    )


def estimate(
    value: Any, limit: int = MAX_VALUE_SIZE, indent: int = 0, what: str = "a value"
) -> int:
    """Roughly ``len(str(value))`` for nested containers, without building it (plus
    ``indent`` characters per nesting level and item, for indented JSON/YAML/pprint);
    stops counting once past ``limit`` (so a container of a million shared references
    to one big string costs a few steps, not a gigabyte). Refuses opaque values
    (functions, methods) anywhere inside."""
    total = 0
    # one iterator per open container: memory grows with the nesting, not the size
    stack: list[tuple[Iterator[Any], int]] = [(iter((value,)), 0)]
    while stack:
        items, depth = stack[-1]
        item = next(items, _END)
        if item is _END:
            stack.pop()
            continue
        total += depth * indent
        if isinstance(item, str | bytes):
            total += len(item) + 4
        elif isinstance(item, dict):
            total += 2
            stack.append((chain.from_iterable(item.items()), depth + 1))
        elif isinstance(item, _CONTAINERS):
            total += 2
            stack.append((iter(item), depth + 1))
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 3
        elif is_opaque(item):
            raise opaque_error(item, f"printing {what}")
        else:
            total += 32
        if total > limit:
            return limit + 1
    return total


_END = object()


def check_value(value: Any, what: str, indent: int = 0) -> None:
    """Refuse to turn a value into a string that could never fit the output (or that
    would show a memory address)."""
    if value.__class__ is str:
        return
    if isinstance(value, _CONTAINERS):
        if estimate(value, indent=indent, what=what) > MAX_VALUE_SIZE:
            raise size_error(what)
    elif is_opaque(value):
        raise opaque_error(value, what)


def check_result(value: Any, what: str) -> Any:
    """After an operation: its result is not bigger than a value may be."""
    cls = value.__class__
    if (
        cls is str or cls is bytes or cls is list or cls is tuple or cls is dict
    ) and len(value) > MAX_VALUE_SIZE:
        raise size_error(what)
    return value


def finalize(value: Any) -> Any:
    """Every ``{{ … }}`` passes here before ``str()``."""
    if value.__class__ is not str:
        check_value(value, "printing a value")
    return value


def output_limit_error() -> RenderLimitError:
    return limit_error(
        f"rendered output exceeds the {MAX_OUTPUT_BYTES // 1024} KiB limit",
        "output_bytes",
        MAX_OUTPUT_BYTES,
    )
