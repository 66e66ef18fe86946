"""Input coercion exactly as docs/design.md §3: one row per table cell, both directions."""

from __future__ import annotations

import math
from typing import Any

import pytest

from dakora.registry.core.errors import InputError
from dakora.registry.core.inputs import (
    _coerce,
    _Reject,
    coerce_inputs,
    parse_cli_pairs,
    show_value,
)
from dakora.registry.core.model import InputSpec

REJECT = object()

# (type, source, given value, expected coerced value or REJECT)
ROWS: list[tuple[str, str, Any, Any]] = [
    # string: accepts str
    ("string", "json", "abc", "abc"),
    ("string", "json", "", ""),
    ("string", "cli", "abc", "abc"),
    ("string", "cli", "3", "3"),  # a CLI string stays a string
    # string: converts int/float → str
    ("string", "json", 3, "3"),
    ("string", "json", 2.5, "2.5"),
    ("string", "json", -0.0, "-0.0"),
    # string: rejects bool, list, object, null (required)
    ("string", "json", True, REJECT),
    ("string", "json", False, REJECT),
    ("string", "json", ["a"], REJECT),
    ("string", "json", {"a": 1}, REJECT),
    ("string", "json", None, REJECT),
    # number: accepts int, float
    ("number", "json", 3, 3),
    ("number", "json", 0, 0),
    ("number", "json", -2.5, -2.5),
    # number: converts a str that parses as int → int, else float
    ("number", "json", "3", 3),
    ("number", "cli", "3", 3),
    ("number", "cli", "-42", -42),
    ("number", "cli", "+7", 7),
    ("number", "cli", "2.5", 2.5),
    ("number", "json", "2.5", 2.5),
    ("number", "cli", "1e3", 1000.0),
    ("number", "cli", ".5", 0.5),
    # number: rejects bool, "abc", nan/inf and anything else
    ("number", "json", True, REJECT),
    ("number", "json", False, REJECT),
    ("number", "cli", "abc", REJECT),
    ("number", "json", "abc", REJECT),
    ("number", "json", math.nan, REJECT),
    ("number", "json", math.inf, REJECT),
    ("number", "json", -math.inf, REJECT),
    ("number", "cli", "nan", REJECT),
    ("number", "cli", "inf", REJECT),
    ("number", "cli", "Infinity", REJECT),
    ("number", "cli", "1e999", REJECT),
    ("number", "cli", "", REJECT),
    ("number", "cli", " 3", REJECT),
    ("number", "cli", "1_000", REJECT),
    ("number", "cli", "0x10", REJECT),
    ("number", "cli", "9" * 5000, REJECT),
    ("number", "json", [1], REJECT),
    ("number", "json", {"n": 1}, REJECT),
    ("number", "json", None, REJECT),
    # boolean: accepts bool
    ("boolean", "json", True, True),
    ("boolean", "json", False, False),
    # boolean: converts true/false/yes/no/on/off/1/0 (any case) and 0/1
    ("boolean", "cli", "true", True),
    ("boolean", "cli", "TRUE", True),
    ("boolean", "cli", "False", False),
    ("boolean", "cli", "yes", True),
    ("boolean", "cli", "No", False),
    ("boolean", "cli", "on", True),
    ("boolean", "cli", "OFF", False),
    ("boolean", "cli", "1", True),
    ("boolean", "cli", "0", False),
    ("boolean", "json", "yes", True),
    ("boolean", "json", 1, True),
    ("boolean", "json", 0, False),
    # boolean: rejects any other string, other numbers
    ("boolean", "cli", "banana", REJECT),
    ("boolean", "cli", "", REJECT),
    ("boolean", "cli", "y", REJECT),
    ("boolean", "cli", "2", REJECT),
    ("boolean", "json", 2, REJECT),
    ("boolean", "json", -1, REJECT),
    ("boolean", "json", 0.5, REJECT),
    ("boolean", "json", 1.0, REJECT),
    ("boolean", "json", [], REJECT),
    ("boolean", "json", None, REJECT),
    # array<string>: accepts a list of str
    ("array<string>", "json", ["a", "b"], ["a", "b"]),
    ("array<string>", "json", [], []),
    # array<string>: converts a single str → [str]; from the CLI a JSON array
    ("array<string>", "json", "a", ["a"]),
    ("array<string>", "json", '["a"]', ['["a"]']),  # JSON callers send real lists
    ("array<string>", "cli", "a", ["a"]),
    ("array<string>", "cli", "a,b", ["a,b"]),
    ("array<string>", "cli", '["a", "b"]', ["a", "b"]),
    ("array<string>", "cli", "[]", []),
    # array<string>: rejects non-str items and anything else
    ("array<string>", "json", [1], REJECT),
    ("array<string>", "json", ["a", None], REJECT),
    ("array<string>", "json", [["a"]], REJECT),
    ("array<string>", "cli", "[1, 2]", REJECT),
    ("array<string>", "cli", "[not json", REJECT),
    ("array<string>", "json", {"a": "b"}, REJECT),
    ("array<string>", "json", 3, REJECT),
    ("array<string>", "json", True, REJECT),
    ("array<string>", "json", None, REJECT),
    # object: accepts a dict
    ("object", "json", {"a": 1, "b": [1]}, {"a": 1, "b": [1]}),
    ("object", "json", {}, {}),
    # object: from the CLI a JSON object
    ("object", "cli", '{"a": 1}', {"a": 1}),
    ("object", "cli", "{}", {}),
    # object: rejects anything else
    ("object", "json", '{"a": 1}', REJECT),  # JSON callers send real objects
    ("object", "cli", "nope", REJECT),
    ("object", "cli", "[1]", REJECT),
    ("object", "cli", "1", REJECT),
    ("object", "json", [1], REJECT),
    ("object", "json", 3, REJECT),
    ("object", "json", True, REJECT),
    ("object", "json", None, REJECT),
]


