"""The pure rules of ``dakora review``: input compatibility, version sizing, levels."""

from __future__ import annotations

from typing import Any

import pytest

from dakora.registry.core.model import InputSpec
from dakora.registry.review.format import _fence
from dakora.registry.review.renders import unified_diff
from dakora.registry.review.rules import (
    Issue,
    blocking_issues,
    classify_input,
    version_report,
)


def spec(**kw: Any) -> InputSpec:
    if "default" in kw:
        kw["has_default"] = True
    return InputSpec(**kw)


def kinds(old: InputSpec | None, new: InputSpec | None) -> dict[str, str]:
    return {c.kind: c.compat for c in classify_input("x", old, new)}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (spec(), None, {"removed": "breaking"}),
        (None, spec(), {"added-required": "breaking"}),
        (None, spec(required=False), {"added-optional": "compatible"}),
        (None, spec(default="a"), {"added-optional": "compatible"}),
        (spec(), spec(type="number"), {"type-changed": "breaking"}),
        (spec(required=False), spec(), {"now-required": "breaking"}),
        (spec(default="a"), spec(), {"now-required": "breaking"}),
        (spec(), spec(required=False), {"now-optional": "compatible"}),
        (
            spec(default="a", enum=["a", "b"]),
            spec(default="a", enum=["a", "c"]),
            {"enum-values-removed": "breaking", "enum-values-added": "compatible"},
        ),
        (spec(default="a"), spec(default="a", enum=["a"]), {"enum-added": "breaking"}),
        (
            spec(default="a", enum=["a"]),
            spec(default="a"),
            {"enum-removed": "compatible"},
        ),
        (spec(default=3), spec(default=5), {"default-changed": "risky"}),
        (spec(required=False), spec(default="x"), {"default-changed": "risky"}),
        (
            spec(description="a"),
            spec(description="b"),
            {"description-changed": "compatible"},
        ),
        (spec(required=True), spec(), {}),
        (spec(default=0), spec(default=0), {}),
    ],
)
def test_classify_input(
    old: InputSpec | None, new: InputSpec | None, expected: dict[str, str]
) -> None:
    assert kinds(old, new) == expected


def test_removed_input_message_says_callers_get_an_error() -> None:
    (change,) = classify_input("legacy", spec(), None)
    assert "unknown input 'legacy'" in change.message


def test_default_change_keeps_zero_and_false_distinct_from_none() -> None:
    assert kinds(spec(default=False), spec(default=0)) == {"default-changed": "risky"}
    assert kinds(spec(default="1"), spec(default=1)) == {"default-changed": "risky"}
    assert kinds(spec(default=False), spec(required=False)) == {
        "default-changed": "risky"
    }


class _L:
    def __init__(self, version: str) -> None:
        from dakora.registry.core.model import Prompt

        self.prompt = Prompt(id="p", version=version, template="x")


@pytest.mark.parametrize(
    ("old", "new", "changed", "breaking", "valid", "sized_ok", "bump"),
    [
        ("1.0.0", "1.0.0", True, False, False, True, "none"),
        ("1.0.0", "0.9.0", True, False, False, True, "none"),
        ("1.0.0", "1.0.0", False, False, True, True, "none"),
        ("1.0.0", "1.0.1", True, False, True, True, "patch"),
        ("1.0.0", "1.1.0", True, True, True, False, "minor"),
        ("1.0.0", "1.0.1", True, True, True, False, "patch"),
        ("1.0.0", "2.0.0", True, True, True, True, "major"),
        ("0.3.0", "0.4.0", True, True, True, True, "major"),
        ("0.3.0", "0.3.1", True, True, True, False, "patch"),
        ("1.0.0", "1.0.1", False, False, True, True, "patch"),
    ],
)
def test_version_rules(
    old: str,
    new: str,
    changed: bool,
    breaking: bool,
    valid: bool,
    sized_ok: bool,
    bump: str,
) -> None:
    v = version_report(_L(old), _L(new), changed, breaking)  # type: ignore[arg-type]
    assert (v.valid, v.sized_ok, v.bump) == (valid, sized_ok, bump)
    assert v.required_bump == ("major" if breaking else "none")
    assert (v.message is None) == (valid and sized_ok)


def test_fail_on_levels() -> None:
    issues = [
        Issue(level=level, code=level, message=level)
        for level in ("error", "breaking", "risky", "info")
    ]
    assert [i.level for i in blocking_issues(issues, "error")] == ["error"]
    assert [i.level for i in blocking_issues(issues, "breaking")] == [
        "error",
        "breaking",
    ]
    assert [i.level for i in blocking_issues(issues, "risky")] == [
        "error",
        "breaking",
        "risky",
    ]
    assert blocking_issues(issues, "never") == []
    with pytest.raises(ValueError):
        blocking_issues(issues, "warning")


