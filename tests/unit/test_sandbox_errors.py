"""How a failed render is reported (registry/render/sandbox.py ``translate_error``,
``_template_location``; docs/rendering.md): one ``RenderError`` naming the source (the
template, a message of a chat prompt, or a part) and the line, whatever Jinja or a
guard raised. Real templates through the real ``Renderer`` where a template can
raise it; the exceptions a template cannot reach (a syntax error Jinja finds only
while compiling) are given to ``translate_error`` as Jinja raises them."""

from __future__ import annotations

from typing import Any

import pytest
from jinja2 import TemplateNotFound, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError

from dakora.registry.core.errors import RenderError, RenderLimitError
from dakora.registry.core.model import Message, Prompt
from dakora.registry.load.parts import MemoryParts
from dakora.registry.render.limits import MAX_CALL_DEPTH, limit_error
from dakora.registry.render.renderer import Renderer
from dakora.registry.render.sandbox import (
    SandboxEnv,
    _template_location,
    translate_error,
)

PARTS = MemoryParts(
    {
        "system/tone.md": "Be kind.\n{{ missing_in_part }}\n",
        "system/deep.md": "one\ntwo\n{{ 1 // 0 }}\n",
    }
)


def fail(source: str, parts: MemoryParts = PARTS, **inputs: Any) -> RenderError:
    prompt = Prompt(id="t", version="1.0.0", template=source)
    with pytest.raises(RenderError) as info:
        Renderer().render(prompt, inputs, parts)
    return info.value


def test_an_undefined_variable_names_it_the_source_and_the_line() -> None:
    err = fail("a\nb\n{{ who }}")
    assert type(err) is RenderError
    assert err.message == "undefined variable 'who' (template, line 3)"
    assert err.details == {"source": "template", "line": 3, "variable": "who"}


def test_an_undefined_attribute_is_reported_as_jinja_says_it() -> None:
    err = fail("{{ account.missing }}", account={})
    assert err.message == (
        "undefined: 'dict object' has no attribute 'missing' (template, line 1)"
    )
    assert "variable" not in err.details


def test_an_error_in_a_part_names_the_part_and_its_line() -> None:
    err = fail('x\n{% include "system/deep" %}')
    assert err.message.startswith("ZeroDivisionError: ")
    assert err.details["line"] == 3
    assert err.details["source"] != "template"
    assert err.message.endswith(f"({err.details['source']}, line 3)")
    assert "system/deep" in err.details["source"]


def test_an_undefined_variable_in_a_part_names_the_innermost_frame() -> None:
    err = fail('first\nsecond\n{% include "system/tone" %}')
    assert err.details["variable"] == "missing_in_part"
    assert err.details["line"] == 2  # the part's line, not the include's (3)
    assert "system/tone" in err.details["source"]


def test_a_message_of_a_chat_prompt_is_its_own_source() -> None:
    prompt = Prompt(
        id="t",
        version="1.0.0",
        messages=[
            Message(role="system", content="fine"),
            Message(role="user", content="ok\n{{ 'a' + 1 }}"),
        ],
    )
    with pytest.raises(RenderError) as info:
        Renderer().render(prompt, {}, PARTS)
    err = info.value
    assert err.details["source"] == "messages[1]" and err.details["line"] == 2
    assert err.message.startswith("TypeError: ")
    assert err.message.endswith("(messages[1], line 2)")


def test_a_limit_keeps_its_class_its_details_and_gains_the_line() -> None:
    err = fail("a\n{% for i in range(10**9) %}{% endfor %}")
    assert isinstance(err, RenderLimitError)
    assert err.details["limit"] == "range_items"
    assert err.details["line"] == 2 and err.details["source"] == "template"
    assert err.message.endswith("(template, line 2)")


def test_a_sandbox_refusal_says_so() -> None:
    err = fail("{{ ''.__class__ }}")
    assert err.message.startswith("blocked by the sandbox: ")
    assert type(err) is RenderError


def test_a_recursion_is_the_depth_limit() -> None:
    err = fail("{% macro f() %}{{ f() }}{% endmacro %}\n{{ f() }}")
    assert isinstance(err, RenderLimitError)
    assert err.details["limit"] == "recursion_depth"
    assert err.details["max"] == MAX_CALL_DEPTH


# -- what translate_error is given ---------------------------------------------------


