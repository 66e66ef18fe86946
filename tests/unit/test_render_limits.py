"""The render limits (issue 10 findings 1, 2, 10): sizes bounded before a value is
built, the work and time budget, the allow-list of what templates may call, and
functions/methods never printed.

Every test that guards a resource limit runs in a child process with a memory and
time bound of its own (``tests/fixtures/bounded.py``, issue 14): with the protection
removed it fails at once ("allocated more than 64 MiB", "did not finish within 20 s"),
it never takes the machine down.
"""

from __future__ import annotations

from typing import Any

import pytest

from dakora.registry.core.errors import RenderError, RenderLimitError
from dakora.registry.core.model import Prompt
from dakora.registry.load.parts import MemoryParts
from dakora.registry.render import allowlist
from dakora.registry.render.formats import format_spec_size, percent_format_size
from dakora.registry.render.limits import (
    DEFAULT_TIMEOUT_MS,
    MAX_CALL_DEPTH,
    MAX_INCLUDES,
    MAX_LOOP_ITERATIONS,
    MAX_MACRO_CALLS,
    MAX_VALUE_SIZE,
    estimate,
)
from dakora.registry.render.renderer import Renderer
from tests.fixtures.bounded import Outcome, render_outcome, run_bounded

FANOUT = MemoryParts(
    {
        # 8 includes per level, 4 levels: 585 includes per include of h/l1
        "h/l1.txt": '{% include "h/l2" %}' * 8,
        "h/l2.txt": '{% include "h/l3" %}' * 8,
        "h/l3.txt": '{% include "h/l4" %}' * 8,
        "h/l4.txt": "leaf",
        "m/macros.j2": "{% macro twice(x) %}{{ x }}{{ x }}{% endmacro %}",
    }
)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def bounded(
    renderer: Renderer,
    source: str,
    inputs: dict[str, Any] | None = None,
    parts: MemoryParts = FANOUT,
) -> Outcome:
    outcome: Outcome = run_bounded(render_outcome, renderer, source, inputs, parts)
    return outcome


def limit_of(renderer: Renderer, source: str, **inputs: Any) -> str | None:
    outcome = bounded(renderer, source, inputs)
    assert outcome.error is not None, f"rendered {len(outcome.text or '')} chars"
    return outcome.limit


# ------------------------------------------------------- sizes (finding 2)

