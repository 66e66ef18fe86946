"""YAML text → (data, line map, findings), never raising.

Built on PyYAML's C loader (``CSafeLoader``; ``SafeLoader`` when libyaml is missing;
timestamps stay strings). The node tree is composed once; a walk over it refuses
duplicate keys and alias bombs (``MAX_YAML_NODES``) and records the line of every
key as a dotted path (``"inputs.customer.default"``), then the tree is constructed.
Syntax errors, bad UTF-8 and empty files become ``yaml-syntax`` / ``empty-file``
findings with their line.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from dakora.registry.core import Finding

# An alias can make a tiny file expand to a huge tree ("billion laughs"): refuse
# documents whose expanded node count passes this.
MAX_YAML_NODES = 200_000

_Base: type[yaml.SafeLoader]
try:  # pragma: no branch - depends on how PyYAML was built
    _Base = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - libyaml missing
    _Base = yaml.SafeLoader


class YamlLoader(_Base):  # type: ignore[misc, valid-type]
    """Safe loader; timestamps stay strings so data remains JSON-shaped."""


YamlLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str
)


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


_Parsed = tuple[Any, dict[str, int], list[Finding], bool]


def _failed(findings: list[Finding], lines: dict[str, int] | None = None) -> _Parsed:
    return None, lines if lines is not None else {}, findings, False


def _syntax_error(path: str, exc: yaml.YAMLError) -> Finding:
    return Finding.error(path, _mark_line(exc), _yaml_message(exc), "yaml-syntax")


def parse_yaml(data: bytes, path: str, raw: dict[str, str] | None = None) -> _Parsed:
    """(data, lines, findings, ok). ``ok`` False means nothing usable was parsed."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return _failed(
            [Finding.error(path, line, "file is not valid UTF-8", "yaml-syntax")]
        )
    loader = YamlLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            return _failed([_syntax_error(path, exc)])
        if node is None:
            return _failed(
                [
                    Finding.error(
                        path, 1, "file is empty: no YAML document", "empty-file"
                    )
                ]
            )
        try:
            lines, findings = _index_tree(node, path, raw)
        except _YamlProblem as exc:
            return _failed([exc.finding])
        try:
            value = loader.construct_document(node)
        except yaml.YAMLError as exc:
            return _failed([*findings, _syntax_error(path, exc)], lines)
        except TypeError as exc:  # e.g. an unhashable (mapping) key
            problem = Finding.error(
                path, node.start_mark.line + 1, f"invalid YAML: {exc}", "yaml-syntax"
            )
            return _failed([*findings, problem], lines)
        return value, lines, findings, True
    except RecursionError:
        return _failed(
            [Finding.error(path, 1, "document nested too deeply", "yaml-syntax")]
        )
    finally:
        loader.dispose()


def key_line(lines: dict[str, int], key: str) -> int:
    while key:
        if key in lines:
            return lines[key]
        key = key.rpartition(".")[0]
    return 1


def by_line(f: Finding) -> tuple[int, str]:
    return (f.line or 0, f.rule)
