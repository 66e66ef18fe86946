"""Loading of prompt files into ``LoadedPrompt`` (prompt + line map) with
``path:line`` findings.

Reports, as findings (never exceptions escaping as
tracebacks): syntax errors, duplicate keys, unknown top-level keys, a non-string
``version`` (``version: 1.0``), a non-semver version, both/neither of
template/messages, bad input types, defaults that don't match their type, ids that
break ``ID_PATTERN``.

Rule ids (stable): see ``LOADER_RULES``.

The YAML layer is ``yaml_lines.py``, the prompt rules ``prompt_schema.py`` and
``dakora.yaml`` ``repo_config.py``; their public names are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError

from dakora.registry.core import Finding, InvalidPrompt, Prompt, has_errors
from dakora.registry.load.schema import (
    PromptChecker,
    check_examples,
    type_name,
)
from dakora.registry.load.yaml_lines import by_line, parse_yaml

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


def load_prompt_findings(
    data: bytes, path: str, blob_sha: str | None = None
) -> tuple[LoadedPrompt | None, list[Finding]]:
    """Like ``load_prompt`` but returns (prompt or None, findings) and never raises."""
    raw: dict[str, str] = {}
    value, lines, findings, ok = parse_yaml(data, path, raw)
    if not ok:
        return None, sorted(findings, key=by_line)
    if not isinstance(value, dict):
        findings.append(
            Finding.error(
                path,
                1,
                "a prompt file must be a mapping (id: …, version: …), got "
                f"{type_name(value)}",
                "not-a-mapping",
            )
        )
        return None, sorted(findings, key=by_line)
    checker = PromptChecker(path, lines, raw)
    checker.findings.extend(findings)
    prompt: Prompt | None = None
    try:
        clean = checker.check(value)
        try:
            prompt = Prompt.model_validate(clean, strict=True)
        except ValidationError as exc:
            checker.pydantic_errors(exc)
        if prompt is not None and prompt.examples:
            check_examples(checker, prompt)
    except RecursionError:
        checker.error("", "document nested too deeply", "yaml-syntax")
    findings = sorted(checker.findings, key=by_line)
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


def load_prompt(data: bytes, path: str, blob_sha: str | None = None) -> LoadedPrompt:
    """Parse and validate one prompt file. Raises ``InvalidPrompt`` with findings."""
    loaded, findings = load_prompt_findings(data, path, blob_sha)
    if loaded is None:
        raise InvalidPrompt(findings)
    return loaded