def _row_id(row: tuple[str, str, Any, Any]) -> str:
    type_, source, value, expected = row
    verdict = "reject" if expected is REJECT else "accept"
    return f"{type_}-{source}-{verdict}-{value!r}"[:60]


@pytest.mark.parametrize(
    ("type_", "source", "value", "expected"),
    [pytest.param(*row, id=_row_id(row)) for row in ROWS],
)
def test_coercion_table(type_: str, source: str, value: Any, expected: Any) -> None:
    specs = {"x": InputSpec(type=type_)}  # type: ignore[arg-type]
    if expected is REJECT:
        with pytest.raises(InputError) as info:
            coerce_inputs(specs, {"x": value}, source=source)  # type: ignore[arg-type]
        (problem,) = info.value.problems
        assert problem.name == "x"
        assert problem.expected == type_
        assert problem.value == value or (
            isinstance(value, float) and math.isnan(value)
        )
        assert problem.message.startswith(f"input 'x': expected {type_}, got ")
    else:
        out = coerce_inputs(specs, {"x": value}, source=source)  # type: ignore[arg-type]
        assert out == {"x": expected}
        assert type(out["x"]) is type(expected)


def test_message_names_input_type_and_value() -> None:
    specs = {"max_items": InputSpec(type="number")}
    with pytest.raises(InputError) as info:
        coerce_inputs(specs, {"max_items": "abc"}, source="cli")
    assert str(info.value) == "input 'max_items': expected number, got 'abc'"
    assert info.value.to_dict()["problems"] == [
        {
            "input": "max_items",
            "message": "input 'max_items': expected number, got 'abc'",
            "expected": "number",
            "value": "abc",
        }
    ]
    assert info.value.exit_code == 2 and info.value.http_status == 422


SPECS = {
    "customer": InputSpec(type="string"),
    "question": InputSpec(type="string", required=True),
    "tier": InputSpec(
        type="string", default="free", has_default=True, enum=["free", "pro"]
    ),
    "max_items": InputSpec(type="number", default=3, has_default=True),
    "urgent": InputSpec(type="boolean", default=False, has_default=True),
    "tags": InputSpec(type="array<string>", required=False),
    "labels": InputSpec(type="array<string>", default=["a"], has_default=True),
    "account": InputSpec(type="object", required=False),
    "extra": InputSpec(type="object", default=None, has_default=True),
}


def test_defaults_and_optional_inputs() -> None:
    out = coerce_inputs(SPECS, {"customer": "Ada", "question": "Why?"})
    assert out == {
        "customer": "Ada",
        "question": "Why?",
        "tier": "free",
        "max_items": 3,
        "urgent": False,
        "tags": None,
        "labels": ["a"],
        "account": None,
        "extra": None,
    }
    out["labels"].append("mutated")
    assert SPECS["labels"].default == ["a"]  # defaults are handed out as copies


def test_null_for_optional_input_means_not_given() -> None:
    out = coerce_inputs(
        SPECS,
        {"customer": "A", "question": "Q", "tags": None, "max_items": None},
    )
    assert out["tags"] is None and out["max_items"] == 3


def test_missing_required_inputs_are_listed_together() -> None:
    with pytest.raises(InputError) as info:
        coerce_inputs(SPECS, {})
    problems = info.value.problems
    assert [p.name for p in problems] == ["customer", "question"]
    assert problems[0].message == "missing required input 'customer' (string)"
    assert str(info.value) == (
        "missing required input 'customer' (string); "
        "missing required input 'question' (string)"
    )


def test_unknown_inputs_are_errors() -> None:
    with pytest.raises(InputError) as info:
        coerce_inputs(SPECS, {"customer": "A", "question": "Q", "custmer": "x"})
    (problem,) = info.value.problems
    assert (problem.name, problem.message, problem.value) == (
        "custmer",
        "unknown input 'custmer'",
        "x",
    )


def test_every_problem_at_once() -> None:
    raw = {
        "nope": 1,
        "question": True,
        "max_items": "many",
        "urgent": "maybe",
        "tier": "gold",
        "tags": [1],
    }
    with pytest.raises(InputError) as info:
        coerce_inputs(SPECS, raw)
    assert [p.name for p in info.value.problems] == [
        "nope",
        "question",
        "tier",
        "max_items",
        "urgent",
        "tags",
        "customer",
    ]


