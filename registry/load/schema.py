"""Validation of a parsed prompt mapping into findings (the rules of ``LOADER_RULES``
after YAML parsing): unknown keys, id pattern, version string and semver, template
xor messages, input names, types, enums and defaults, examples that don't fit the
inputs; Pydantic's remaining errors mapped to the right line."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from dakora.registry.core import (
    ID_PATTERN,
    INPUT_TYPES,
    SEMVER_PATTERN,
    TOP_LEVEL_KEYS,
    Finding,
    Message,
    Prompt,
)
from dakora.registry.load.yaml_lines import key_line

_INPUT_KEYS = ("type", "required", "default", "description", "enum")
_MESSAGE_KEYS = ("role", "content")
_INPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TYPE_ALIASES = {
    "str": "string",
    "text": "string",
    "int": "number",
    "integer": "number",
    "float": "number",
    "bool": "boolean",
    "list": "array<string>",
    "array": "array<string>",
    "list<string>": "array<string>",
    "array[string]": "array<string>",
    "dict": "object",
    "map": "object",
    "mapping": "object",
}


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


def value_matches_type(value: Any, type_: str) -> bool:
    """Does a YAML value (a default, an enum entry) have the declared input type?"""
    if type_ == "string":
        return isinstance(value, str)
    if type_ == "number":
        return (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
        )
    if type_ == "boolean":
        return isinstance(value, bool)
    if type_ == "array<string>":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if type_ == "object":
        return isinstance(value, dict)
    return False


def _bool_hint(value: Any, type_: str) -> str:
    if isinstance(value, bool) and type_ == "string":
        return " (YAML reads yes/no/on/off/true/false as booleans: quote it)"
    if isinstance(value, int | float) and type_ == "string":
        return " (quote it to make it a string)"
    return ""


class PromptChecker:
    def __init__(
        self, path: str, lines: dict[str, int], raw: dict[str, str] | None = None
    ) -> None:
        self.path = path
        self.lines = lines
        self.raw = raw or {}
        self.findings: list[Finding] = []
        self.handled: set[str] = set()

    def error(self, key: str, message: str, rule: str) -> None:
        self.findings.append(
            Finding.error(self.path, key_line(self.lines, key), message, rule)
        )
        self.handled.add(key)

    def warn(self, key: str, message: str, rule: str) -> None:
        self.findings.append(
            Finding.warning(self.path, key_line(self.lines, key), message, rule)
        )

    def is_handled(self, key: str) -> bool:
        return any(key == h or key.startswith(h + ".") or not h for h in self.handled)

    # ---- top level -------------------------------------------------------------

    def check(self, data: dict[Any, Any]) -> dict[str, Any]:
        clean: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(key, str) and key in TOP_LEVEL_KEYS:
                clean[key] = value
                continue
            self.error(
                str(key),
                f"unknown top-level key '{key}'{did_you_mean(str(key), TOP_LEVEL_KEYS)}",
                "unknown-key",
            )
        self._check_id(clean)
        self._check_version(clean)
        self._check_body(clean)
        if "inputs" in clean:
            clean["inputs"] = self._check_inputs(clean["inputs"])
        return clean

    def _check_id(self, data: dict[str, Any]) -> None:
        if "id" not in data:
            self.error("id", "missing required key 'id'", "schema")
            return
        value = data["id"]
        if not isinstance(value, str):
            self.error(
                "id",
                f"id must be a string, got {type_name(value)} {value!r}",
                "id-pattern",
            )
        elif not ID_PATTERN.match(value):
            self.error(
                "id",
                f"id '{value}' is not valid: use 1-128 lowercase letters, digits, "
                "'.', '_' or '-', starting with a letter or digit",
                "id-pattern",
            )

    def _check_version(self, data: dict[str, Any]) -> None:
        if "version" not in data:
            self.error("version", "missing required key 'version'", "schema")
            return
        value = data["version"]
        if isinstance(value, str):
            if not SEMVER_PATTERN.match(value):
                self.error(
                    "version",
                    f"version '{value}' is not semver: use MAJOR.MINOR.PATCH, "
                    'e.g. "1.0.0"',
                    "version-not-semver",
                )
            return
        if isinstance(value, int | float) and not isinstance(value, bool):
            text = self.raw.get("version") or str(value)
            semver = text + ".0" * max(0, 2 - text.count("."))
            hint = f'quote it: version: "{semver}"'
            if semver.count(".") != 2 or not SEMVER_PATTERN.match(semver):
                hint = 'quote it, e.g. version: "1.0.0"'
            self.error(
                "version",
                f"version must be a string, got the number {text}: YAML reads "
                f"an unquoted {text} as a number; {hint}",
                "version-not-string",
            )
            return
        self.error(
            "version",
            f'version must be a quoted string like "1.0.0", got {type_name(value)}',
            "version-not-string",
        )

    def _check_body(self, data: dict[str, Any]) -> None:
        has_t = data.get("template") is not None
        has_m = data.get("messages") is not None
        if has_t and has_m:
            self.error(
                "messages",
                "a prompt has either 'template' (text) or 'messages' (chat), not both",
                "template-xor-messages",
            )
            self.handled.add("template")
        elif not has_t and not has_m:
            key = "template" if "template" in data else "messages"
            self.error(
                key,
                "a prompt needs exactly one of 'template' (text) or 'messages' (chat)",
                "template-xor-messages",
            )
            self.handled.add("template")
        messages = data.get("messages")
        if has_m:
            if not isinstance(messages, list):
                self.error(
                    "messages",
                    "messages must be a list of {role, content} mappings, got "
                    f"{type_name(messages)}",
                    "schema",
                )
            elif not messages:
                self.error("messages", "messages must not be empty", "schema")
            else:
                for i, msg in enumerate(messages):
                    if not isinstance(msg, dict):
                        continue
                    for key in msg:
                        if key not in _MESSAGE_KEYS:
                            self.error(
                                f"messages.{i}.{key}",
                                f"unknown key '{key}' in messages[{i}]"
                                f"{did_you_mean(str(key), _MESSAGE_KEYS)}",
                                "unknown-key",
                            )

    # ---- inputs ------------------------------------------------------------------

    def _check_inputs(self, inputs: Any) -> Any:
        if inputs is None:
            return {}
        if not isinstance(inputs, dict):
            self.error(
                "inputs",
                "inputs must be a mapping of name -> {type: …}, got "
                f"{type_name(inputs)}",
                "schema",
            )
            return inputs
        out: dict[Any, Any] = {}
        for name, spec in inputs.items():
            key = f"inputs.{name}"
            if not isinstance(name, str) or not _INPUT_NAME.match(name):
                self.error(
                    key,
                    f"input name '{name}' is not valid: use letters, digits and '_', "
                    "not starting with a digit (templates refer to it as a variable)",
                    "input-name",
                )
                continue
            if spec is None:
                spec = {}
            if not isinstance(spec, dict):
                hint = (
                    f" (write {name}: {{type: {spec}}})"
                    if isinstance(spec, str)
                    else ""
                )
                self.error(
                    key,
                    f"input '{name}' must be a mapping like {{type: string}}, got "
                    f"{type_name(spec)}{hint}",
                    "schema",
                )
                continue
            out[name] = self._check_input(name, spec)
        return out

    def _check_input(self, name: str, spec: dict[Any, Any]) -> dict[str, Any]:
        key = f"inputs.{name}"
        clean: dict[str, Any] = {}
        for k, v in spec.items():
            if k in _INPUT_KEYS:
                clean[k] = v
            else:
                self.error(
                    f"{key}.{k}",
                    f"unknown key '{k}' in input '{name}'"
                    f"{did_you_mean(str(k), _INPUT_KEYS)}",
                    "unknown-key",
                )
        type_ = clean.get("type", "string")
        type_ok = isinstance(type_, str) and type_ in INPUT_TYPES
        if not type_ok:
            hint = ""
            if isinstance(type_, str):
                alias = _TYPE_ALIASES.get(type_.lower())
                hint = f" (did you mean '{alias}'?)" if alias else ""
                hint = hint or did_you_mean(type_, INPUT_TYPES)
            self.error(
                f"{key}.type",
                f"input '{name}': unknown type {type_!r}{hint}; expected one of "
                + ", ".join(INPUT_TYPES),
                "input-type",
            )
        enum = clean.get("enum")
        enum_ok = True
        if enum is not None:
            if not isinstance(enum, list) or not enum:
                self.error(
                    f"{key}.enum",
                    f"input '{name}': enum must be a non-empty list",
                    "schema",
                )
                enum_ok = False
            elif type_ok:
                for i, item in enumerate(enum):
                    if not value_matches_type(item, type_):
                        self.error(
                            f"{key}.enum.{i}",
                            f"input '{name}': enum value {item!r} is not a {type_}"
                            f"{_bool_hint(item, type_)}",
                            "enum-type",
                        )
                        enum_ok = False
        has_default = "default" in clean
        if has_default and clean["default"] is not None and type_ok:
            default = clean["default"]
            if not value_matches_type(default, type_):
                self.error(
                    f"{key}.default",
                    f"input '{name}': default {default!r} is not a {type_}"
                    f"{_bool_hint(default, type_)}",
                    "default-type",
                )
            elif enum is not None and enum_ok and default not in enum:
                self.error(
                    f"{key}.default",
                    f"input '{name}': default {default!r} is not one of the enum "
                    f"values {enum!r}",
                    "default-type",
                )
        if has_default and clean.get("required") is True:
            self.warn(
                f"{key}.required",
                f"input '{name}' has a default, so 'required: true' has no effect",
                "required-with-default",
            )
        clean["has_default"] = has_default
        return clean

    # ---- pydantic ----------------------------------------------------------------

    def pydantic_errors(self, exc: ValidationError) -> None:
        for error in exc.errors(include_url=False):
            loc = [str(p) for p in error["loc"]]
            dotted = ".".join(loc)
            if self.is_handled(dotted):
                continue
            etype = error["type"]
            if etype == "missing":
                parent = ".".join(loc[:-1])
                where = f" in {parent}" if parent else ""
                message = f"missing required key '{loc[-1]}'{where}"
                line_key = parent or dotted
            elif etype == "extra_forbidden":
                known: Iterable[str] = ()
                if loc and loc[0] == "messages":
                    known = Message.model_fields
                elif loc and loc[0] == "inputs":
                    known = _INPUT_KEYS
                message = f"unknown key '{loc[-1]}'{did_you_mean(loc[-1], known)}"
                self.findings.append(
                    Finding.error(
                        self.path, key_line(self.lines, dotted), message, "unknown-key"
                    )
                )
                continue
            else:
                got = type_name(error.get("input"))
                message = f"{dotted}: {error['msg'][0].lower()}{error['msg'][1:]}"
                if etype.endswith("_type"):
                    message += f", got {got}"
                line_key = dotted
            self.findings.append(
                Finding.error(
                    self.path, key_line(self.lines, line_key), message, "schema"
                )
            )


def check_examples(checker: PromptChecker, prompt: Prompt) -> None:
    from dakora.registry.core import InputError, coerce_inputs

    for i, example in enumerate(prompt.examples):
        try:
            coerce_inputs(prompt.inputs, example)
        except InputError as exc:
            for problem in exc.problems:
                checker.error(
                    f"examples.{i}",
                    f"examples[{i}]: {problem.message}",
                    "example-inputs",
                )
