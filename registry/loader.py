"""YAML loading of prompt files and ``dakora.yaml`` with ``path:line`` errors.

Built on PyYAML's C loader (CSafeLoader, SafeLoader when libyaml is missing) with
duplicate keys refused. The node tree is composed once; a walk over it refuses
duplicate keys and alias bombs and records the line of every key, then the tree is
constructed and validated. Reports, as findings (never exceptions escaping as
tracebacks): syntax errors, duplicate keys, unknown top-level keys, a non-string
``version`` (``version: 1.0``), a non-semver version, both/neither of
template/messages, bad input types, defaults that don't match their type, ids that
break ``ID_PATTERN``.

Rule ids (stable): see ``LOADER_RULES``.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from dakora.registry.errors import InvalidPrompt
from dakora.registry.findings import Finding, has_errors
from dakora.registry.model import (
    ID_PATTERN,
    INPUT_TYPES,
    SEMVER_PATTERN,
    TOP_LEVEL_KEYS,
    Message,
    Prompt,
)

LOADER_RULES: dict[str, str] = {
    "yaml-syntax": "the file is not valid YAML (or not UTF-8, or too complex)",
    "empty-file": "the file holds no YAML document",
    "not-a-mapping": "the top level of the file is not a mapping",
    "duplicate-key": "a key appears twice in the same mapping",
    "unknown-key": "a key the format does not know (typo?)",
    "version-not-string": "version is a number/date, not a quoted string",
    "version-not-semver": "version is not a semver string",
    "template-xor-messages": "a prompt needs exactly one of template / messages",
    "input-name": "an input name is not a valid identifier",
    "input-type": "an input's type is not one of the known types",
    "enum-type": "an enum value does not match the input's type",
    "default-type": "a default does not match its input's type or enum",
    "required-with-default": "required: true has no effect on an input with a default",
    "id-pattern": "the id breaks the id pattern",
    "schema": "any other shape problem",
    "example-inputs": "an example does not fit the declared inputs",
}

# An alias can make a tiny file expand to a huge tree ("billion laughs"): refuse
# documents whose expanded node count passes this.
MAX_YAML_NODES = 200_000

_INPUT_KEYS = ("type", "required", "default", "description", "enum")
_MESSAGE_KEYS = ("role", "content")
_CONFIG_KEYS = (
    "default_branch",
    "protected_refs",
    "prompts_dir",
    "parts_dir",
    "name",
    "description",
)
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

_Base: type[yaml.SafeLoader]
try:  # pragma: no branch - depends on how PyYAML was built
    _Base = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - libyaml missing
    _Base = yaml.SafeLoader


class _Loader(_Base):  # type: ignore[misc, valid-type]
    """Safe loader; timestamps stay strings so data remains JSON-shaped."""


_Loader.add_constructor(
    "tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str
)


@dataclass(frozen=True)
class LoadedPrompt:
    """A prompt with where it came from.

    ``lines`` maps dotted key paths to 1-based line numbers: ``"id"``, ``"version"``,
    ``"template"`` (line of the key), ``"messages.0.content"``, ``"inputs.customer"``,
    ``"inputs.customer.default"``… so checks can point at the right line. For every
    scalar value, ``"<key>@text"`` is the line where its text starts (the line after
    ``|``/``>`` for a block scalar), for mapping Jinja2 line numbers back to the
    file: see ``text_line``. ``findings`` holds the warnings of a prompt that loaded.
    """

    prompt: Prompt
    path: str
    blob_sha: str | None = None
    lines: dict[str, int] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()

    def line_of(self, key: str, default: int | None = 1) -> int | None:
        return self.lines.get(key, default)

    def text_line(self, key: str) -> int:
        """First file line of the text of ``key`` (e.g. ``"template"``,
        ``"messages.0.content"``): Jinja line N is file line ``text_line + N - 1``."""
        line = self.lines.get(f"{key}@text") or self.lines.get(key)
        return line or 1

    @property
    def template_line(self) -> int:
        return self.text_line("template")

    def source_line(self, label: str) -> int:
        """``text_line`` for a ``Prompt.sources()`` label (``template``,
        ``messages[i]``)."""
        if label.startswith("messages["):
            return self.text_line(f"messages.{label[9:-1]}.content")
        return self.text_line(label)


@dataclass(frozen=True)
class RepoConfig:
    """``dakora.yaml`` (all optional)."""

    default_branch: str = "main"
    protected_refs: tuple[str, ...] = ()
    prompts_dir: str = "prompts"
    parts_dir: str = "parts"
    raw: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- YAML


class _YamlProblem(Exception):
    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


def _mark_line(exc: yaml.YAMLError) -> int | None:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line + 1 if mark is not None else None


def _yaml_message(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if problem:
        text = f"{context} {problem}" if context else str(problem)
    else:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"invalid YAML: {text}"


def _index_tree(
    root: Node, path: str, raw: dict[str, str] | None = None
) -> tuple[dict[str, int], list[Finding]]:
    """Walk the composed tree: line of every key, duplicate keys, alias bombs.

    ``raw`` (if given) receives the source text of top-level scalar values, so
    messages can quote what the author wrote (``1.10``, not the float ``1.1``).
    """
    lines: dict[str, int] = {}
    findings: list[Finding] = []
    active: set[int] = set()
    count = 0

    def visit(node: Node, prefix: str) -> None:
        nonlocal count
        count += 1
        if count > MAX_YAML_NODES:
            raise _YamlProblem(
                Finding.error(
                    path,
                    node.start_mark.line + 1,
                    f"document too complex: more than {MAX_YAML_NODES} nodes once "
                    "aliases are expanded",
                    "yaml-syntax",
                )
            )
        if isinstance(node, ScalarNode):
            if prefix:
                line = node.start_mark.line + 1
                if node.style in ("|", ">"):
                    line += 1
                lines.setdefault(f"{prefix}@text", line)
                if raw is not None and "." not in prefix:
                    raw.setdefault(prefix, node.value)
            return
        nid = id(node)
        if nid in active:
            raise _YamlProblem(
                Finding.error(
                    path,
                    node.start_mark.line + 1,
                    "recursive alias: a node contains itself",
                    "yaml-syntax",
                )
            )
        active.add(nid)
        try:
            if isinstance(node, MappingNode):
                seen: dict[tuple[str, str], int] = {}
                for key_node, value_node in node.value:
                    if isinstance(key_node, ScalarNode):
                        if key_node.tag == "tag:yaml.org,2002:merge":
                            visit(value_node, prefix)
                            continue
                        kline = key_node.start_mark.line + 1
                        ident = (key_node.tag, key_node.value)
                        where = (
                            f"{prefix}.{key_node.value}" if prefix else key_node.value
                        )
                        if ident in seen:
                            scope = f" in '{prefix}'" if prefix else ""
                            findings.append(
                                Finding.error(
                                    path,
                                    kline,
                                    f"duplicate key '{key_node.value}'{scope} "
                                    f"(first defined at line {seen[ident]})",
                                    "duplicate-key",
                                )
                            )
                        else:
                            seen[ident] = kline
                            lines.setdefault(where, kline)
                        visit(value_node, where)
                    else:
                        visit(key_node, "")
                        visit(value_node, "")
            elif isinstance(node, SequenceNode):
                for i, item in enumerate(node.value):
                    where = f"{prefix}.{i}" if prefix else str(i)
                    lines.setdefault(where, item.start_mark.line + 1)
                    visit(item, where)
        finally:
            active.discard(nid)

    visit(root, "")
    return lines, findings


def _parse_yaml(
    data: bytes, path: str, raw: dict[str, str] | None = None
) -> tuple[Any, dict[str, int], list[Finding], bool]:
    """(data, lines, findings, ok). ``ok`` False means nothing usable was parsed."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return (
            None,
            {},
            [Finding.error(path, line, "file is not valid UTF-8", "yaml-syntax")],
            False,
        )
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            return (
                None,
                {},
                [
                    Finding.error(
                        path, _mark_line(exc), _yaml_message(exc), "yaml-syntax"
                    )
                ],
                False,
            )
        if node is None:
            return (
                None,
                {},
                [
                    Finding.error(
                        path, 1, "file is empty: no YAML document", "empty-file"
                    )
                ],
                False,
            )
        try:
            lines, findings = _index_tree(node, path, raw)
        except _YamlProblem as exc:
            return None, {}, [exc.finding], False
        try:
            value = loader.construct_document(node)
        except yaml.YAMLError as exc:
            findings.append(
                Finding.error(path, _mark_line(exc), _yaml_message(exc), "yaml-syntax")
            )
            return None, lines, findings, False
        except TypeError as exc:  # e.g. an unhashable (mapping) key
            findings.append(
                Finding.error(
                    path,
                    node.start_mark.line + 1,
                    f"invalid YAML: {exc}",
                    "yaml-syntax",
                )
            )
            return None, lines, findings, False
        return value, lines, findings, True
    except RecursionError:
        return (
            None,
            {},
            [Finding.error(path, 1, "document nested too deeply", "yaml-syntax")],
            False,
        )
    finally:
        loader.dispose()


