"""The YAML that API writes commit: docs/design.md §2 order, quoted version, block scalars."""

from __future__ import annotations

from dakora.hooks.commit_writer import prompt_yaml
from dakora.registry.core.model import PROMPT_KEY_ORDER
from dakora.registry.load.loader import load_prompt

FIELDS = {
    "inputs": {"name": {"type": "string"}},
    "template": "Hello {{ name }}!\nHow are you?\n",
    "version": "1.2.0",
    "id": "greeting",
    "description": None,
    "examples": [{"name": "Ada"}],
}


def test_keys_follow_the_design_order_and_none_is_left_out() -> None:
    text = prompt_yaml(FIELDS)
    keys = [line.split(":")[0] for line in text.splitlines() if line[:1].isalpha()]
    assert keys == [k for k in PROMPT_KEY_ORDER if FIELDS.get(k) is not None]
    assert "description" not in text


def test_version_is_quoted_and_templates_are_block_scalars() -> None:
    text = prompt_yaml(FIELDS)
    assert 'version: "1.2.0"' in text.splitlines()
    assert "template: |\n  Hello {{ name }}!\n  How are you?\n" in text


def test_same_fields_same_bytes_and_the_file_loads_back() -> None:
    text = prompt_yaml(FIELDS)
    assert prompt_yaml(dict(reversed(list(FIELDS.items())))) == text
    loaded = load_prompt(text.encode(), "prompts/greeting.yaml").prompt
    assert (loaded.id, loaded.version) == ("greeting", "1.2.0")
    assert loaded.template == FIELDS["template"]


def test_a_numeric_version_from_json_is_written_as_given_for_the_checks() -> None:
    text = prompt_yaml({**FIELDS, "version": 1.0})
    assert 'version: "1.0"' in text  # then refused as not semver by the checks
