"""The sandbox's operator guards at their bounds (registry/render/sandbox.py
``SandboxEnv.call_binop``; docs/rendering.md's limits table).

Called directly on a real ``SandboxEnv``: an operator whose result would be exactly the
value limit is allowed and computed, one more is refused before anything is built.
The big-value cases that templates reach are in test_render_limits.py, under
``run_bounded``; here the largest value built is the limit itself (1 MiB).
"""

from __future__ import annotations

from typing import Any

import pytest

from dakora.registry.core.errors import RenderLimitError
from dakora.registry.render import sandbox
from dakora.registry.render.limits import (
    BUDGET,
    MAX_CALL_DEPTH,
    MAX_VALUE_SIZE,
    RenderBudget,
)
from dakora.registry.render.renderer import Renderer
from dakora.registry.render.sandbox import SandboxEnv
from tests.fixtures.bounded import Outcome, render_outcome, run_bounded

ENV = SandboxEnv()
HALF = MAX_VALUE_SIZE // 2


def binop(op: str, left: Any, right: Any) -> Any:
    return ENV.call_binop(None, op, left, right)  # type: ignore[arg-type]


def refused(op: str, left: Any, right: Any) -> str:
    with pytest.raises(RenderLimitError) as exc:
        binop(op, left, right)
    assert exc.value.details["limit"] == "value_size"
    return exc.value.message


@pytest.mark.parametrize("seq", ["ab", b"ab", ["a", "b"], ("a", "b")])
def test_repetition_up_to_exactly_the_value_limit(seq: Any) -> None:
    assert len(binop("*", seq, HALF)) == MAX_VALUE_SIZE
    assert len(binop("*", HALF, seq)) == MAX_VALUE_SIZE  # the count on the left
    assert "repetition" in refused("*", seq, HALF + 1)
    assert "repetition" in refused("*", HALF + 1, seq)


def test_repetition_of_a_bytearray_is_bounded_too() -> None:
    assert "repetition" in refused("*", bytearray(b"ab"), HALF + 1)


def test_integer_multiplication_up_to_its_bit_bound() -> None:
    a, b = 1 << 131_071, 1 << 131_071  # 131,072 bits each: 262,144 = the bound
    assert binop("*", a, b) == a * b
    assert binop("*", 6, 7) == 42
    assert "too large" in refused("*", a << 1, b)
    assert "too large" in refused("*", a, b << 1)


def test_concatenation_up_to_exactly_the_value_limit() -> None:
    left = "x" * (MAX_VALUE_SIZE - 2)
    assert len(binop("+", left, "yy")) == MAX_VALUE_SIZE
    assert "concatenation" in refused("+", left, "yyy")
    assert "concatenation" in refused("+", [0] * (MAX_VALUE_SIZE - 2), [1, 2, 3])
    assert binop("+", 2, 3) == 5
    assert binop("+", "a", "b") == "ab"


def test_power_up_to_its_bit_bound() -> None:
    # 2 has 2 bits: 2 ** 32,768 is at the bound (65,536), 2 ** 32,769 over it
    assert binop("**", 2, 32_768) == 2**32_768
    assert binop("**", -2, 32_768) == 2**32_768
    assert "too large" in refused("**", 2, 32_769)
    assert "too large" in refused("**", -2, 32_769)
    assert "too large" in refused("**", 3, 32_769)
    # 1 and -1 (and 0) never grow, whatever the exponent
    assert binop("**", 1, 10**9) == 1
    assert binop("**", -1, 10**9 + 1) == -1
    assert binop("**", 0, 10**9) == 0
    assert binop("**", 2.0, 3) == 8.0


def test_percent_formatting_is_bounded_and_computed() -> None:
    assert binop("%", "%s-%d", ("a", 3)) == "a-3"
    assert binop("%", b"%s!", (b"x",)) == b"x!"
    assert binop("%", 7, 4) == 3  # numbers: the remainder
    with pytest.raises(RenderLimitError):
        binop("%", "%2000000s", "x")
    with pytest.raises(RenderLimitError):
        binop("%", b"%2000000s", b"x")


def test_other_operators_are_the_plain_ones() -> None:
    assert binop("-", 5, 3) == 2
    assert binop("//", 7, 2) == 3


def test_concatenating_a_sequence_with_a_non_sequence_is_python_s_own_error() -> None:
    with pytest.raises(TypeError, match="can only concatenate str"):
        binop("+", "a", 1)
    with pytest.raises(TypeError, match="can only concatenate list"):
        binop("+", [1], 2)