# ------------------------------------------------------------------- validation


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _line(lines: dict[str, int], key: str) -> int:
    while key:
        if key in lines:
            return lines[key]
        key = key.rpartition(".")[0]
    return 1


def _type_name(value: Any) -> str:
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


class _Checker:
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
            Finding.error(self.path, _line(self.lines, key), message, rule)
        )
        self.handled.add(key)

    def warn(self, key: str, message: str, rule: str) -> None:
        self.findings.append(
            Finding.warning(self.path, _line(self.lines, key), message, rule)
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
                f"unknown top-level key '{key}'{_suggest(str(key), TOP_LEVEL_KEYS)}",
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
                f"id must be a string, got {_type_name(value)} {value!r}",
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
            f'version must be a quoted string like "1.0.0", got {_type_name(value)}',
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
                    f"{_type_name(messages)}",
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
                                f"{_suggest(str(key), _MESSAGE_KEYS)}",
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
                f"{_type_name(inputs)}",
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
                    f"{_type_name(spec)}{hint}",
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
                    f"{_suggest(str(k), _INPUT_KEYS)}",
                    "unknown-key",
                )
        type_ = clean.get("type", "string")
        type_ok = isinstance(type_, str) and type_ in INPUT_TYPES
        if not type_ok:
            hint = ""
            if isinstance(type_, str):
                alias = _TYPE_ALIASES.get(type_.lower())
                hint = f" (did you mean '{alias}'?)" if alias else ""
                hint = hint or _suggest(type_, INPUT_TYPES)
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
                message = f"unknown key '{loc[-1]}'{_suggest(loc[-1], known)}"
                self.findings.append(
                    Finding.error(
                        self.path, _line(self.lines, dotted), message, "unknown-key"
                    )
                )
                continue
            else:
                got = _type_name(error.get("input"))
                message = f"{dotted}: {error['msg'][0].lower()}{error['msg'][1:]}"
                if etype.endswith("_type"):
                    message += f", got {got}"
                line_key = dotted
            self.findings.append(
                Finding.error(self.path, _line(self.lines, line_key), message, "schema")
            )