@pytest.mark.parametrize(
    ("spec", "source", "value", "expected"),
    [
        (InputSpec(type="number", enum=[1, 2]), "cli", "2", 2),
        (InputSpec(type="number", enum=[1, 2]), "json", 2.0, 2.0),
        (InputSpec(type="number", enum=[1, 2]), "cli", "3", REJECT),
        (InputSpec(type="string", enum=["free", "pro"]), "json", "pro", "pro"),
        (InputSpec(type="string", enum=["free", "pro"]), "json", "Pro", REJECT),
        (InputSpec(type="string", enum=["1", "2"]), "json", 1, "1"),
        (InputSpec(type="boolean", enum=[True]), "cli", "yes", True),
        (InputSpec(type="boolean", enum=[True]), "cli", "no", REJECT),
    ],
)
def test_enum_is_enforced_after_coercion(
    spec: InputSpec, source: str, value: Any, expected: Any
) -> None:
    if expected is REJECT:
        with pytest.raises(InputError) as info:
            coerce_inputs({"x": spec}, {"x": value}, source=source)  # type: ignore[arg-type]
        (problem,) = info.value.problems
        assert problem.message.startswith("input 'x': expected one of ")
        assert f"got {value!r}" in problem.message
    else:
        assert coerce_inputs({"x": spec}, {"x": value}, source=source) == {  # type: ignore[arg-type]
            "x": expected
        }


def test_cli_pairs_then_coercion() -> None:
    pairs = parse_cli_pairs(
        ["customer=Ada", "question=a=b?", "max_items=5", 'tags=["x","y"]']
    )
    assert pairs["question"] == "a=b?"
    out = coerce_inputs(SPECS, pairs, source="cli")
    assert out["max_items"] == 5 and out["tags"] == ["x", "y"]


@pytest.mark.parametrize(
    ("pairs", "names", "needle"),
    [
        (["novalue"], ["novalue"], "expected key=value"),
        (["=x"], ["=x"], "expected key=value"),
        (["a=1", "a=2"], ["a"], "given more than once"),
        (["ok=1", "bad", "=z"], ["bad", "=z"], "expected key=value"),
    ],
)
def test_cli_pairs_errors(pairs: list[str], names: list[str], needle: str) -> None:
    with pytest.raises(InputError) as info:
        parse_cli_pairs(pairs)
    assert [p.name for p in info.value.problems] == names
    assert needle in info.value.problems[0].message


def test_cli_pairs_empty_value_is_allowed() -> None:
    assert parse_cli_pairs(["a=", "b= x "]) == {"a": "", "b": " x "}


def test_inputs_not_a_mapping() -> None:
    with pytest.raises(InputError):
        coerce_inputs(SPECS, ["customer"])  # type: ignore[arg-type]


# -- exact messages (mutation-tested, docs/mutation.md) ---------------------------------


def test_show_value_renders_each_kind() -> None:
    assert show_value(None) == "null"
    assert show_value(3) == "3"
    assert show_value(2.5) == "2.5"
    assert show_value(True) == "true"
    assert show_value(False) == "false"
    assert show_value("a") == "'a'"
    assert show_value(["a", 1]) == '["a", 1]'
    assert show_value({"é": object}) == '{"é": "<class \'object\'>"}'


def test_show_value_falls_back_to_repr_when_json_cannot() -> None:
    assert show_value({(1, 2): 1}) == "{(1, 2): 1}"  # TypeError: keys must be str
    loop: list[Any] = []
    loop.append(loop)
    assert show_value(loop) == "[[...]]"  # ValueError: circular reference


def test_show_value_cuts_at_the_limit() -> None:
    assert show_value("x" * 58) == "'" + "x" * 58 + "'"  # 60 characters: kept
    cut = show_value("x" * 59)  # 61 characters: cut to 60, the last one "…"
    assert cut == "'" + "x" * 58 + "…"
    assert len(show_value("y" * 1000)) == 60
    assert show_value("abcdef", limit=5) == "'abc…"
    assert show_value("abc", limit=5) == "'abc'"


@pytest.mark.parametrize("type_", ["a", "zzz", "nothing"])
def test_an_unknown_type_is_refused_by_the_coercer_too(type_: str) -> None:
    # the model allows only the five types; the coercer still refuses any other
    with pytest.raises(_Reject) as info:
        _coerce(type_, "x", "json")
    assert info.value.detail == f" (unknown type {type_!r})"


def test_source_is_keyword_only() -> None:
    specs = {"x": InputSpec(type="array<string>")}
    assert coerce_inputs(specs, {"x": '["a"]'}, source="cli") == {"x": ["a"]}
    assert coerce_inputs(specs=specs, raw={"x": '["a"]'}) == {"x": ['["a"]']}
    with pytest.raises(TypeError):
        coerce_inputs(specs, {"x": "a"}, "cli")  # type: ignore[misc]