def test_format_map_takes_exactly_one_mapping() -> None:
    fmt = ENV.wrap_str_format("{a}-{b}".format_map)
    assert fmt({"a": 1, "b": 2}) == "1-2"
    with pytest.raises(TypeError, match=r"exactly one argument \(0 given\)"):
        fmt()
    with pytest.raises(TypeError, match=r"exactly one argument \(2 given\)"):
        fmt({}, {})
    with pytest.raises(TypeError, match="no keyword arguments"):
        fmt(a=1)


@pytest.mark.parametrize(
    "step",
    [
        lambda: ENV.dakora_concat(["a", "b"]),
        lambda: ENV.call_binop(None, "+", 1, 2),  # type: ignore[arg-type]
        lambda: sandbox._finalize("x"),
        ENV.dakora_loop_tick,
        ENV.dakora_include_tick,
    ],
)
def test_every_guard_checks_the_render_s_deadline(step: Any) -> None:
    budget = RenderBudget(timeout_ms=7, deadline=1.0)  # monotonic() is far past it
    token = BUDGET.set(budget)
    try:
        with pytest.raises(RenderLimitError) as exc:
            step()
        assert exc.value.details["limit"] == "timeout_ms"
    finally:
        BUDGET.reset(token)
    step()  # outside a render (no budget): nothing is checked


@pytest.mark.parametrize(("depth", "limit"), [(100, None), (101, "recursion_depth")])
def test_macro_calls_may_nest_exactly_the_maximum_deep(
    depth: int, limit: str | None
) -> None:
    assert MAX_CALL_DEPTH == 100
    source = (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{% endif %}.{% endmacro %}"
        f"{{{{ f({depth - 1}) }}}}"
    )
    outcome: Outcome = run_bounded(render_outcome, Renderer(), source)
    assert outcome.limit == limit, outcome
    if limit is None:
        assert outcome.text == "." * depth


def test_macro_calls_that_returned_do_not_lend_depth_to_later_ones() -> None:
    source = (
        "{% macro g() %}{% endmacro %}"
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{% endif %}.{% endmacro %}"
        "{% for i in range(60) %}{{ g() }}{% endfor %}{{ f(100) }}"
    )
    outcome: Outcome = run_bounded(render_outcome, Renderer(), source)
    assert outcome.limit == "recursion_depth", outcome


@pytest.mark.parametrize("name", ["lipsum", "cycler", "joiner"])
def test_jinja_s_object_globals_are_not_there(name: str) -> None:
    assert name not in SandboxEnv().globals
    outcome = render_outcome(Renderer(), "{{ " + name + " }}")
    assert outcome.error == "RenderError", outcome
    assert f"undefined variable '{name}'" in (outcome.message or "")


def test_power_bound_is_exponent_times_bits() -> None:
    big = 1 << 65_536  # 65,537 bits: even to the first power, over the bound
    assert "too large" in refused("**", big, 1)
    assert binop("**", big >> 1, 1) == big >> 1  # 65,536 bits: at the bound


# Jinja's optimizer (``optimized=True``, Jinja's default) folds constant
# sub-expressions while compiling: ``''.upper ~ ''`` below ``or``, a filter, a list or
# a slice would be joined by Jinja's own ``Concat.as_const`` (``str()`` of each part)
# instead of ``dakora_concat``, and the method's text — a memory address — would be
# printed; the filter would run outside the render's budget. ``SandboxEnv`` compiles
# unoptimized, so every one of them reaches the guards at render time.
@pytest.mark.parametrize(
    "source",
    [
        "{{ (''.upper ~ '') or 1 }}",
        "{{ (''.upper ~ '')|trim }}",
        "{{ [''.upper ~ ''][0] }}",
        "{{ (''.upper ~ '')[:60] }}",
    ],
)
def test_no_constant_is_folded_past_the_guards_at_compile_time(source: str) -> None:
    from dakora.registry.core.errors import RenderError
    from dakora.registry.core.model import Prompt
    from dakora.registry.load.parts import MemoryParts

    prompt = Prompt(id="t", version="1.0.0", template=source)
    with pytest.raises(RenderError) as info:
        Renderer().render(prompt, {}, MemoryParts({}))
    assert "string concatenation: 'upper' is a builtin function" in info.value.message
    assert "built-in method" not in info.value.message