VALUE_BOMBS = [
    # operators
    "{{ 'a' * 10**9 }}",
    "{{ 10**9 * 'a' }}",
    "{{ [1] * 10**9 }}",
    "{{ (1,) * 10**9 }}",
    "{{ ['x'] * (2 * 10**6) }}",
    "{{ 10 ** 100000 }}",
    "{% set x = 10 ** 15000 %}{{ x * x * x * x * x * x * x * x * x }}",
    "{% set a = 'x' * 1000000 %}{{ a ~ a }}",
    "{% set a = 'x' * 1000000 %}{{ a + a }}",
    "{% set a = 'x' * 100000 %}{{ (a ~ ',') * 20 }}",
    "{% set a = ['x'] * 1000000 %}{{ (a + a) | length }}",
    # % formatting: literal, '*' and %(key) widths and precisions
    "{{ '%999999999d' % 1 }}",
    "{{ '%*s' % (1000000000, '') }}",
    "{{ '%-*d' % (1000000000, 1) }}",
    "{{ '%.*f' % (1000000000, 1.0) }}",
    "{{ '%(a)999999999s' % {'a': 1} }}",
    "{% set a = 'x' * 500000 %}{{ '%s%s%s' % (a, a, a) }}",
    "{% set a = 'x' * 500000 %}{{ '%(a)s%(a)s%(a)s' % {'a': a} }}",
    "{{ '%.1000000000f' % 1.0 }}",
    # str.format / format_map: literal and nested widths, repeated fields
    "{{ '{:>999999999}'.format(1) }}",
    "{{ '{:{w}}'.format('', w=1000000000) }}",
    "{{ '{:>{w}}'.format('', w=1000000000) }}",
    "{{ '{0:{1}}'.format('', 1000000000) }}",
    "{{ '{:.{p}f}'.format(1.0, p=1000000000) }}",
    "{{ '{a:{w}}'.format_map({'a': '', 'w': 1000000000}) }}",
    "{% set a = 'x' * 500000 %}{{ '{0}{0}{0}'.format(a) }}",
    "{% set f = '{:{w}}'.format %}{{ f('', w=1000000000) }}",
    # str methods
    "{{ 'a'.ljust(10**9) }}",
    "{{ 'a'.rjust(10**9) }}",
    "{{ 'a'.center(10**9) }}",
    "{{ 'a'.zfill(10**9) }}",
    "{{ ('\t' * 1000).expandtabs(10**6) }}",
    "{{ ('a' * 1000).replace('a', 'b' * 10000) }}",
    "{{ ('a' * 1000000).replace('', 'b') }}",
    "{{ ('a' * 10000).translate({97: 'x' * 100000}) }}",
    "{{ ('a' * 10000).translate(['x' * 100000] * 200) }}",
    "{% set a = 'x' * 1000000 %}{{ ','.join([a, a]) }}",
    "{{ ' '.join(['ab'] * 1000000) }}",
    "{{ ('x' * 1000).join(range(10000) | map('string')) }}",
    # filters
    "{{ 'a' | center(10**9) }}",
    "{{ 'a' | indent(10**9, true) }}",
    "{{ ('a\n' * 100000) | indent('x' * 1000) }}",
    "{{ '%999999999s' | format(1) }}",
    "{{ '%*s' | format(1000000000, '') }}",
    "{{ ('a' * 1000) | replace('a', 'b' * 10000) }}",
    "{{ [1] | batch(10**9, 0) | list }}",
    "{{ ('a ' * 1000) | wordwrap(1, true, 'x' * 100000) }}",
    "{{ ('a ' * 500000) | wordwrap(1) }}",
    "{% set a = ['x' * 1000000] * 2 %}{{ a | join(',') }}",
    "{{ (['ab'] * 1000000) | join(' ') }}",
    "{{ range(10000) | join('x' * 1000) }}",
    "{% set a = ['x' * 100000] * 100 %}{{ a | string }}",
    "{% set a = ['x' * 100000] * 100 %}{{ a | tojson }}",
    "{% set a = ['x' * 100000] * 100 %}{{ a | yaml }}",
    "{% set a = ['x' * 100000] * 100 %}{{ a | pprint }}",
    "{% set a = [['x' * 100000] * 100] %}{{ a | join(',') }}",
    "{% set a = ['x'] * 100000 %}{{ a | tojson(indent=64) }}",
    # printing and concatenating containers of shared references
    "{% set a = ['x' * 1000000] * 1000 %}{{ a }}",
    "{% set a = ['x' * 100000] * 100 %}{{ 'n' ~ a }}",
    "{% set a = ['x' * 100000] * 100 %}{{ '%s' % (a,) }}",
    "{% set a = ['x' * 100000] * 100 %}{{ '{}'.format(a) }}",
    "{% set a = ['x' * 100000] * 100 %}{{ '{!r}'.format(a) }}",
    "{% set a = ['x' * 100000] * 100 %}{{ '%s' | format(a) }}",
    "{% set d = dict(a='x' * 1000000, b='x' * 1000000) %}{{ d }}",
    "{% set a = 'x' * 1000000 %}{{ {'a': a, 'b': a} }}",
    # string built up in a loop
    "{% set ns = namespace(s='x') %}{% for i in range(40) %}"
    "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
    "{% set ns = namespace(s='x') %}{% for i in range(40) %}"
    "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s | length }}",
    "{% set ns = namespace(l=[1]) %}{% for i in range(40) %}"
    "{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l | length }}",
    "{% set ns = namespace(l=[1]) %}{% for i in range(40) %}"
    "{% set ns.l = ns.l * 2 %}{% endfor %}{{ ns.l | length }}",
    # loop.cycle feeding the output
    "{% for i in range(10000) %}{{ loop.cycle('x' * 1000000, 'y') }}{% endfor %}",
]


