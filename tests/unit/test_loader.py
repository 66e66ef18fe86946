"""YAML loading of prompt files and dakora.yaml: findings with path:line and rule ids."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from dakora.registry.core.errors import InvalidPrompt
from dakora.registry.core.findings import Finding
from dakora.registry.load.loader import LOADER_RULES, load_prompt, load_prompt_findings
from dakora.registry.load.repo_config import RepoConfig, load_config
from dakora.registry.load.yaml_lines import MAX_YAML_NODES, YamlLoader
from tests.fixtures.bounded import run_bounded

PATH = "prompts/support/reply.yaml"

VALID = textwrap.dedent(
    """\
    id: support-reply
    version: "1.2.0"
    description: Reply to a support ticket
    template: |
      {% include "system/tone" %}
      Hello {{ customer }}!
    inputs:
      customer: {type: string, required: true, description: Customer first name}
      tier: {type: string, default: free, enum: [free, pro]}
      max_items: {type: number, default: 3}
      urgent: {type: boolean, default: false}
      tags: {type: "array<string>", required: false}
      account: {type: object, default: null}
    model: {provider: openai, name: gpt-4o-mini, temperature: 0.2}
    metadata: {tags: [support]}
    examples:
      - {customer: Ada, tier: pro}
    """
)

CHAT = textwrap.dedent(
    """\
    id: chat.helper
    version: "0.1.0-rc.1"
    messages:
      - role: system
        content: |
          You are {{ persona }}.
          Be brief.
      - {role: user, content: "{{ question }}"}
    inputs:
      persona: {type: string}
      question: {}
    """
)


def load(text: str) -> tuple[object, list[Finding]]:
    return load_prompt_findings(text.encode(), PATH)


def test_loader_builds_on_the_c_loader() -> None:
    if yaml.__with_libyaml__:
        assert issubclass(YamlLoader, yaml.CSafeLoader)
    else:  # pragma: no cover
        assert issubclass(YamlLoader, yaml.SafeLoader)


def test_valid_text_prompt_loads_with_line_map() -> None:
    loaded = load_prompt(VALID.encode(), PATH, blob_sha="abc")
    p = loaded.prompt
    assert (p.id, p.version, p.kind) == ("support-reply", "1.2.0", "text")
    assert p.template == '{% include "system/tone" %}\nHello {{ customer }}!\n'
    assert loaded.path == PATH and loaded.blob_sha == "abc"
    assert p.inputs["customer"].is_required
    assert not p.inputs["tier"].is_required and p.inputs["tier"].default == "free"
    assert p.inputs["tags"].required is False and not p.inputs["tags"].has_default
    # `default: null` is still a default: the input is optional, has_default is True
    assert p.inputs["account"].has_default and p.inputs["account"].default is None
    assert not p.inputs["account"].is_required
    assert p.model == {"provider": "openai", "name": "gpt-4o-mini", "temperature": 0.2}
    assert p.examples == [{"customer": "Ada", "tier": "pro"}]
    lines = loaded.lines
    assert lines["id"] == 1 and lines["version"] == 2
    assert lines["template"] == 4 and lines["template@text"] == 5
    assert loaded.template_line == 5 and loaded.source_line("template") == 5
    assert lines["inputs"] == 7 and lines["inputs.customer"] == 8
    assert lines["inputs.tier.default"] == 9
    assert lines["examples.0"] == 17
    assert loaded.findings == ()


def test_chat_prompt_loads_and_maps_message_text_lines() -> None:
    loaded = load_prompt(CHAT.encode(), PATH)
    p = loaded.prompt
    assert p.kind == "chat"
    assert [m.role for m in p.messages or []] == ["system", "user"]
    assert p.inputs["question"].type == "string"  # `{}` means a required string
    assert p.inputs["question"].is_required
    assert loaded.lines["messages.0.content"] == 5
    assert loaded.text_line("messages.0.content") == 6  # block scalar: next line
    assert loaded.source_line("messages[1]") == 8
    assert loaded.line_of("nope", None) is None


def _bad(body: str) -> str:
    """A valid prompt with ``body`` appended (later keys win over VALID's)."""
    return 'id: x\nversion: "1.0.0"\ntemplate: hi\n' + textwrap.dedent(body)


# (case id, file text, rule, line, substring of the message)
BAD_CASES = [
    ("syntax", "id: [unclosed\nversion: x\n", "yaml-syntax", 2, "invalid YAML"),
    ("tab-indent", "id: x\n\tversion: 1\n", "yaml-syntax", 2, "invalid YAML"),
    ("not-utf8", "id: x\nversion: \udcff\n", "yaml-syntax", 2, "UTF-8"),
    ("empty", "", "empty-file", 1, "empty"),
    ("only-comments", "# nothing here\n\n", "empty-file", 1, "empty"),
    ("list-top", "- id: x\n", "not-a-mapping", 1, "must be a mapping"),
    ("scalar-top", "hello\n", "not-a-mapping", 1, "got string"),
    ("python-tag", "id: !!python/object:os.system x\n", "yaml-syntax", 1, "tag"),
    (
        "duplicate-top",
        'id: a\nversion: "1.0.0"\ntemplate: t\nid: b\n',
        "duplicate-key",
        4,
        "duplicate key 'id' (first defined at line 1)",
    ),
    (
        "duplicate-nested",
        _bad("inputs:\n  a: {type: string}\n  a: {type: number}\n"),
        "duplicate-key",
        6,
        "duplicate key 'a' in 'inputs'",
    ),
    (
        "typo-top-level",
        _bad("inptus: {}\n"),
        "unknown-key",
        4,
        "unknown top-level key 'inptus' (did you mean 'inputs'?)",
    ),
    (
        "typo-input-key",
        _bad("inputs:\n  a: {type: string, requird: true}\n"),
        "unknown-key",
        5,
        "unknown key 'requird' in input 'a' (did you mean 'required'?)",
    ),
    (
        "typo-message-key",
        'id: x\nversion: "1.0.0"\nmessages:\n  - {role: user, contnet: hi}\n',
        "unknown-key",
        4,
        "did you mean 'content'?",
    ),
    (
        "has_default-not-writable",
        _bad("inputs:\n  a: {type: string, has_default: true}\n"),
        "unknown-key",
        5,
        "unknown key 'has_default'",
    ),
    (
        "version-float",
        "id: x\nversion: 1.0\ntemplate: t\n",
        "version-not-string",
        2,
        'quote it: version: "1.0.0"',
    ),
    (
        "version-int",
        "id: x\nversion: 2\ntemplate: t\n",
        "version-not-string",
        2,
        "must be a string",
    ),
    (
        "version-float-keeps-text",
        "id: x\nversion: 1.10\ntemplate: t\n",
        "version-not-string",
        2,
        'got the number 1.10: YAML reads an unquoted 1.10 as a number; quote it: version: "1.10.0"',
    ),
    (
        "version-int-hint",
        "id: x\nversion: 2\ntemplate: t\n",
        "version-not-string",
        2,
        'version: "2.0.0"',
    ),
    (
        "version-date",
        "id: x\nversion: [1]\ntemplate: t\n",
        "version-not-string",
        2,
        "got list",
    ),
    (
        "version-not-semver",
        'id: x\nversion: "1.0"\ntemplate: t\n',
        "version-not-semver",
        2,
        "not semver",
    ),
    (
        "version-leading-zero",
        'id: x\nversion: "01.0.0"\ntemplate: t\n',
        "version-not-semver",
        2,
        "not semver",
    ),
    ("version-missing", "id: x\ntemplate: t\n", "schema", 1, "'version'"),
    ("id-missing", 'version: "1.0.0"\ntemplate: t\n', "schema", 1, "'id'"),
    (
        "id-uppercase",
        'id: Support Reply\nversion: "1.0.0"\ntemplate: t\n',
        "id-pattern",
        1,
        "id 'Support Reply' is not valid",
    ),
    (
        "id-leading-dash",
        'id: -x\nversion: "1.0.0"\ntemplate: t\n',
        "id-pattern",
        1,
        "not valid",
    ),
    (
        "id-too-long",
        f'id: {"a" * 129}\nversion: "1.0.0"\ntemplate: t\n',
        "id-pattern",
        1,
        "1-128",
    ),
    ("id-number", 'id: 42\nversion: "1.0.0"\ntemplate: t\n', "id-pattern", 1, "string"),
    (
        "both-bodies",
        _bad("messages:\n  - {role: user, content: hi}\n"),
        "template-xor-messages",
        4,
        "not both",
    ),
    (
        "no-body",
        'id: x\nversion: "1.0.0"\n',
        "template-xor-messages",
        1,
        "exactly one of",
    ),
    (
        "null-template",
        'id: x\nversion: "1.0.0"\ntemplate:\n',
        "template-xor-messages",
        3,
        "exactly one of",
    ),
    (
        "empty-messages",
        'id: x\nversion: "1.0.0"\nmessages: []\n',
        "schema",
        3,
        "messages must not be empty",
    ),
    (
        "messages-not-list",
        'id: x\nversion: "1.0.0"\nmessages: hello\n',
        "schema",
        3,
        "messages must be a list",
    ),
    (
        "message-missing-content",
        'id: x\nversion: "1.0.0"\nmessages:\n  - {role: user}\n',
        "schema",
        4,
        "missing required key 'content'",
    ),
    (
        "template-not-string",
        'id: x\nversion: "1.0.0"\ntemplate: 42\n',
        "schema",
        3,
        "template",
    ),
    (
        "input-type-unknown",
        _bad("inputs:\n  n: {type: int}\n"),
        "input-type",
        5,
        "unknown type 'int' (did you mean 'number'?)",
    ),
    (
        "input-type-typo",
        _bad("inputs:\n  n: {type: strng}\n"),
        "input-type",
        5,
        "did you mean 'string'?",
    ),
    (
        "input-not-mapping",
        _bad("inputs:\n  n: string\n"),
        "schema",
        5,
        "write n: {type: string}",
    ),
    (
        "input-name",
        _bad("inputs:\n  max-items: {type: number}\n"),
        "input-name",
        5,
        "input name 'max-items' is not valid",
    ),
    (
        "inputs-not-mapping",
        _bad("inputs: [a, b]\n"),
        "schema",
        4,
        "inputs must be a mapping",
    ),
    (
        "default-number-for-string",
        _bad("inputs:\n  s: {type: string, default: 3}\n"),
        "default-type",
        5,
        "default 3 is not a string",
    ),
    (
        "default-yes-for-string",
        _bad("inputs:\n  s: {type: string, default: no}\n"),
        "default-type",
        5,
        "quote it",
    ),
    (
        "default-string-for-number",
        _bad("inputs:\n  n: {type: number, default: '3'}\n"),
        "default-type",
        5,
        "not a number",
    ),
    (
        "default-bool-for-number",
        _bad("inputs:\n  n: {type: number, default: true}\n"),
        "default-type",
        5,
        "not a number",
    ),
    (
        "default-nan",
        _bad("inputs:\n  n: {type: number, default: .nan}\n"),
        "default-type",
        5,
        "not a number",
    ),
    (
        "default-int-for-boolean",
        _bad("inputs:\n  b: {type: boolean, default: 1}\n"),
        "default-type",
        5,
        "not a boolean",
    ),
    (
        "default-list-items",
        _bad("inputs:\n  t: {type: 'array<string>', default: [a, 1]}\n"),
        "default-type",
        5,
        "not a array<string>",
    ),
    (
        "default-object",
        _bad("inputs:\n  o: {type: object, default: [1]}\n"),
        "default-type",
        5,
        "not a object",
    ),
    (
        "default-not-in-enum",
        _bad(
            "inputs:\n  tier:\n    type: string\n    enum: [free, pro]\n    default: gold\n"
        ),
        "default-type",
        8,
        "not one of the enum values",
    ),
    (
        "enum-value-type",
        _bad("inputs:\n  n:\n    type: number\n    enum: [1, two]\n"),
        "enum-type",
        7,
        "enum value 'two' is not a number",
    ),
    (
        "enum-empty",
        _bad("inputs:\n  n: {type: number, enum: []}\n"),
        "schema",
        5,
        "non-empty list",
    ),
    (
        "required-not-bool",
        _bad("inputs:\n  s: {type: string, required: 'yes'}\n"),
        "schema",
        5,
        "inputs.s.required",
    ),
    (
        "description-not-string",
        _bad("description: [a]\n"),
        "schema",
        4,
        "description",
    ),
    ("model-not-mapping", _bad("model: gpt-4\n"), "schema", 4, "model"),
    ("examples-not-list", _bad("examples: {a: 1}\n"), "schema", 4, "examples"),
    (
        "example-unknown-input",
        _bad("inputs:\n  a: {type: string}\nexamples:\n  - {a: x, b: y}\n"),
        "example-inputs",
        7,
        "examples[0]: unknown input 'b'",
    ),
    (
        "example-bad-value",
        _bad("inputs:\n  n: {type: number}\nexamples:\n  - {n: abc}\n"),
        "example-inputs",
        7,
        "expected number, got 'abc'",
    ),
    (
        "example-missing-input",
        _bad("inputs:\n  n: {type: number}\nexamples:\n  - {}\n"),
        "example-inputs",
        7,
        "missing required input 'n'",
    ),
]


@pytest.mark.parametrize(
    ("text", "rule", "line", "needle"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_CASES],
)
def test_bad_prompt_reports_rule_and_line(
    text: str, rule: str, line: int, needle: str
) -> None:
    data = text.encode("utf-8", "surrogateescape")
    loaded, findings = load_prompt_findings(data, PATH)
    assert loaded is None
    matching = [f for f in findings if f.rule == rule]
    assert matching, [f.format() for f in findings]
    f = matching[0]
    assert f.path == PATH and f.severity == "error"
    assert f.line == line, f.format()
    assert needle in f.message, f.format()
    assert rule in LOADER_RULES
    with pytest.raises(InvalidPrompt) as info:
        load_prompt(data, PATH)
    assert f in info.value.findings
    assert rule in str(info.value) or len(info.value.findings) > 1


def test_every_problem_is_reported_at_once() -> None:
    text = textwrap.dedent(
        """\
        id: Bad Id
        version: 1.0
        inptus: {}
        template: hi
        inputs:
          a: {type: int}
          b: {type: string, default: 3}
        """
    )
    _, findings = load(text)
    rules = sorted(f.rule for f in findings)
    assert rules == [
        "default-type",
        "id-pattern",
        "input-type",
        "unknown-key",
        "version-not-string",
    ]
    assert [f.line for f in findings] == sorted(f.line or 0 for f in findings)
    assert findings[0].format().startswith(f"{PATH}:1: error: ")


def test_warning_keeps_the_prompt() -> None:
    text = _bad("inputs:\n  s: {type: string, required: true, default: x}\n")
    loaded, findings = load(text)
    assert loaded is not None
    assert [(f.rule, f.severity, f.line) for f in findings] == [
        ("required-with-default", "warning", 5)
    ]
    assert loaded.findings == tuple(findings)  # type: ignore[attr-defined]
    assert not loaded.prompt.inputs["s"].is_required  # type: ignore[attr-defined]


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        refs = ",".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    # 10**9 nodes if expanded: the load runs under a memory and time bound (issue 14)
    findings = run_bounded(_rules_and_messages, "\n".join(lines) + "\n")
    assert [rule for rule, _ in findings] == ["yaml-syntax"]
    assert f"more than {MAX_YAML_NODES} nodes" in findings[0][1]


def _rules_and_messages(text: str) -> list[tuple[str, str]]:
    return [(f.rule, f.message) for f in load(text)[1]]


def test_recursive_alias_is_refused() -> None:
    _, findings = load("id: x\nmetadata: &m {self: *m}\n")
    assert [f.rule for f in findings] == ["yaml-syntax"]
    assert "recursive" in findings[0].message


def test_small_aliases_are_fine() -> None:
    text = _bad("metadata:\n  a: &t [x, y]\n  b: *t\n")
    loaded, findings = load(text)
    assert findings == [] and loaded is not None
    assert loaded.prompt.metadata == {"a": ["x", "y"], "b": ["x", "y"]}  # type: ignore[attr-defined]


def test_timestamps_stay_strings() -> None:
    text = _bad("metadata: {released: 2024-01-31}\n")
    loaded, _ = load(text)
    assert loaded is not None
    assert loaded.prompt.metadata == {"released": "2024-01-31"}  # type: ignore[attr-defined]


def test_deep_nesting_never_raises() -> None:
    text = "id: x\nmetadata: " + "[" * 5000 + "]" * 5000 + "\n"
    loaded, findings = load(text)
    assert loaded is None and findings and findings[0].rule == "yaml-syntax"


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x01\x02",
        b"{",
        b"- - -",
        b"? [a]\n: b\n",
        b"[1, 2",
        b"\xef\xbb\xbfid: x\n",
    ],
)
def test_findings_variant_never_raises(data: bytes) -> None:
    loaded, findings = load_prompt_findings(data, PATH)
    assert loaded is None
    assert findings and all(isinstance(f, Finding) for f in findings)