def _check_examples(checker: _Checker, prompt: Prompt) -> None:
    from dakora.registry.errors import InputError
    from dakora.registry.inputs import coerce_inputs

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


def load_prompt_findings(
    data: bytes, path: str, blob_sha: str | None = None
) -> tuple[LoadedPrompt | None, list[Finding]]:
    """Like ``load_prompt`` but returns (prompt or None, findings) and never raises."""
    raw: dict[str, str] = {}
    value, lines, findings, ok = _parse_yaml(data, path, raw)
    if not ok:
        return None, sorted(findings, key=_order)
    if not isinstance(value, dict):
        findings.append(
            Finding.error(
                path,
                1,
                "a prompt file must be a mapping (id: …, version: …), got "
                f"{_type_name(value)}",
                "not-a-mapping",
            )
        )
        return None, sorted(findings, key=_order)
    checker = _Checker(path, lines, raw)
    checker.findings.extend(findings)
    prompt: Prompt | None = None
    try:
        clean = checker.check(value)
        try:
            prompt = Prompt.model_validate(clean, strict=True)
        except ValidationError as exc:
            checker.pydantic_errors(exc)
        if prompt is not None and prompt.examples:
            _check_examples(checker, prompt)
    except RecursionError:
        checker.error("", "document nested too deeply", "yaml-syntax")
    findings = sorted(checker.findings, key=_order)
    if prompt is None or has_errors(findings):
        return None, findings
    return (
        LoadedPrompt(
            prompt=prompt,
            path=path,
            blob_sha=blob_sha,
            lines=lines,
            findings=tuple(findings),
        ),
        findings,
    )