@pytest.mark.parametrize("source", VALUE_BOMBS)
def test_value_bombs_are_refused_before_they_are_built(
    renderer: Renderer, source: str
) -> None:
    outcome = bounded(renderer, source)
    assert outcome.error == "RenderLimitError", outcome
    assert outcome.limit in {"value_size", "output_bytes", "wrap_lines"}, outcome
    assert outcome.details.get("source") == "template"


@pytest.mark.parametrize(
    ("source", "inputs"),
    [
        ("{{ s * n }}", {"s": "x", "n": 10**9}),
        ("{{ '%*s' % (n, s) }}", {"s": "", "n": 10**9}),
        ("{{ '{:{w}}'.format(s, w=n) }}", {"s": "", "n": 10**9}),
        ("{{ s.ljust(n) }}", {"s": "", "n": 10**9}),
        ("{{ s | center(n) }}", {"s": "", "n": 10**9}),
        ("{{ s.translate({97: t}) }}", {"s": "a" * 10000, "t": "x" * 100000}),
        ("{{ d | tojson }}", {"d": {"k": ["x" * 100000] * 100}}),
    ],
)
def test_value_bombs_from_inputs(
    renderer: Renderer, source: str, inputs: dict[str, Any]
) -> None:
    outcome = bounded(renderer, source, inputs)
    assert outcome.limit == "value_size", outcome


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ '%-5s|' % 'ab' }}", "ab   |"),
        ("{{ '%*d' % (4, 7) }}", "   7"),
        ("{{ '%.2f' % 3.14159 }}", "3.14"),
        ("{{ '%(a)s-%(b)03d' % {'a': 'x', 'b': 7} }}", "x-007"),
        ("{{ '%d%%' % 50 }}", "50%"),
        ("{{ '{:>{w}}'.format('a', w=4) }}", "   a"),
        ("{{ '{0}-{0}'.format('a') }}", "a-a"),
        ("{{ '{x}'.format_map({'x': 1}) }}", "1"),
        ("{{ '{:.2f}'.format(2.5) }}", "2.50"),
        ("{{ 'ab'.center(6, '*') }}", "**ab**"),
        ("{{ 'a\tb'.expandtabs(4) }}", "a   b"),
        ("{{ 'abc'.translate({97: 'xy'}) }}", "xybc"),
        ("{{ '-'.join(['a', 'b']) }}", "a-b"),
        ("{{ 'a b c' | replace(' ', '') }}", "abc"),
        ("{{ 'one two three' | wordwrap(7) }}", "one two\nthree"),
        ("{{ 'a\nb' | indent(2, true) }}", "  a\n  b"),
        ("{{ [1, 2] | tojson(indent=2) }}", "[\n  1,\n  2\n]"),
        ("{{ [1, 2, 3] | sum }}", "6"),
        ("{{ [[1, 2], [3]] | map('length') | sum }}", "3"),
        ("{{ 'abc' | truncate(5) }}", "abc"),
        ("{{ [1, 2, 3, 4] | batch(3) | list | length }}", "2"),
        ("{{ ('x' * 3) ~ ([1] * 2) | length }}", "xxx2"),
        ("{% for i in range(3) %}{{ loop.cycle('a', 'b') }}{% endfor %}", "aba"),
        ("{{ dict(a=1) | tojson }}", '{"a": 1}'),
        ("{{ '%s' % 'x' * 3 }}", "xxx"),
    ],
)
def test_ordinary_formatting_keeps_working(
    renderer: Renderer, source: str, expected: str
) -> None:
    outcome = bounded(renderer, source)
    assert outcome.text == expected, outcome


def test_size_estimates_do_not_build_anything() -> None:
    shared = ["x" * 100_000] * 100_000  # 10 GB as text, 800 KB as a list
    assert estimate(shared) > MAX_VALUE_SIZE
    assert estimate({"a": [1, 2]}) < 32
    assert percent_format_size("%s-%5d", ("ab", 1)) <= 16
    assert format_spec_size("a", ">10") == 10
    with pytest.raises(RenderLimitError):
        percent_format_size("%*s", (10**9, ""))
    with pytest.raises(RenderLimitError):
        format_spec_size("", "1000000000")


