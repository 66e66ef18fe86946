"""The rules of a review, pure: input compatibility, version sizing, issue levels.

``classify_input`` classifies one input change (breaking / risky / compatible);
``version_report`` says whether a version step is valid (docs/design.md §5) and sized right (a
breaking change needs a major bump, a 0.x minor counts as major); ``blocking_issues``
applies ``--fail-on``. ``review`` builds on these.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from dakora.registry.checks import version_step_valid
from dakora.registry.core import InputSpec, Prompt, bump_kind

Compat = Literal["breaking", "risky", "compatible"]
Verdict = Literal["breaking", "risky", "compatible", "unchanged"]
Level = Literal["error", "breaking", "risky", "info"]
FailOn = Literal["error", "breaking", "risky", "never"]
Bump = Literal["major", "minor", "patch", "none", "invalid"]

FAIL_ON_LEVELS: tuple[str, ...] = ("error", "breaking", "risky", "never")
_LEVEL_RANK: dict[str, int] = {"error": 3, "breaking": 2, "risky": 1, "info": 0}
_FAIL_ON_RANK: dict[str, int] = {"error": 3, "breaking": 2, "risky": 1, "never": 99}
_COMPAT_RANK: dict[str, int] = {
    "breaking": 3,
    "risky": 2,
    "compatible": 1,
    "unchanged": 0,
}


class HasPrompt(Protocol):
    @property
    def prompt(self) -> Prompt: ...


class _Model(BaseModel):
    # ignore: a newer server may add fields within schema version 1 (never remove)
    model_config = ConfigDict(extra="ignore")


class InputChange(_Model):
    """One change of one input, classified."""

    kind: str  # removed, added-required, added-optional, type-changed, now-required,
    # now-optional, enum-added, enum-removed, enum-values-removed, enum-values-added,
    # default-changed, description-changed
    compat: Compat
    message: str


class InputReport(_Model):
    name: str
    verdict: Verdict
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    changes: list[InputChange] = Field(default_factory=list)


class VersionReport(_Model):
    old: str | None
    new: str | None
    bump: Bump | None  # how big the step old → new is; None for added/removed
    valid: bool  # False: content changed without a semver-greater version
    required_bump: Literal["major", "none"]  # major when a breaking change is in it
    sized_ok: bool  # False: a breaking change with a patch/minor bump
    message: str | None = None


class Issue(_Model):
    level: Level
    code: str
    message: str
    prompt: str | None = None
    path: str | None = None


def blocking_issues(issues: list[Issue], fail_on: str) -> list[Issue]:
    """The issues at ``fail_on`` level or above (none for ``never``)."""
    if fail_on not in _FAIL_ON_RANK:
        raise ValueError(f"unknown --fail-on level {fail_on!r}")
    threshold = _FAIL_ON_RANK[fail_on]
    return [i for i in issues if _LEVEL_RANK[i.level] >= threshold]


# --- input compatibility -------------------------------------------------------------


def _fmt(value: Any) -> str:
    return repr(value) if isinstance(value, str) else _json_like(value)


def _canon(value: Any) -> str:
    """A comparison key that keeps 0, False and "0" apart."""
    return json.dumps(value, sort_keys=True, default=str)


def _json_like(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def classify_input(
    name: str, old: InputSpec | None, new: InputSpec | None
) -> list[InputChange]:
    """Every change of one input between BASE (old) and HEAD (new), classified.

    breaking: removed (inputs are strict: callers still sending it get an error), type
    changed, optional → required, new required input without default, enum values
    removed (or an enum added where there was none); risky: default changed;
    compatible: new optional input, required → optional, enum values added,
    description-only changes.
    """
    if old is None and new is None:
        return []
    if old is None:
        assert new is not None
        if new.is_required:
            return [
                InputChange(
                    kind="added-required",
                    compat="breaking",
                    message=f"new required input '{name}' without default: callers "
                    "that don't send it now get an error",
                )
            ]
        return [
            InputChange(
                kind="added-optional",
                compat="compatible",
                message=f"new optional input '{name}'",
            )
        ]
    if new is None:
        return [
            InputChange(
                kind="removed",
                compat="breaking",
                message=f"input '{name}' removed: callers still sending it now get "
                f"an error (unknown input '{name}')",
            )
        ]
    out = _type_and_required_changes(old, new)
    out += _enum_changes(old, new)
    out += _default_and_description_changes(old, new)
    return out


def _type_and_required_changes(old: InputSpec, new: InputSpec) -> list[InputChange]:
    out: list[InputChange] = []
    if old.type != new.type:
        out.append(
            InputChange(
                kind="type-changed",
                compat="breaking",
                message=f"type changed: {old.type} → {new.type}",
            )
        )
    if not old.is_required and new.is_required:
        out.append(
            InputChange(
                kind="now-required",
                compat="breaking",
                message="optional → required: callers that omit it now get an error",
            )
        )
    elif old.is_required and not new.is_required:
        out.append(
            InputChange(
                kind="now-optional",
                compat="compatible",
                message="required → optional",
            )
        )
    return out


def _enum_changes(old: InputSpec, new: InputSpec) -> list[InputChange]:
    out: list[InputChange] = []
    if old.enum is not None and new.enum is not None:
        removed = [v for v in old.enum if v not in new.enum]
        added = [v for v in new.enum if v not in old.enum]
        if removed:
            out.append(
                InputChange(
                    kind="enum-values-removed",
                    compat="breaking",
                    message="enum values removed: "
                    + ", ".join(_fmt(v) for v in removed),
                )
            )
        if added:
            out.append(
                InputChange(
                    kind="enum-values-added",
                    compat="compatible",
                    message="enum values added: " + ", ".join(_fmt(v) for v in added),
                )
            )
    elif old.enum is None and new.enum is not None:
        out.append(
            InputChange(
                kind="enum-added",
                compat="breaking",
                message="enum added: only "
                + ", ".join(_fmt(v) for v in new.enum)
                + " accepted now",
            )
        )
    elif old.enum is not None and new.enum is None:
        out.append(
            InputChange(
                kind="enum-removed",
                compat="compatible",
                message="enum removed: any value accepted now",
            )
        )
    return out


def _default_and_description_changes(
    old: InputSpec, new: InputSpec
) -> list[InputChange]:
    out: list[InputChange] = []
    if not old.is_required and not new.is_required:
        old_default = old.default if old.has_default else None
        new_default = new.default if new.has_default else None
        if old.has_default != new.has_default or _canon(old_default) != _canon(
            new_default
        ):
            out.append(
                InputChange(
                    kind="default-changed",
                    compat="risky",
                    message=f"default changed: {_fmt(old_default)} → "
                    f"{_fmt(new_default)} (callers relying on it get other output)",
                )
            )
    if (old.description or None) != (new.description or None):
        out.append(
            InputChange(
                kind="description-changed",
                compat="compatible",
                message="description changed",
            )
        )
    return out


def worst(values: Iterable[str]) -> Verdict:
    best: Verdict = "unchanged"
    for v in values:
        if _COMPAT_RANK[v] > _COMPAT_RANK[best]:
            best = v  # type: ignore[assignment]
    return best


def compare_inputs(old: Prompt | None, new: Prompt | None) -> list[InputReport]:
    """An ``InputReport`` for every input that changed, in HEAD order, then removed."""
    old_inputs = old.inputs if old is not None else {}
    new_inputs = new.inputs if new is not None else {}
    names = list(new_inputs) + [n for n in old_inputs if n not in new_inputs]
    reports: list[InputReport] = []
    for name in names:
        o, n = old_inputs.get(name), new_inputs.get(name)
        changes = classify_input(name, o, n)
        if not changes:
            continue
        reports.append(
            InputReport(
                name=name,
                verdict=worst([c.compat for c in changes]),
                before=o.public_dict() if o is not None else None,
                after=n.public_dict() if n is not None else None,
                changes=changes,
            )
        )
    return reports


def version_report(
    old: HasPrompt | None,
    new: HasPrompt | None,
    content_changed: bool,
    breaking: bool,
) -> VersionReport:
    old_v = old.prompt.version if old else None
    new_v = new.prompt.version if new else None
    required: Literal["major", "none"] = "major" if breaking else "none"
    if old_v is None or new_v is None:
        return VersionReport(
            old=old_v,
            new=new_v,
            bump=None,
            valid=True,
            required_bump=required,
            sized_ok=True,
        )
    bump: Bump = bump_kind(old_v, new_v)
    changed = content_changed or old_v != new_v
    valid = version_step_valid(old_v, new_v, changed=changed)
    message: str | None = None
    if not valid:
        message = (
            f"content changed but version {old_v} was not bumped"
            if old_v == new_v
            else f"version {new_v} is not semver-greater than {old_v}"
        )
    sized_ok = not breaking or bump == "major"
    if valid and not sized_ok:
        message = (
            f"breaking change with a {bump} bump ({old_v} → {new_v}): "
            "needs a major bump"
        )
    return VersionReport(
        old=old_v,
        new=new_v,
        bump=bump,
        valid=valid,
        required_bump=required,
        sized_ok=sized_ok,
        message=message,
    )
