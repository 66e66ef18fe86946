"""The render limits' own rules, at their bounds (docs/rendering.md's limits table).

Pure functions of ``registry/render/limits.py``, called directly: a counter allows
exactly its maximum and refuses one more, a size check lets a value of exactly the
limit through, the estimates count what they say. Nothing here builds a big value
(the value bombs are in test_render_limits.py, under ``run_bounded``), and nothing
depends on the clock: the budgets get a time budget no test comes near.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dakora.registry.core.errors import RenderError, RenderLimitError
from dakora.registry.render import limits
from dakora.registry.render.limits import (
    BUDGET,
    RenderBudget,
    check_result,
    check_value,
    estimate,
    is_opaque,
    safe_range,
    size_error,
    too_big_source,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "rendering.md"
FAR = 3_600_000  # ms: a time budget no test here comes near


def _row(limit: str) -> str:
    for line in DOC.read_text().splitlines():
        if line.startswith("|") and f"`{limit}`" in line:
            return line
    raise AssertionError(f"no row for {limit} in docs/rendering.md")


@pytest.mark.parametrize(
    ("limit", "value", "documented"),
    [
        ("loop_iterations", limits.MAX_LOOP_ITERATIONS, "100,000"),
        ("macro_calls", limits.MAX_MACRO_CALLS, "20,000"),
        ("includes", limits.MAX_INCLUDES, "2,000"),
        ("recursion_depth", limits.MAX_CALL_DEPTH, "100"),
        ("value_size", limits.MAX_VALUE_SIZE, "1 MiB"),
        ("output_bytes", limits.MAX_OUTPUT_BYTES, "1 MiB"),
        ("source_bytes", limits.MAX_SOURCE_BYTES, "256 KiB"),
    ],
)
def test_the_enforced_limits_are_the_documented_ones(
    limit: str, value: int, documented: str
) -> None:
    cells = [c.strip() for c in _row(limit).split("|")]
    assert documented in cells
    number, _, unit = documented.partition(" ")
    scale = {"": 1, "KiB": 1024, "MiB": 1024 * 1024}[unit]
    assert value == int(number.replace(",", "")) * scale


def test_range_limits_and_the_other_documented_numbers() -> None:
    assert "| 10,000 / 100,000 |" in _row("range_items")
    assert (limits.MAX_RANGE, limits.MAX_RANGE_TOTAL) == (10_000, 100_000)
    assert "| 100,000 / 64 |" in _row("wrap_lines")
    assert (limits.MAX_WRAP_LINES, limits.MAX_JSON_INDENT) == (100_000, 64)
    # the include graph's depth (registry/render/includes.py)
    assert limits.MAX_INCLUDE_DEPTH == 10


def _limit_of(exc: pytest.ExceptionInfo[RenderLimitError]) -> tuple[str, Any]:
    return exc.value.details["limit"], exc.value.details.get("max")


@pytest.mark.parametrize(
    ("count", "limit", "maximum"),
    [
        ("loop_iteration", "loop_iterations", limits.MAX_LOOP_ITERATIONS),
        ("macro_call", "macro_calls", limits.MAX_MACRO_CALLS),
        ("include", "includes", limits.MAX_INCLUDES),
    ],
)
def test_a_counter_allows_exactly_its_maximum(
    count: str, limit: str, maximum: int
) -> None:
    budget = RenderBudget(timeout_ms=FAR)
    step = getattr(budget, count)
    for _ in range(maximum):
        step()
    with pytest.raises(RenderLimitError) as exc:
        step()
    assert _limit_of(exc) == (limit, maximum)
    assert f"{maximum:,}" in exc.value.message


def test_a_fresh_budget_counts_from_zero_and_has_its_deadline_ahead() -> None:
    budget = RenderBudget(timeout_ms=FAR)
    assert (budget.iterations, budget.macro_calls, budget.includes) == (0, 0, 0)
    assert (budget.depth, budget.range_items) == (0, 0)
    budget.tick()  # far from the deadline: nothing raised


def test_a_passed_deadline_is_a_timeout_of_that_budget() -> None:
    budget = RenderBudget(timeout_ms=5, deadline=1.0)  # monotonic() is far past 1.0
    for step in (budget.tick, budget.loop_iteration, budget.include):
        with pytest.raises(RenderLimitError) as exc:
            step()
        assert _limit_of(exc) == ("timeout_ms", 5)
        assert "5 ms" in exc.value.message


def test_one_range_may_have_exactly_the_maximum_items() -> None:
    assert len(safe_range(limits.MAX_RANGE)) == limits.MAX_RANGE
    with pytest.raises(RenderLimitError) as exc:
        safe_range(limits.MAX_RANGE + 1)
    assert _limit_of(exc) == ("range_items", limits.MAX_RANGE)
    with pytest.raises(RenderLimitError) as exc:
        safe_range(10**30)  # len() overflows: still the same limit
    assert _limit_of(exc) == ("range_items", limits.MAX_RANGE)


def test_all_ranges_of_a_render_may_add_up_to_exactly_the_total() -> None:
    budget = RenderBudget(timeout_ms=FAR)
    token = BUDGET.set(budget)
    try:
        for _ in range(limits.MAX_RANGE_TOTAL // limits.MAX_RANGE):
            safe_range(limits.MAX_RANGE)
        assert budget.range_items == limits.MAX_RANGE_TOTAL
        with pytest.raises(RenderLimitError) as exc:
            safe_range(1)
        assert _limit_of(exc) == ("range_total", limits.MAX_RANGE_TOTAL)
    finally:
        BUDGET.reset(token)
    # without a budget (compiling, analysis) nothing is counted
    safe_range(limits.MAX_RANGE)


def test_a_result_of_exactly_the_value_limit_is_allowed() -> None:
    for cls in (str, bytes, list):
        at = cls("x" * limits.MAX_VALUE_SIZE) if cls is str else None
        if cls is bytes:
            at = b"x" * limits.MAX_VALUE_SIZE
        if cls is list:
            at = [0] * limits.MAX_VALUE_SIZE
        assert check_result(at, "a call") is at
        over = at + at[:1]  # type: ignore[operator]
        with pytest.raises(RenderLimitError) as exc:
            check_result(over, "a call")
        assert _limit_of(exc) == ("value_size", limits.MAX_VALUE_SIZE)


def test_the_value_limit_message_names_it_in_kib() -> None:
    err = size_error("repetition")
    assert err.message == "repetition would exceed the 1024 KiB value limit"
    assert err.details == {"limit": "value_size", "max": limits.MAX_VALUE_SIZE}


def test_a_source_may_have_exactly_the_maximum_bytes() -> None:
    n = limits.MAX_SOURCE_BYTES
    assert not too_big_source("x" * n)
    assert too_big_source("x" * (n + 1))
    # 4-byte characters: a quarter as many characters fill it
    assert not too_big_source("😀" * (n // 4))
    assert too_big_source("😀" * (n // 4 + 1))
    # 3-byte characters: more than a quarter of the limit in characters, over in bytes
    assert too_big_source("€" * (n // 3 + 1))
    assert not too_big_source("€" * (n // 3))


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("abc", 3 + 4),  # the characters and the quotes/escapes a repr may add
        (b"abc", 3 + 4),
        (True, 5),
        (None, 5),
        (0, 3),
        (2**30, 31 // 3 + 3),
        (1.5, 32),
        ([], 2),
        ({}, 2),
        (["ab", "c"], 2 + 6 + 5),
        ({"ab": 1}, 2 + 6 + 3),
    ],
)
def test_estimate_counts_each_kind_of_value(value: Any, size: int) -> None:
    assert estimate(value) == size


def test_estimate_adds_the_indent_per_nesting_level() -> None:
    # the outer list at depth 0, its items at depth 1, the inner items at depth 2
    assert estimate([["a"]], indent=2) == 2 + (2 + 2) + (5 + 4)
    assert estimate({"k": ["v"]}, indent=3) == 2 + (5 + 3) + (2 + 3) + (5 + 6)


def test_estimate_stops_just_past_its_limit() -> None:
    assert estimate("x" * 20, limit=10) == 11
    assert estimate(["x" * 6, "y" * 6], limit=15) == 16
    assert estimate("x" * 6, limit=10) == 10


def test_printing_a_container_of_exactly_the_limit_is_allowed() -> None:
    # one string of limit - 4 characters estimates at exactly the limit
    check_value(["x" * (limits.MAX_VALUE_SIZE - 4 - 2)], "printing a value")
    with pytest.raises(RenderLimitError):
        check_value(["x" * (limits.MAX_VALUE_SIZE - 4 - 1)], "printing a value")


class _OnlyStr:
    def __str__(self) -> str:
        return "only str"


class _OnlyRepr:
    def __repr__(self) -> str:
        return "only repr"


class _Neither:
    pass


def test_an_object_with_its_own_text_is_not_opaque() -> None:
    assert not is_opaque(_OnlyStr())
    assert not is_opaque(_OnlyRepr())
    assert is_opaque(_Neither())
    assert is_opaque(len) and is_opaque("".upper)
    assert not is_opaque("x") and not is_opaque([len])
    with pytest.raises(RenderError, match="not a value"):
        check_value(_Neither(), "printing a value")
    check_value(_OnlyStr(), "printing a value")


def test_a_str_subclass_is_still_checked_as_a_value() -> None:
    class Big(str):
        pass

    check_value(Big("x"), "printing a value")  # a plain value: allowed


def test_the_source_limit_message_names_it_in_kib() -> None:
    err = limits.source_error("part 'p'")
    assert err.message == "part 'p' is larger than 256 KiB"
    assert err.details == {"limit": "source_bytes", "max": limits.MAX_SOURCE_BYTES}


def test_a_tuple_of_more_than_the_value_limit_is_refused() -> None:
    at = (0,) * limits.MAX_VALUE_SIZE
    assert check_result(at, "a call") is at
    with pytest.raises(RenderLimitError):
        check_result(at + (0,), "a call")


def test_estimate_goes_on_after_a_nested_container_ends() -> None:
    assert estimate([["a"], "bbbb"]) == 2 + 2 + 5 + 8
    assert estimate([{"k": 1}, "bbbb"]) == 2 + 2 + 5 + 3 + 8


class _EqualToAll:
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__

    def __str__(self) -> str:
        return "equal"


def test_estimate_counts_every_item_whatever_its_equality() -> None:
    # an item that claims to equal everything is not the end of its container
    assert estimate([_EqualToAll(), "x" * 100]) == 2 + 32 + 104


def test_an_opaque_value_is_named_in_the_error() -> None:
    assert "x: '_Neither' is a " in str(limits.opaque_error(_Neither(), "x"))
    err = limits.opaque_error(len, "printing a value")
    assert "'len' is a builtin function or method" in str(err)


def test_the_deadline_is_the_time_budget_after_the_start() -> None:
    from time import monotonic

    odd = FAR + 500  # not whole seconds
    before = monotonic()
    budget = RenderBudget(timeout_ms=odd)
    after = monotonic()
    # bracketed by two readings of the same clock: no time is measured or waited for
    assert before + odd / 1000 <= budget.deadline <= after + odd / 1000
    assert RenderBudget(timeout_ms=FAR, deadline=5.0).deadline == 5.0


def test_estimate_indents_nested_dicts_by_their_depth() -> None:
    # outer {} at 0, "a" and the inner {} at 1, "b" and 1 at 2 (indent i each)
    for i in (0, 1, 3):
        assert estimate({"a": {"b": 1}}, indent=i) == 17 + 6 * i


def test_the_output_limit_message_names_it_in_kib() -> None:
    err = limits.output_limit_error()
    assert err.message == "rendered output exceeds the 1024 KiB limit"
    assert err.details == {"limit": "output_bytes", "max": limits.MAX_OUTPUT_BYTES}


def test_check_size_allows_exactly_the_value_limit() -> None:
    limits.check_size(limits.MAX_VALUE_SIZE, "repetition")
    with pytest.raises(RenderLimitError) as exc:
        limits.check_size(limits.MAX_VALUE_SIZE + 1, "repetition")
    assert _limit_of(exc) == ("value_size", limits.MAX_VALUE_SIZE)