# ------------------------------------------------------- work and time (finding 1)


@pytest.mark.parametrize(
    ("source", "inputs", "limit"),
    [
        # the reproductions
        (
            "{% set s = 'x' * 20000 %}{% for a in s %}{% for b in s %}{% endfor %}"
            "{% endfor %}",
            {},
            "loop_iterations",
        ),
        (
            "{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
            {"s": "y" * 20000},
            "loop_iterations",
        ),
        (
            '{% for i in range(10000) %}{% include "h/l1" %}{% endfor %}',
            {},
            "includes",
        ),
        (
            "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}"
            "{% endmacro %}{{ f(20) }}",
            {},
            "macro_calls",
        ),
        # variants
        (
            "{% for a in s %}{% for b in s if b %}{% endfor %}{% endfor %}",
            {"s": "y" * 20000},
            "loop_iterations",
        ),  # fmt: skip
        (
            "{% for x in s recursive %}{{ loop(s) }}{% endfor %}",
            {"s": [1, 2]},
            "recursion_depth",
        ),
        (
            "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
            {},
            "recursion_depth",
        ),
        (
            "{% macro f() %}{{ caller() }}{% endmacro %}{% for i in range(10000) %}"
            "{% for j in range(3) %}{% call f() %}x{% endcall %}{% endfor %}"
            "{% endfor %}",
            {},
            "macro_calls",
        ),
        (
            '{% for i in range(3000) %}{% import "m/macros" as m %}{% endfor %}',
            {},
            "includes",
        ),
        ("{% for i in range(10**30, 10**31, 10**20) %}{% endfor %}", {}, "range_items"),
        (
            "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}"
            "{% endfor %}",
            {},
            "range_total",
        ),
        (
            "{% for c in ('ab' * 100000) | list %}{% endfor %}",
            {},
            "loop_iterations",
        ),
    ],
)
def test_work_budget(
    renderer: Renderer, source: str, inputs: dict[str, Any], limit: str
) -> None:
    outcome = bounded(renderer, source, inputs)
    assert outcome.error == "RenderLimitError", outcome
    assert outcome.limit == limit, outcome
    assert outcome.details["max"] in {
        MAX_LOOP_ITERATIONS,
        MAX_INCLUDES,
        MAX_MACRO_CALLS,
        MAX_CALL_DEPTH,
        10_000,
        100_000,
    }


def test_work_budget_is_per_render(renderer: Renderer) -> None:
    source = (
        "{% for i in range(9000) %}{% for j in range(10) %}{% endfor %}{% endfor %}"
    )
    for _ in range(3):  # 99,000 iterations each: under the budget every time
        assert bounded(renderer, source).text == ""


@pytest.mark.parametrize(
    "source",
    [
        # each under the work budget, but far slower than 1 ms
        "{% set s = 'x' * 100000 %}{% for i in 'x' * 90000 %}{{ s.upper() | length }}"
        "{% endfor %}",
        "{% set s = 'x' * 100000 %}{% for i in range(9000) %}"
        "{% if s.upper() == s %}{% endif %}{% endfor %}",
        "{% set s = 'x' * 100000 %}{% for i in range(9000) %}{% set t = s | upper %}"
        "{% endfor %}",
    ],
)
def test_time_budget(source: str) -> None:
    outcome = bounded(Renderer(timeout_ms=1), source)
    assert outcome.limit == "timeout_ms", outcome
    assert outcome.details["max"] == 1
    assert "DAKORA_RENDER_TIMEOUT_MS" in outcome.message


def test_default_time_budget() -> None:
    assert Renderer().timeout_ms == DEFAULT_TIMEOUT_MS == 2000


