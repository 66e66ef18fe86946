"""``parse_yaml`` builds plain documents in its own walk (registry/load/yaml_lines.py):
the value must be exactly what PyYAML's ``construct_document`` gives, for every kind
of scalar, and anything the walk does not build must still come out the same."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from dakora.registry.load.yaml_lines import YamlLoader, parse_yaml

ROOT = Path(__file__).resolve().parents[2]

SNIPPETS = [
    "a: 1\nb: -0x1F\nc: 0o17\nd: 0b101\ne: 1_000\nf: 190:20:30\n",
    "a: 1.5\nb: -.inf\nc: .NaN\nd: 6.8523015e+5\ne: 1_0.5\nf: 190:20:30.15\n",
    "a: true\nb: False\nc: yes\nd: off\ne: ~\nf: null\ng:\n",
    "a: 2001-12-14t21:59:43.10-05:00\nb: 2002-12-14\n",
    "'1': x\n1: y\n0x1: z\n",
    "k: !!str 123\nl: !!int '7'\nm: !!float '3'\n",
    "base: &b {x: 1, y: [1, 2]}\nother: *b\n",
    "base: &b {x: 1}\nmerged:\n  <<: *b\n  y: 2\n",
    "s: !!set {a, b}\n",
    "b: !!binary aGVsbG8=\n",
    "o: !!omap [a: 1, b: 2]\n",
    "dup: 1\ndup: 2\n",
    "text: |\n  line one\n  line two\nfolded: >\n  a\n  b\n",
    "- 1\n- [a, {b: c}]\n- {d: [e]}\n",
    "just a string\n",
    "42\n",
    "a: 'quoted: yes'\nb: \"esc\\tape\"\n",
]


def _normal(value: Any) -> Any:
    """NaN != NaN: compare it by kind."""
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, dict):
        return {_normal(k): _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_normal(v) for v in value)
    return value


def _reference(text: str) -> Any:
    return yaml.load(text, Loader=YamlLoader)  # noqa: S506 - YamlLoader is a SafeLoader


@pytest.mark.parametrize("text", SNIPPETS)
def test_the_value_is_what_pyyaml_constructs(text: str) -> None:
    value, _lines, _findings, ok = parse_yaml(text.encode(), "x.yaml")
    assert ok
    expected = _reference(text)
    assert _normal(value) == _normal(expected)
    assert type(value) is type(expected)


def test_every_yaml_file_of_the_repository_parses_the_same() -> None:
    files = [
        p
        for p in [*ROOT.glob("sample-repo/**/*.y*ml"), *ROOT.glob("tests/**/*.y*ml")]
        if ".venv" not in p.parts and "node_modules" not in p.parts
    ]
    assert len(files) > 10
    for path in files:
        text = path.read_text()
        try:
            expected = _reference(text)
        except yaml.YAMLError:
            continue
        value, _lines, _findings, ok = parse_yaml(text.encode(), str(path))
        if expected is None:
            continue  # empty: parse_yaml reports it
        assert ok, path
        assert _normal(value) == _normal(expected), path


def test_bad_scalars_and_tags_are_still_reported() -> None:
    _, _, findings, ok = parse_yaml(b"a: !!int nope\n", "x.yaml")
    assert not ok
    assert findings[0].rule == "yaml-syntax"
    _, _, findings, ok = parse_yaml(b"? [a, b]\n: 1\n", "x.yaml")  # unhashable key
    assert not ok
    assert findings[0].rule == "yaml-syntax"
    _, _, findings, ok = parse_yaml(b"a: !custom 1\n", "x.yaml")
    assert not ok
    assert findings[0].rule == "yaml-syntax"