def test_bom_is_accepted() -> None:
    loaded, findings = load_prompt_findings(b"\xef\xbb\xbf" + VALID.encode(), PATH)
    assert findings == [] and loaded is not None


# ---------------------------------------------------------------- dakora.yaml


def test_config_missing_gives_defaults() -> None:
    assert load_config(None) == (RepoConfig(), [])
    assert load_config(b"") == (RepoConfig(), [])
    assert load_config(b"# just a comment\n")[0] == RepoConfig()


def test_config_valid() -> None:
    cfg, findings = load_config(
        b"default_branch: trunk\nprotected_refs: [production, refs/tags/v*]\n"
        b"name: my prompts\n"
    )
    assert findings == []
    assert cfg.default_branch == "trunk"
    assert cfg.protected_refs == ("production", "refs/tags/v*")
    assert cfg.raw["name"] == "my prompts"


def test_config_unknown_key_is_a_warning() -> None:
    cfg, findings = load_config(b"defualt_branch: trunk\n")
    assert cfg.default_branch == "main"
    assert [(f.severity, f.rule, f.line) for f in findings] == [
        ("warning", "unknown-key", 1)
    ]
    assert "did you mean 'default_branch'?" in findings[0].message
    assert findings[0].path == "dakora.yaml"


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        (b"default_branch: [a]\n", 1, "default_branch"),
        (b"default_branch: 'a..b'\n", 1, "default_branch"),
        (b"name: x\nprotected_refs: 3\n", 2, "protected_refs"),
        (b"protected_refs: [ok, 1]\n", 1, "protected_refs"),
        (b"prompts_dir: ../up\n", 1, "prompts_dir"),
    ],
)
def test_config_bad_values_are_errors(text: bytes, line: int, needle: str) -> None:
    cfg, findings = load_config(text)
    assert cfg == RepoConfig(raw=cfg.raw)
    assert [(f.severity, f.rule, f.line) for f in findings] == [
        ("error", "schema", line)
    ]
    assert needle in findings[0].message


def test_config_syntax_and_shape_errors() -> None:
    _, findings = load_config(b"default_branch: [\n", path="sub/dakora.yaml")
    assert [f.rule for f in findings] == ["yaml-syntax"]
    assert findings[0].path == "sub/dakora.yaml"
    _, findings = load_config(b"- a\n")
    assert [f.rule for f in findings] == ["not-a-mapping"]
    _, findings = load_config(b"a: 1\na: 2\n")
    assert "duplicate-key" in [f.rule for f in findings]