# ------------------------------------------------------- the allow-list


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'x'.encode() }}",
        "{{ 'x'.encode() * 10**9 }}",
        "{{ (1).to_bytes(10**9, 'big') }}",
        "{{ dict.fromkeys(range(10000), 'x' * 100000) }}",
        "{{ dict.fromkeys }}",
        "{{ ''.maketrans('a', 'b') }}",
        "{{ range.mro() }}",
        "{{ x.anything }}",
        "{{ loop }}",
        "{{ (1.5).fromhex('1') }}",
    ],
)
def test_calls_outside_the_allow_list_are_refused(
    renderer: Renderer, source: str
) -> None:
    outcome = bounded(renderer, source, {"x": _Obj()})
    assert outcome.error in {"RenderError", "RenderLimitError"}, outcome
    assert outcome.limit != "memory"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ 'a,b'.split(',') | join('+') }}", "a+b"),
        ("{{ d.items() | list | length }}", "1"),
        ("{{ d.get('k') }}", "v"),
        ("{{ d.keys() | first }}", "k"),
        ("{{ 'Ab'.lower() ~ 'ab'.upper() ~ ' x '.strip() }}", "abABx"),
        ("{{ (5).bit_length() }}", "3"),
        ("{{ [3, 1].index(1) }}", "1"),
        (
            "{% for x in [1, 2] %}{{ loop.index }}{{ loop.last }}{% endfor %}",
            "1False2True",
        ),  # fmt: skip
        ("{% set ns = namespace(a=1) %}{{ ns.a }}", "1"),
        ('{% import "m/macros" as m %}{{ m.twice("ab") }}', "abab"),
        ("{{ range(3).stop }}", "3"),
    ],
)
def test_calls_on_the_allow_list_work(
    renderer: Renderer, source: str, expected: str
) -> None:
    assert bounded(renderer, source, {"d": {"k": "v"}}).text == expected


def test_allow_list_is_explicit() -> None:
    assert allowlist.allowed_attributes("x") >= {"format", "join", "replace"}  # type: ignore[operator]
    assert "encode" not in (allowlist.allowed_attributes("x") or ())
    assert allowlist.allowed_attributes(_Obj()) == frozenset()
    assert "to_bytes" not in (allowlist.allowed_attributes(1) or ())


class _Obj:
    anything = "secret"


# ------------------------------------------------------- functions are not printed


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.format_map }}",
        "{{ ''.format }}",
        "{{ ''.upper }}",
        "{{ d.items }}",
        "{{ [''.upper] }}",
        "{{ {'a': ''.upper} }}",
        "{{ ''.upper ~ '' }}",
        "{{ ''.upper | string }}",
        "{{ ''.upper | upper }}",
        "{{ [''.upper] | join }}",
        "{{ '%s' % ''.upper }}",
        "{{ '{}'.format(''.upper) }}",
        "{{ ''.upper | pprint }}",
        "{{ range }}{{ ''.upper }}",
        "{{ [1] | map('string') }}",
        "{{ 'x' | attr('upper') }}",
    ],
)
def test_functions_and_methods_are_never_printed(
    renderer: Renderer, source: str
) -> None:
    outcome = bounded(renderer, source, {"d": {"k": "v"}})
    assert outcome.text is None and outcome.error == "RenderError", outcome
    assert "0x" not in outcome.message
    assert "not a value" in outcome.message


def test_plain_values_still_print(renderer: Renderer) -> None:
    out = bounded(renderer, "{{ [1, 'a', none, true, {'k': 2.5}] }}").text
    assert out == "[1, 'a', None, True, {'k': 2.5}]"


def test_limit_errors_are_render_errors_with_their_own_code() -> None:
    err = RenderLimitError("x", limit="timeout_ms", max=2000)
    assert isinstance(err, RenderError)
    assert err.to_dict() == {
        "code": "render_limit",
        "message": "x",
        "details": {"limit": "timeout_ms", "max": 2000},
    }
    assert err.http_status == 422


def test_chat_prompts_share_one_budget() -> None:
    loop = "{% for c in s %}{% endfor %}"  # 60,000 iterations per message
    prompt = Prompt.model_validate(
        {
            "id": "c",
            "version": "1.0.0",
            "messages": [
                {"role": "system", "content": loop},
                {"role": "user", "content": loop},
            ],
        }
    )
    with pytest.raises(RenderLimitError) as info:
        Renderer().render(prompt, {"s": "x" * 60_000}, FANOUT)
    assert info.value.details["limit"] == "loop_iterations"
