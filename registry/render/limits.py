"""The render limits (docs/design.md §4) and the guards that enforce them.

Output ≤ ``MAX_OUTPUT_BYTES``, template/part source ≤ ``MAX_SOURCE_BYTES``, one
``range`` ≤ ``MAX_RANGE`` items and all of one render's ranges ≤ ``MAX_RANGE_TOTAL``
(a per-render budget in ``RANGE_BUDGET``), and no value bigger than
``MAX_VALUE_SIZE`` built by an expression. Every breach is a ``RenderError`` with
``limit=True``. Pure functions: the sandbox and the filters call them.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from typing import Any

from dakora.registry.core import RenderError

MAX_OUTPUT_BYTES = 1024 * 1024
MAX_SOURCE_BYTES = 256 * 1024
MAX_RANGE = 10_000
MAX_INCLUDE_DEPTH = 10
# Sum of every range() of one render (nested loops), and the largest value (string
# or list) an expression may build: anything bigger could never fit the output.
MAX_RANGE_TOTAL = 10 * MAX_RANGE
MAX_VALUE_SIZE = MAX_OUTPUT_BYTES

_BIG_WIDTH = re.compile(r"[0-9]{7,}")

RANGE_BUDGET: ContextVar[list[int] | None] = ContextVar(
    "dakora_range_budget", default=None
)


def limit_error(message: str) -> RenderError:
    return RenderError(message, limit=True)


def check_size(size: int, what: str) -> None:
    if size > MAX_VALUE_SIZE:
        raise limit_error(f"{what} would exceed the {MAX_VALUE_SIZE // 1024} KiB limit")


def too_big_source(text: str) -> bool:
    if len(text) > MAX_SOURCE_BYTES:
        return True
    return len(text) * 4 > MAX_SOURCE_BYTES and (
        len(text.encode("utf-8", "surrogatepass")) > MAX_SOURCE_BYTES
    )


def safe_range(*args: Any) -> range:
    try:
        rng = range(*args)
        size = len(rng)
    except OverflowError as exc:
        raise limit_error(f"range() exceeds the limit of {MAX_RANGE:,} items") from exc
    if size > MAX_RANGE:
        raise limit_error(
            f"range() of {size:,} items exceeds the limit of {MAX_RANGE:,}"
        )
    budget = RANGE_BUDGET.get()
    if budget is not None:
        budget[0] += size
        if budget[0] > MAX_RANGE_TOTAL:
            raise limit_error(
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


def check_value(value: Any, what: str) -> None:
    """Refuse to turn a container into a string that could never fit the output."""
    if isinstance(value, _CONTAINERS) and _estimate(value) > MAX_VALUE_SIZE:
        raise limit_error(f"{what} would exceed the {MAX_VALUE_SIZE // 1024} KiB limit")


def finalize(value: Any) -> Any:
    """Every ``{{ … }}`` passes here before ``str()``."""
    if value.__class__ is not str and isinstance(value, _CONTAINERS):
        check_value(value, "printing a value")
    return value


def check_format_widths(fmt: str, what: str) -> None:
    if _BIG_WIDTH.search(fmt):
        raise limit_error(f"{what}: a width or precision of a million or more")


def output_limit_error() -> RenderError:
    return limit_error(
        f"rendered output exceeds the {MAX_OUTPUT_BYTES // 1024} KiB limit"
    )