def test_unified_diff_is_git_style() -> None:
    assert unified_diff("a\n", "a\n", "a/x", "b/x") == ""
    text = unified_diff("a\nb\n", "a\nc\n", "a/x", "b/x")
    assert text.splitlines() == [
        "--- a/x",
        "+++ b/x",
        "@@ -1,2 +1,2 @@",
        " a",
        "-b",
        "+c",
    ]
    added = unified_diff(None, "new\n", "a/x", "b/x")
    assert added.splitlines()[:2] == ["--- /dev/null", "+++ b/x"]


def test_fence_is_longer_than_backticks_inside() -> None:
    assert _fence("```diff\n+x\n```", "diff").startswith("````diff\n")
    assert _fence("plain").startswith("```\n")


def test_every_json_field_is_documented() -> None:
    from pathlib import Path

    from dakora.registry.review import report as r
    from dakora.registry.review import rules

    doc = (
        Path(__file__).resolve().parents[2] / "docs" / "review-schema.md"
    ).read_text()
    models = [
        r.ReviewReport,
        r.Side,
        r.Summary,
        rules.Issue,
        r.PromptReview,
        rules.VersionReport,
        rules.InputReport,
        rules.InputChange,
        r.RenderReport,
        r.PartChange,
    ]
    missing = [
        f"{m.__name__}.{name}"
        for m in models
        for name in m.model_fields
        if f"`{name}`" not in doc and f'"{name}"' not in doc
    ]
    assert missing == []
    assert f"version {r.SCHEMA_VERSION}" in doc


# --- the cases the mutation run found untested (docs/mutation.md) ---------------------


def test_worst_is_the_highest_verdict_in_any_order() -> None:
    from itertools import permutations

    from dakora.registry.review.rules import worst

    order = ["unchanged", "compatible", "risky", "breaking"]
    assert worst([]) == "unchanged"
    for size in range(1, 5):
        for values in permutations(order, size):
            expected = max(values, key=order.index)
            assert worst(values) == expected, values
    assert worst(["risky", "breaking", "risky"]) == "breaking"
    assert worst(["compatible", "risky", "compatible"]) == "risky"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("1.0.0", "1.0.0", "content changed but version 1.0.0 was not bumped"),
        ("1.0.0", "0.9.0", "version 0.9.0 is not semver-greater than 1.0.0"),
        # "10.0.0" < "9.0.0" as strings: the comparison must not be a string order
        ("10.0.0", "9.0.0", "version 9.0.0 is not semver-greater than 10.0.0"),
        ("9.0.0", "10.0.0", None),
    ],
)
def test_version_message_names_the_right_mistake(
    old: str, new: str, message: str | None
) -> None:
    v = version_report(_L(old), _L(new), True, False)  # type: ignore[arg-type]
    assert v.message == message


def test_unchanged_content_with_the_same_version_is_valid_whatever_the_strings() -> (
    None
):
    # equal versions that are distinct string objects: equality, not identity
    old, new = "".join(["1.", "0.0"]), "".join(["1.0", ".0"])
    assert old == new and old is not new
    v = version_report(_L(old), _L(new), False, False)  # type: ignore[arg-type]
    assert (v.valid, v.bump, v.message) == (True, "none", None)


@pytest.mark.parametrize(("old", "new"), [("1.0.0", "0.9.0"), ("10.0.0", "9.0.0")])
def test_a_lower_version_is_invalid_even_when_the_content_is_the_same(
    old: str, new: str
) -> None:
    # the version itself changed, so the step must be semver-greater
    v = version_report(_L(old), _L(new), False, False)  # type: ignore[arg-type]
    assert v.valid is False
    assert v.message == f"version {new} is not semver-greater than {old}"


def test_a_breaking_change_with_a_non_semver_version_is_not_sized_right() -> None:
    v = version_report(_L("1.0.0"), _L("banana"), True, True)  # type: ignore[arg-type]
    assert v.bump == "invalid"
    assert v.sized_ok is False


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (spec(default=None), spec(required=False)),  # explicit null default dropped
        (spec(required=False), spec(default=None)),  # explicit null default added
    ],
)
def test_an_explicit_null_default_added_or_removed_is_a_default_change(
    old: InputSpec, new: InputSpec
) -> None:
    assert kinds(old, new) == {"default-changed": "risky"}


def test_object_defaults_compare_by_content_not_key_order() -> None:
    old = spec(type="object", default={"a": 1, "b": 2})
    new = spec(type="object", default={"b": 2, "a": 1})
    assert kinds(old, new) == {}


@pytest.mark.parametrize(
    ("kind", "old", "new", "text"),
    [
        ("number", 1, 2, "default changed: 1 → 2"),
        ("number", 0, 5, "default changed: 0 → 5"),
        ("number", -3, 4, "default changed: -3 → 4"),
        ("number", 1.0, 0.0, "default changed: 1.0 → 0.0"),
        ("boolean", True, False, "default changed: true → false"),
        ("string", None, "a", "default changed: null → 'a'"),
    ],
)
def test_default_change_message_spells_values_as_json(
    kind: str, old: Any, new: Any, text: str
) -> None:
    before, after = spec(type=kind, default=old), spec(type=kind, default=new)
    (change,) = classify_input("x", before, after)
    assert change.message.startswith(text)