def _order(f: Finding) -> tuple[int, str]:
    return (f.line or 0, f.rule)


def load_prompt(data: bytes, path: str, blob_sha: str | None = None) -> LoadedPrompt:
    """Parse and validate one prompt file. Raises ``InvalidPrompt`` with findings."""
    loaded, findings = load_prompt_findings(data, path, blob_sha)
    if loaded is None:
        raise InvalidPrompt(findings)
    return loaded


# ----------------------------------------------------------------------- config

_REF_NAME = re.compile(r"^(?!/)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/*-]+(?<!/)(?<!\.lock)$")


def load_config(
    data: bytes | None, path: str = "dakora.yaml"
) -> tuple[RepoConfig, list[Finding]]:
    """Parse ``dakora.yaml``; missing file (None) gives the defaults and no findings.

    Known keys: ``default_branch`` (str), ``protected_refs`` (list of branch/tag
    names), ``prompts_dir``, ``parts_dir`` (relative folders), ``name`` and
    ``description`` (informational). Unknown keys are warnings; a bad value is an
    error and its default is used.
    """
    if data is None:
        return RepoConfig(), []
    value, lines, findings, ok = _parse_yaml(data, path)
    if not ok:
        if findings and findings[0].rule == "empty-file":
            return RepoConfig(), []  # an empty dakora.yaml means all defaults
        return RepoConfig(), findings
    if not isinstance(value, dict):
        findings.append(
            Finding.error(
                path,
                1,
                f"dakora.yaml must be a mapping, got {_type_name(value)}",
                "not-a-mapping",
            )
        )
        return RepoConfig(), findings
    kwargs: dict[str, Any] = {}
    for key, item in value.items():
        if key not in _CONFIG_KEYS:
            findings.append(
                Finding.warning(
                    path,
                    _line(lines, str(key)),
                    f"unknown key '{key}' in dakora.yaml"
                    f"{_suggest(str(key), _CONFIG_KEYS)}",
                    "unknown-key",
                )
            )
            continue
        line = _line(lines, key)
        if key == "default_branch":
            if isinstance(item, str) and _REF_NAME.match(item) and "*" not in item:
                kwargs[key] = item
            else:
                findings.append(
                    Finding.error(
                        path,
                        line,
                        f"default_branch must be a branch name, got {item!r}",
                        "schema",
                    )
                )
        elif key == "protected_refs":
            if item is None:
                item = []
            if isinstance(item, str):
                item = [item]
            if isinstance(item, list) and all(
                isinstance(r, str) and _REF_NAME.match(r) for r in item
            ):
                kwargs[key] = tuple(item)
            else:
                findings.append(
                    Finding.error(
                        path,
                        line,
                        "protected_refs must be a list of branch or tag names, got "
                        f"{item!r}",
                        "schema",
                    )
                )
        elif key in ("prompts_dir", "parts_dir"):
            parts = item.strip("/").split("/") if isinstance(item, str) else []
            if parts and all(p not in ("", ".", "..") for p in parts):
                kwargs[key] = "/".join(parts)
            else:
                findings.append(
                    Finding.error(
                        path,
                        line,
                        f"{key} must be a relative folder inside the repository, got "
                        f"{item!r}",
                        "schema",
                    )
                )
        elif item is not None and not isinstance(item, str):
            findings.append(
                Finding.error(
                    path, line, f"{key} must be a string, got {item!r}", "schema"
                )
            )
    return RepoConfig(**kwargs, raw=value), sorted(findings, key=_order)
