"""YAML text → (data, line map, findings), never raising.

Built on PyYAML's C loader (``CSafeLoader``; ``SafeLoader`` when libyaml is missing;
timestamps stay strings). The node tree is composed once; one walk over it refuses
duplicate keys and alias bombs (``MAX_YAML_NODES``), records the line of every key as
a dotted path (``"inputs.customer.default"``) and builds the value. The walk builds
plain documents itself — mappings, sequences, and scalars through the loader's own
``construct_yaml_*`` methods, so each value is exactly what PyYAML gives — because
PyYAML's generic ``construct_document`` costs more than parsing (a push of 1,000
prompts spent a third of its checks there). Anything else (merge keys ``<<``, tags
such as ``!!set`` or ``!!binary``, non-scalar keys) is left to ``construct_document``.
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


_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
# scalar tag -> the loader method that constructs it (plain strings are node.value)
_SCALARS = {
    "tag:yaml.org,2002:null": "construct_yaml_null",
    "tag:yaml.org,2002:bool": "construct_yaml_bool",
    "tag:yaml.org,2002:int": "construct_yaml_int",
    "tag:yaml.org,2002:float": "construct_yaml_float",
    "tag:yaml.org,2002:timestamp": "construct_yaml_str",  # see YamlLoader
}


_NOT_BUILT = object()  # the walk met something only construct_document builds


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


class _Walk:
    """One walk of a composed tree: the line of every key, duplicate keys, alias bombs
    and recursive aliases, and (given the ``loader``) the value — ``_NOT_BUILT`` once
    the document turns out not to be plain.

    ``raw`` (if given) receives the source text of top-level scalar values, so
    messages can quote what the author wrote (``1.10``, not the float ``1.1``).
    """

    def __init__(
        self, path: str, raw: dict[str, str] | None, loader: yaml.SafeLoader | None
    ) -> None:
        self.path = path
        self.raw = raw
        self.loader = loader
        self.plain = loader is not None
        self.lines: dict[str, int] = {}
        self.findings: list[Finding] = []
        self._active: set[int] = set()
        self._count = 0

    def _problem(self, node: Node, message: str) -> _YamlProblem:
        line = node.start_mark.line + 1
        return _YamlProblem(Finding.error(self.path, line, message, "yaml-syntax"))

    def scalar(self, node: ScalarNode) -> Any:
        if not self.plain:
            return None
        if node.tag == _STR:
            return node.value
        method = _SCALARS.get(node.tag)
        if method is None:
            self.plain = False
            return None
        try:
            return getattr(self.loader, method)(node)
        except (yaml.YAMLError, ValueError, TypeError):
            self.plain = False  # construct_document reports it as before
            return None

    def visit(self, node: Node, prefix: str) -> Any:
        self._count += 1
        if self._count > MAX_YAML_NODES:
            raise self._problem(
                node,
                f"document too complex: more than {MAX_YAML_NODES} nodes once "
                "aliases are expanded",
            )
        if isinstance(node, ScalarNode):
            if prefix:
                line = node.start_mark.line + 1
                if node.style in ("|", ">"):
                    line += 1
                self.lines.setdefault(f"{prefix}@text", line)
                if self.raw is not None and "." not in prefix:
                    self.raw.setdefault(prefix, node.value)
            return self.scalar(node)
        nid = id(node)
        if nid in self._active:
            raise self._problem(node, "recursive alias: a node contains itself")
        self._active.add(nid)
        try:
            if isinstance(node, MappingNode):
                return self.mapping(node, prefix)
            if isinstance(node, SequenceNode):
                return self.sequence(node, prefix)
            self.plain = False  # pragma: no cover - composers make only the three
            return None
        finally:
            self._active.discard(nid)

    def mapping(self, node: MappingNode, prefix: str) -> dict[Any, Any]:
        self.plain = self.plain and node.tag == _MAP
        out: dict[Any, Any] = {}
        seen: dict[tuple[str, str], int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.plain = False
                self.visit(key_node, "")
                self.visit(value_node, "")
                continue
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.plain = False
                self.visit(value_node, prefix)
                continue
            kline = key_node.start_mark.line + 1
            ident = (key_node.tag, key_node.value)
            where = f"{prefix}.{key_node.value}" if prefix else key_node.value
            if ident in seen:
                scope = f" in '{prefix}'" if prefix else ""
                self.findings.append(
                    Finding.error(
                        self.path,
                        kline,
                        f"duplicate key '{key_node.value}'{scope} "
                        f"(first defined at line {seen[ident]})",
                        "duplicate-key",
                    )
                )
            else:
                seen[ident] = kline
                self.lines.setdefault(where, kline)
            key = self.scalar(key_node)
            value = self.visit(value_node, where)
            if self.plain:
                out[key] = value
        return out

    def sequence(self, node: SequenceNode, prefix: str) -> list[Any]:
        self.plain = self.plain and node.tag == _SEQ
        items = []
        for i, item in enumerate(node.value):
            where = f"{prefix}.{i}" if prefix else str(i)
            self.lines.setdefault(where, item.start_mark.line + 1)
            items.append(self.visit(item, where))
        return items


def _index_tree(
    root: Node,
    path: str,
    raw: dict[str, str] | None = None,
    loader: yaml.SafeLoader | None = None,
) -> tuple[dict[str, int], list[Finding], Any]:
    """(lines, findings, value) of a composed tree; see ``_Walk``."""
    walk = _Walk(path, raw, loader)
    value = walk.visit(root, "")
    return walk.lines, walk.findings, value if walk.plain else _NOT_BUILT


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
            lines, findings, value = _index_tree(node, path, raw, loader)
        except _YamlProblem as exc:
            return _failed([exc.finding])
        if value is not _NOT_BUILT:
            return value, lines, findings, True
        try:
            value = loader.construct_document(node)
        except yaml.YAMLError as exc:
            return _failed([*findings, _syntax_error(path, exc)], lines)
        except (TypeError, ValueError) as exc:  # an unhashable key, `!!int nope`
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