def test_python_s_recursion_and_memory_errors_become_limits() -> None:
    err = translate_error(RecursionError("deep"), "template")
    assert type(err) is RenderLimitError
    assert err.details["limit"] == "recursion_depth"
    assert err.details["source"] == "template"
    assert "line" not in err.details
    assert err.message == translate_error(RecursionError(), "x").message
    err = translate_error(MemoryError(), "messages[0]")
    assert type(err) is RenderLimitError
    assert err.details == {"source": "messages[0]", "limit": "memory"}
    assert err.message == "the render ran out of memory"


def test_a_plain_render_error_stays_plain_and_keeps_its_details() -> None:
    err = translate_error(RenderError("bad", hint="x"), "template")
    assert type(err) is RenderError
    assert err.message == "bad"
    assert err.details == {"source": "template", "hint": "x"}
    limit = limit_error("too big", "value_size", 10)
    err = translate_error(limit, "template")
    assert type(err) is RenderLimitError
    assert err.details["limit"] == "value_size" and err.details["max"] == 10


def test_a_syntax_error_names_its_file_or_template() -> None:
    exc = TemplateSyntaxError("unexpected end", 4, name="system/x", filename="<x>")
    err = translate_error(exc, "template")
    assert err.message == "template syntax error: unexpected end (x, line 4)"
    assert err.details == {"source": "x", "line": 4}
    exc = TemplateSyntaxError("oops", 2, name="system/x", filename=None)
    assert translate_error(exc, "template").details["source"] == "system/x"
    exc = TemplateSyntaxError("oops", 2, name=None, filename=None)
    err = translate_error(exc, "messages[2]")
    assert err.details == {"source": "messages[2]", "line": 2}
    exc = TemplateSyntaxError("oops", 2, filename="parts/system/x.md")
    assert translate_error(exc, "template").details["source"] == "parts/system/x.md"


def test_a_file_name_in_angle_brackets_loses_only_them() -> None:
    for filename, source in [
        ("<template>", "template"),
        ("<messages[0]>", "messages[0]"),
        ("<>", ""),
        ("<a", "<a"),
        ("a>", "a>"),
    ]:
        exc = TemplateSyntaxError("m", 1, filename=filename)
        assert translate_error(exc, "label").details["source"] == source, filename


def test_the_other_errors_are_named_by_their_kind() -> None:
    cases: list[tuple[BaseException, str]] = [
        (UndefinedError("'who' is undefined"), "undefined variable 'who'"),
        (UndefinedError("who is undefined"), "undefined: who is undefined"),
        (
            UndefinedError("'a' is undefined, really"),
            "undefined: 'a' is undefined, really",
        ),
        (SecurityError("no"), "blocked by the sandbox: no"),
        (
            TemplateNotFound("system/nope"),
            "include target 'system/nope' not found in parts/",
        ),
        (ZeroDivisionError("division by zero"), "ZeroDivisionError: division by zero"),
    ]
    for exc, message in cases:
        err = translate_error(exc, "template")
        assert err.message == message, exc
        assert type(err) is RenderError
        assert err.details["source"] == "template"
        assert "line" not in err.details
    assert translate_error(cases[0][0], "t").details["variable"] == "who"
    assert "variable" not in translate_error(cases[1][0], "t").details


def _raised_by(source: str) -> BaseException:
    env = SandboxEnv()
    template = env.from_string(source)
    try:
        template.render()
    except Exception:
        try:
            env.handle_exception()
        except BaseException as exc:  # noqa: BLE001 - what the renderer catches
            return exc
    raise AssertionError("the template rendered")


def test_the_location_is_the_innermost_template_frame() -> None:
    exc = _raised_by("a\nb\n{{ 1 // 0 }}")
    assert _template_location(exc) == ("<template>", 3)
    assert _template_location(ValueError("raised outside a template")) == (None, None)


def test_the_location_skips_python_frames_below_the_template() -> None:
    # the error is raised inside a filter (Python), called from line 2
    exc = _raised_by("x\n{{ [1, 'a']|sort }}")
    assert _template_location(exc) == ("<template>", 2)


# -- the globals a template sees -----------------------------------------------------


def test_a_template_s_globals_are_the_environment_s_plus_its_own() -> None:
    env = SandboxEnv()
    assert env.make_globals(None) == env.globals
    assert env.make_globals(None) is not env.globals  # a copy: a render cannot touch it
    assert env.make_globals({}) == env.globals
    merged = env.make_globals({"range": "own", "extra": 1})
    assert merged["range"] == "own" and merged["extra"] == 1
    assert env.globals["range"] is not "own"  # noqa: F632
    assert set(merged) == set(env.globals) | {"extra"}
    template = env.from_string("{{ extra }}", globals={"extra": "here"})
    assert template.render() == "here"
    assert "extra" not in env.globals
