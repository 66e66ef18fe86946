"""The sandboxed renderer and template analysis (docs/design.md §4)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from dakora.registry.core.errors import RenderError
from dakora.registry.core.model import Message, Prompt
from dakora.registry.load.parts import MemoryParts, part_name_from_path
from dakora.registry.render import sandbox as sandbox_module
from dakora.registry.render.analysis import analyze_template, compile_template
from dakora.registry.render.limits import (
    MAX_INCLUDE_DEPTH,
    MAX_OUTPUT_BYTES,
    MAX_RANGE,
    MAX_SOURCE_BYTES,
)
from dakora.registry.render.renderer import Renderer, RenderResult
from tests.fixtures.bounded import render_outcome, run_bounded

PARTS = MemoryParts(
    {
        "system/tone.md": "Be kind to {{ customer }}.\n",
        "system/plain.txt": "plain",
        "persona/engineer.j2": "engineer",
        "format/item.md": "- {{ item }}\n",
        "cycle/a.md": '{% include "cycle/b" %}',
        "cycle/b.md": '{% include "cycle/a" %}',
        "cycle/self.md": '{% include "cycle/self" %}',
        "broken/syntax.md": "line1\n{% if %}",
    }
)


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def text(source: str) -> Prompt:
    return Prompt(id="t", version="1.0.0", template=source)


def render(
    renderer: Renderer, source: str, parts: MemoryParts = PARTS, **inputs: Any
) -> str:
    result = renderer.render(text(source), inputs, parts)
    assert result.kind == "text" and result.messages is None
    assert result.rendered is not None
    return result.rendered


def render_error(
    renderer: Renderer, source: str, parts: MemoryParts = PARTS, **inputs: Any
) -> RenderError:
    with pytest.raises(RenderError) as info:
        renderer.render(text(source), inputs, parts)
    return info.value


# ------------------------------------------------------------------- basics


def test_text_render_keeps_trailing_newline_and_no_autoescape(
    renderer: Renderer,
) -> None:
    result = renderer.render(text("Hi {{ name }} & <b>\n"), {"name": "<Ada>"}, PARTS)
    assert result == RenderResult("text", "Hi <Ada> & <b>\n", None, {"name": "<Ada>"})


def test_undefined_variable_error_names_the_variable(renderer: Renderer) -> None:
    err = render_error(renderer, "line 1\nline 2\nHello {{ customer }}!")
    assert "customer" in err.message
    assert err.message == "undefined variable 'customer' (template, line 3)"
    assert err.details["variable"] == "customer" and err.details["line"] == 3


def test_undefined_attribute_and_filter_use(renderer: Renderer) -> None:
    err = render_error(renderer, "{{ account.missing }}", account={})
    assert "missing" in err.message
    err = render_error(renderer, "{{ nope | yaml }}")
    assert "'nope'" in err.message


def test_syntax_error_reports_the_line(renderer: Renderer) -> None:
    err = render_error(renderer, "ok\n{% if %}\n")
    assert "syntax error" in err.message and err.details["line"] == 2


@pytest.mark.parametrize(
    ("source", "inputs", "needle"),
    [
        ("{{ 1 / 0 }}", {}, "ZeroDivisionError"),
        ("{{ 'a' + 1 }}", {}, "TypeError"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", {}, "recursion"),
        ("{{ x | yaml }}", {"x": object()}, "yaml"),
        ("{% extends 'missing/base' %}", {}, "not found"),
    ],
)
def test_other_failures_become_render_errors(
    renderer: Renderer, source: str, inputs: dict[str, Any], needle: str
) -> None:
    err = render_error(renderer, source, **inputs)
    assert needle in err.message


# ------------------------------------------------------------------ filters


@pytest.mark.parametrize(
    ("expr", "inputs", "expected"),
    [
        ("v | default('d')", {"v": None}, "d"),
        ("v | default('d')", {"v": ""}, "d"),
        ("v | default('d')", {"v": []}, "d"),
        ("v | default('d')", {"v": {}}, "d"),
        ("v | default('d')", {"v": 0}, "0"),
        ("v | default('d')", {"v": 0.0}, "0.0"),
        ("v | default('d')", {"v": False}, "False"),
        ("v | default('d')", {"v": "x"}, "x"),
        ("v | default('d')", {"v": [0]}, "[0]"),
        ("v | d('d')", {"v": None}, "d"),
        ("v | d('d')", {"v": False}, "False"),
        ("undeclared | default('d')", {}, "d"),
        ("v | default", {"v": None}, ""),
    ],
)
def test_default_filter(
    renderer: Renderer, expr: str, inputs: dict[str, Any], expected: str
) -> None:
    assert render(renderer, "{{ " + expr + " }}", **inputs) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"b": 1, "a": [1, "ü"]}, "b: 1\na:\n- 1\n- ü"),  # insertion order, unicode
        (["x", "y"], "- x\n- y"),
        ("héllo", "héllo"),
        (3, "3"),
        (None, "null"),
        ({"nested": {"k": True}}, "nested:\n  k: true"),
    ],
)
def test_yaml_filter(renderer: Renderer, value: Any, expected: str) -> None:
    assert render(renderer, "{{ v | yaml }}|", v=value) == expected + "|"


# ----------------------------------------------------------------- includes


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("system/tone", "Be kind to Ada.\n"),
        ("system/tone.md", "Be kind to Ada.\n"),
        ("system/plain", "plain"),
        ("persona/engineer", "engineer"),
        ("persona/engineer.j2", "engineer"),
    ],
)
def test_include_extension_optional(
    renderer: Renderer, target: str, expected: str
) -> None:
    assert render(renderer, f'{{% include "{target}" %}}', customer="Ada") == expected


def test_include_sees_loop_variables(renderer: Renderer) -> None:
    out = render(
        renderer,
        '{% for item in items %}{% include "format/item" %}{% endfor %}',
        items=["a", "b"],
    )
    assert out == "- a\n- b\n"


def test_missing_include_names_the_target(renderer: Renderer) -> None:
    err = render_error(renderer, 'x\n{% include "system/nope" %}')
    assert "'system/nope'" in err.message and err.details["line"] == 2


def test_ignore_missing_include(renderer: Renderer) -> None:
    assert render(renderer, 'a{% include "no/such" ignore missing %}b') == "ab"


@pytest.mark.parametrize(
    ("target", "chain"),
    [
        ("cycle/a", "include cycle: cycle/a -> cycle/b -> cycle/a"),
        ("cycle/self", "include cycle: cycle/self -> cycle/self"),
    ],
)
def test_include_cycle_reported_with_chain(
    renderer: Renderer, target: str, chain: str
) -> None:
    err = render_error(renderer, f'{{% include "{target}" %}}')
    assert chain in err.message


def _chain_parts(length: int) -> MemoryParts:
    parts = MemoryParts()
    for i in range(length):
        nxt = f'{{% include "deep/p{i + 1}" %}}' if i + 1 < length else "bottom"
        parts[f"deep/p{i}.md"] = f"{i}:" + nxt
    return parts


def test_include_depth_limit(renderer: Renderer) -> None:
    ok = _chain_parts(MAX_INCLUDE_DEPTH)
    out = render(renderer, '{% include "deep/p0" %}', parts=ok)
    assert out.endswith("bottom") and out.startswith("0:1:")
    too_deep = _chain_parts(MAX_INCLUDE_DEPTH + 1)
    err = render_error(renderer, '{% include "deep/p0" %}', parts=too_deep)
    assert f"nested deeper than {MAX_INCLUDE_DEPTH}" in err.message
    assert "deep/p0 -> deep/p1" in err.message


def test_dynamic_include_is_refused(renderer: Renderer) -> None:
    err = render_error(renderer, "{% include name %}", name="system/plain")
    assert "string literal" in err.message


def test_include_of_broken_part(renderer: Renderer) -> None:
    err = render_error(renderer, '{% include "broken/syntax" %}')
    assert "broken/syntax" in err.message and "line 2" in err.message


def test_parts_are_from_the_given_source(renderer: Renderer) -> None:
    a = MemoryParts({"s/t.md": "version A"})
    b = MemoryParts({"s/t.md": "version B"})
    prompt = text('{% include "s/t" %}')
    assert renderer.render(prompt, {}, a, cache_key="blob1").rendered == "version A"
    assert renderer.render(prompt, {}, b, cache_key="blob1").rendered == "version B"


# ------------------------------------------------------------------- limits


def test_range_limit(renderer: Renderer) -> None:
    out = render(renderer, f"{{{{ range({MAX_RANGE}) | length }}}}")
    assert out == str(MAX_RANGE)
    err = render_error(
        renderer, f"{{% for i in range({MAX_RANGE + 1}) %}}{{% endfor %}}"
    )
    assert "range" in err.message and err.details["limit"] == "range_items"
    assert err.code == "render_limit" and err.http_status == 422
    err = render_error(renderer, "{{ range(10**30) | length }}")
    assert "range" in err.message


def test_nested_ranges_have_a_budget(renderer: Renderer) -> None:
    # 10**8 iterations without the budget: under a time and memory bound (issue 14)
    outcome = run_bounded(
        render_outcome,
        renderer,
        f"{{% for i in range({MAX_RANGE}) %}}{{% for j in range({MAX_RANGE}) %}}"
        "{% endfor %}{% endfor %}",
    )
    assert outcome.error == "RenderLimitError", outcome
    assert "range" in outcome.message


class _Counting:
    """An input whose str() counts how often the template asked for it."""

    def __init__(self) -> None:
        self.calls = 0

    def __str__(self) -> str:
        self.calls += 1
        return "x" * 1000


def test_output_limit_stops_streaming_early(renderer: Renderer) -> None:
    counter = _Counting()
    err = render_error(
        renderer,
        f"{{% for i in range({MAX_RANGE}) %}}{{{{ c }}}}{{% endfor %}}",
        c=counter,
    )
    assert "output exceeds" in err.message
    assert counter.calls <= MAX_OUTPUT_BYTES // 1000 + 2  # stopped at the limit


def test_output_limit_counts_bytes(renderer: Renderer) -> None:
    n = MAX_OUTPUT_BYTES // 2 + 10  # fewer chars than the limit, more bytes
    err = render_error(renderer, "{{ s }}", s="é" * n)
    assert "output exceeds" in err.message
    assert render(renderer, "{{ s }}", s="é" * (n - 20)) == "é" * (n - 20)


def test_output_limit_spans_chat_messages(renderer: Renderer) -> None:
    half = "x" * (MAX_OUTPUT_BYTES // 2 + 1)
    prompt = Prompt(
        id="c",
        version="1.0.0",
        messages=[
            Message(role="system", content="{{ s }}"),
            Message(role="user", content="{{ s }}"),
        ],
    )
    with pytest.raises(RenderError, match="output exceeds"):
        renderer.render(prompt, {"s": half}, PARTS)


def test_source_limit(renderer: Renderer) -> None:
    err = render_error(renderer, "x" * (MAX_SOURCE_BYTES + 1))
    assert "KiB" in err.message
    err = render_error(renderer, "é" * (MAX_SOURCE_BYTES // 2 + 1))  # bytes, not chars
    assert "KiB" in err.message
    assert render(renderer, "x" * MAX_SOURCE_BYTES) == "x" * MAX_SOURCE_BYTES


def test_part_source_limit(renderer: Renderer) -> None:
    parts = MemoryParts({"big/one.md": "x" * (MAX_SOURCE_BYTES + 1)})
    err = render_error(renderer, '{% include "big/one" %}', parts=parts)
    assert "KiB" in err.message


# Value bombs, work and time budgets, the allow-list: tests/unit/test_render_limits.py
# (each under a memory and time bound of its own).


# --------------------------------------------------------------------- SSTI


SSTI_PAYLOADS = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ lipsum.__globals__ }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ range.__globals__ }}",
    "{{ dict.__base__.__subclasses__() }}",
    "{{ dict.mro() }}",
    "{{ self._TemplateReference__context }}",
    "{{ self._TemplateReference__context.cycler.__init__.__globals__.os }}",
    "{{ self.__init__.__globals__ }}",
    "{{ config }}",
    "{{ config.items() }}",
    "{{ request }}",
    "{{ request.application.__globals__ }}",
    "{{ ''|attr('__class__') }}",
    "{{ (''|attr('__class__')|attr('__mro__'))[1] }}",
    "{{ '{0.__class__}'.format('') }}",
    "{{ ''.format.__globals__ }}",
    "{{ x.__dict__ }}",
    "{{ tags.append('pwned') }}",
    "{{ tags.pop() }}",
    "{{ account.update({'a': 1}) }}",
    "{{ account.clear() }}",
    "{{ account.setdefault('a', 1) }}",
]


@pytest.mark.parametrize("payload", SSTI_PAYLOADS)
def test_ssti_payloads_fail_and_never_execute(renderer: Renderer, payload: str) -> None:
    tags = ["a"]
    account = {"k": "v"}
    with pytest.raises(RenderError):
        renderer.render(
            text(payload), {"tags": tags, "account": account, "x": _Counting()}, PARTS
        )
    assert tags == ["a"] and account == {"k": "v"}  # inputs were not mutated


def test_self_does_not_expose_internals(renderer: Renderer) -> None:
    assert "Context" not in render(renderer, "{{ self }}")


# --------------------------------------------------------------------- chat


def test_chat_prompt_renders_each_message(renderer: Renderer) -> None:
    prompt = Prompt(
        id="c",
        version="1.0.0",
        messages=[
            Message(
                role="system", content='{% include "system/tone" %}You are {{ p }}.'
            ),
            Message(role="user", content="{{ q }}"),
            Message(role="assistant", content="ok"),
        ],
    )
    result = renderer.render(prompt, {"p": "P", "q": "Q?", "customer": "Ada"}, PARTS)
    assert result.kind == "chat" and result.rendered is None
    assert result.messages == [
        {"role": "system", "content": "Be kind to Ada.\nYou are P."},
        {"role": "user", "content": "Q?"},
        {"role": "assistant", "content": "ok"},
    ]


def test_chat_error_names_the_message(renderer: Renderer) -> None:
    prompt = Prompt(
        id="c",
        version="1.0.0",
        messages=[
            Message(role="system", content="fine"),
            Message(role="user", content="\n{{ missing }}"),
        ],
    )
    with pytest.raises(RenderError) as info:
        renderer.render(prompt, {}, PARTS)
    assert info.value.details["source"] == "messages[1]"
    assert info.value.details["line"] == 2
    assert "'missing'" in info.value.message


# -------------------------------------------------------------------- cache


def test_cache_hit_returns_same_result() -> None:
    renderer = Renderer()
    prompt = text("Hello {{ name }}")
    first = renderer.render(prompt, {"name": "A"}, PARTS, cache_key="blob-1")
    assert (renderer.hits, renderer.misses) == (0, 1)
    again = renderer.render(prompt, {"name": "A"}, PARTS, cache_key="blob-1")
    assert (renderer.hits, renderer.misses) == (1, 1)
    assert again == first
    # no cache key: the source is the key
    renderer.render(text("Hello {{ name }}"), {"name": "B"}, PARTS)
    renderer.render(text("Hello {{ name }}"), {"name": "B"}, PARTS)
    assert (renderer.hits, renderer.misses) == (2, 2)


def test_cache_is_bounded() -> None:
    renderer = Renderer(max_templates=2)
    for i in range(5):
        renderer.render(text(f"{i}"), {}, PARTS)
    assert len(renderer._templates) == 2
    renderer.render(text("0"), {}, PARTS)
    assert renderer.misses == 6


def test_renderer_is_thread_safe() -> None:
    renderer = Renderer(max_templates=3)
    prompts = [
        text(f"{i}:{{{{ n }}}}" + '{% include "system/plain" %}') for i in range(6)
    ]

    def work(k: int) -> bool:
        i = k % len(prompts)
        result = renderer.render(prompts[i], {"n": k}, PARTS, cache_key=f"blob{i}")
        return result.rendered == f"{i}:{k}plain"

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(work, range(300)))


# ----------------------------------------------------------------- analysis


def test_analyze_collects_undeclared_variables() -> None:
    source = (
        "{% for t in tags %}{{ t }}{{ loop.index }}{% endfor %}\n"
        "{% set z = 1 %}{{ z }}{{ a }}\n"
        "{% macro m(p) %}{{ p }}{{ caller() }}{% endmacro %}\n"
        "{% with w = 1 %}{{ w }}{% endwith %}{{ b | default(c) }}\n"
        "{{ range(3) | list }}{{ dict(x=1) }}{% set ns = namespace(k=0) %}"
    )
    info = analyze_template(source, PARTS)
    assert info.variables == {"tags", "a", "b", "c"}
    assert info.variable_lines == {"tags": 1, "a": 2, "b": 4, "c": 4}
    assert info.includes == () and info.missing_includes == () and info.errors == ()


def test_analyze_follows_includes_transitively() -> None:
    parts = MemoryParts(
        {
            "a/outer.md": '{{ outer_var }}{% include "a/inner" %}',
            "a/inner.md": "{{ inner_var }}{{ item }}",
            "a/missing-child.md": '{% include "a/ghost" %}',
        }
    )
    source = (
        "{{ top }}\n"
        '{% for item in items %}{% include "a/outer" %}{% endfor %}\n'
        '{% include "a/nope" %}\n'
        '{% include "a/missing-child" %}\n'
        '{% include "a/ignored" ignore missing %}'
    )
    info = analyze_template(source, parts)
    # `item` is bound by the including loop, so it is not undeclared
    assert info.variables == {"top", "items", "outer_var", "inner_var"}
    assert info.includes == ("a/outer", "a/inner", "a/missing-child")
    assert info.missing_includes == (("a/nope", 3), ("a/ghost", 4))
    assert info.variable_lines["outer_var"] == 2
    assert info.variable_lines["inner_var"] == 2


def test_analyze_reports_cycles_depth_and_dynamic_targets() -> None:
    info = analyze_template('{% include "cycle/a" %}\n{% include x %}', PARTS)
    assert ("include cycle: cycle/a -> cycle/b -> cycle/a", 1) in info.errors
    assert any("string literal" in msg and line == 2 for msg, line in info.errors)
    deep = _chain_parts(MAX_INCLUDE_DEPTH + 1)
    info = analyze_template('{% include "deep/p0" %}', deep)
    assert any("nested deeper" in msg for msg, _ in info.errors)
    info = analyze_template('{% include "deep/p0" %}', _chain_parts(MAX_INCLUDE_DEPTH))
    assert info.errors == () and len(info.includes) == MAX_INCLUDE_DEPTH


def test_analyze_diamond_includes_are_not_exponential() -> None:
    parts = MemoryParts()
    for level in range(8):
        for side in ("l", "r"):
            nxt = (
                f'{{% include "d/{level + 1}l" %}}{{% include "d/{level + 1}r" %}}'
                if level < 7
                else "{{ leaf }}"
            )
            parts[f"d/{level}{side}.md"] = nxt
    info = analyze_template('{% include "d/0l" %}', parts)
    assert info.variables == {"leaf"} and info.errors == ()
    assert len(info.includes) == 15


def test_analyze_syntax_errors() -> None:
    with pytest.raises(RenderError) as info:
        analyze_template("fine\n{{ oops", PARTS)
    assert info.value.details["line"] == 2
    result = analyze_template('{% include "broken/syntax" %}', PARTS)
    assert result.errors and "broken/syntax" in result.errors[0][0]


def test_analyze_does_not_compile(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_compile(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("analyze_template must not compile")

    monkeypatch.setattr(sandbox_module.SandboxEnv, "compile", no_compile)
    parts = MemoryParts({"n/ew.md": "{{ fresh }}"})
    info = analyze_template('{{ x }}{% include "n/ew" %}', parts)
    assert info.variables == {"x", "fresh"}


# -------------------------------------------------------------- MemoryParts


def test_memory_parts() -> None:
    parts = MemoryParts({"system/tone.md": "a", "format/list": "b"})
    key = parts.key
    assert parts.names() == ["format/list", "system/tone"]
    assert parts.get_source("system/tone") == ("a", "parts/system/tone.md")
    assert parts.get_source("system/tone.md") == ("a", "parts/system/tone.md")
    assert parts.get_source("format/list") == ("b", "parts/format/list")
    assert parts.get_source("system/none") is None
    assert parts.get_source("../system/tone") is None
    assert parts.get_source("/system/tone") is None
    parts["system/tone.md"] = "changed"
    assert parts.key != key
    assert MemoryParts({"system/tone.md": "a", "format/list": "b"}).key == key


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("parts/system/tone.md", "system/tone"),
        ("parts/a/b/c.j2", "a/b/c"),
        ("parts/x.md", None),
        ("prompts/a/b.md", None),
        ("parts/a/b.py", None),
    ],
)
def test_part_name_from_path(path: str, name: str | None) -> None:
    assert part_name_from_path(path) == name


# ------------------------------------------------------------ compile check


def test_compile_template_ok_and_errors() -> None:
    compile_template("Hello {{ name | default('x') | yaml }}")
    with pytest.raises(RenderError) as info:
        compile_template("ok\n{{ x | no_such_filter }}", "messages[0]")
    assert "no_such_filter" in info.value.message
    assert info.value.details["line"] == 2
    with pytest.raises(RenderError) as info:
        compile_template("{% for %}")
    assert info.value.details["line"] == 1


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'a' * 10**10 }}",
        "{{ 'a' | center(10000000000) }}",
        "{{ '" + "a" * 100_000 + "' | replace('a', '" + "b" * 10_000 + "') }}",
        "{{ '%10000000000d' | format(1) }}",
    ],
)
def test_compile_never_folds_value_bombs(source: str) -> None:
    # would allocate gigabytes if constants were folded: bounded (issue 14)
    run_bounded(_compiles, source)


def _compiles(source: str) -> None:
    compile_template(source)


def test_unknown_filter_is_a_render_error(renderer: Renderer) -> None:
    err = render_error(renderer, "{{ x | nope }}", x=1)
    assert "nope" in err.message


class _ClosingParts(MemoryParts):
    """A parts source that stops working once closed (like a closed repository)."""

    closed = False

    def get_source(self, name: str) -> tuple[str, str] | None:
        if self.closed:
            raise RuntimeError("closed")
        return super().get_source(name)


def test_lazy_parts_load_from_the_callers_source() -> None:
    renderer = Renderer()
    content = {"a/one.md": "one", "a/two.md": "two"}
    first, second = _ClosingParts(content), _ClosingParts(content)
    assert first.key == second.key
    assert renderer.render(text('{% include "a/one" %}'), {}, first).rendered == "one"
    first.closed = True
    result = renderer.render(text('{% include "a/two" %}'), {}, second)
    assert result.rendered == "two"
