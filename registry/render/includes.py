"""Includes of parts: ``{% include "category/name" %}`` resolved from one snapshot's
``parts/``, at render time (``PartsLoader``) and statically (``walk_includes``: the
include graph with cycle detection, depth ≤ ``MAX_INCLUDE_DEPTH``, missing targets and
the variables parts use; each part parsed once, cached by (parts key, name))."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jinja2 import BaseLoader, TemplateNotFound, TemplateSyntaxError, nodes

from dakora.registry.core import LruCache, RenderError
from dakora.registry.git import PartsSource
from dakora.registry.load import is_valid_part_name
from dakora.registry.render.limits import (
    MAX_INCLUDE_DEPTH,
    source_error,
    too_big_source,
)
from dakora.registry.render.template_ast import (
    bound_names,
    include_targets,
    parse_template,
    undeclared_names,
    unsafe_accesses,
)


class PartsLoader(BaseLoader):
    """Resolves ``{% include "category/name" %}`` from one snapshot's parts."""

    def __init__(self, parts: PartsSource) -> None:
        self.parts = parts

    def get_source(
        self, environment: Any, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        found = (
            self.parts.get_source(template) if is_valid_part_name(template) else None
        )
        if found is None:
            raise TemplateNotFound(template)
        text, path = found
        if too_big_source(text):
            raise source_error(f"part '{template}'")
        return text, path, _always_fresh


def _always_fresh() -> bool:
    return True


@dataclass(frozen=True)
class PartInfo:
    found: bool
    variables: frozenset[str] = frozenset()
    bound: frozenset[str] = frozenset()
    targets: tuple[tuple[str | None, int, bool], ...] = ()
    error: str | None = None
    path: str = ""
    unsafe: tuple[tuple[str, int], ...] = ()  # (message, line in the part)


_PART_INFO: LruCache[tuple[str, str], PartInfo] = LruCache(4096)


def part_info(parts: PartsSource, name: str) -> PartInfo:
    key = (parts.key, name)
    info = _PART_INFO.get(key)
    if info is not None:
        return info
    found = parts.get_source(name) if is_valid_part_name(name) else None
    if found is None:
        info = PartInfo(found=False)
    else:
        text, path = found
        try:
            ast = parse_template(text, path)
            info = PartInfo(
                found=True,
                variables=frozenset(undeclared_names(ast)),
                bound=bound_names(ast),
                targets=tuple(include_targets(ast)),
                path=path,
                unsafe=tuple(unsafe_accesses(ast)),
            )
        except RenderError as exc:
            info = PartInfo(found=True, error=f"{path}: {exc.message}")
        except TemplateSyntaxError as exc:  # e.g. an assertion in the code generator
            info = PartInfo(
                found=True, error=f"{path}: line {exc.lineno}: {exc.message}"
            )
    _PART_INFO.put(key, info)
    return info


def walk_includes(
    ast: nodes.Template,
    parts: PartsSource,
    variables: set[str],
    variable_lines: dict[str, int],
    unsafe: list[tuple[str, int]] | None = None,
) -> tuple[list[str], list[tuple[str, int]], list[tuple[str, int]]]:
    """Follow every include of ``ast`` through ``parts``: (parts included, in order;
    missing targets with their line; errors with their line). Variables the parts use
    (and the including templates do not bind) are added to ``variables`` and
    ``variable_lines`` (at the line of the top-level include); the parts' unsafe
    accesses (``unsafe_accesses``) to ``unsafe``, also at that line."""
    includes: list[str] = []
    missing: list[tuple[str, int]] = []
    errors: list[tuple[str, int]] = []
    # DFS over the include graph: ``height`` of finished parts (longest chain below
    # and including them), ``stack`` the parts on the current path (cycle check).
    height: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str, line: int, depth: int, bound: frozenset[str]) -> int:
        chain = [*stack, name]
        if name in stack:
            cycle = chain[chain.index(name) :]
            errors.append((f"include cycle: {' -> '.join(cycle)}", line))
            return 0
        if name in height:
            if depth + height[name] - 1 > MAX_INCLUDE_DEPTH:
                errors.append(
                    (
                        f"includes nested deeper than {MAX_INCLUDE_DEPTH}: "
                        f"{' -> '.join(chain)} -> …",
                        line,
                    )
                )
            return height[name]
        if depth > MAX_INCLUDE_DEPTH:
            errors.append(
                (
                    f"includes nested deeper than {MAX_INCLUDE_DEPTH}: "
                    f"{' -> '.join(chain)}",
                    line,
                )
            )
            return 0
        info = part_info(parts, name)
        if not info.found:
            missing.append((name, line))
            return 0
        if name not in includes:
            includes.append(name)
        if info.error is not None:
            errors.append((f"in part '{name}': {info.error}", line))
            return 1
        if unsafe is not None:
            for message, pline in info.unsafe:
                unsafe.append(
                    (f"in part '{name}': {message} ({info.path}, line {pline})", line)
                )
        for var in info.variables - bound:
            if var not in variables:
                variables.add(var)
                variable_lines.setdefault(var, line)
        stack.append(name)
        below = 0
        inner_bound = bound | info.bound
        for target, _tline, ignore in info.targets:
            if target is None:
                errors.append(
                    (f"in part '{name}': include target must be a string literal", line)
                )
                continue
            if ignore and part_info(parts, target).found is False:
                continue
            below = max(below, visit(target, line, depth + 1, inner_bound))
            if len(errors) > 50:
                break
        stack.pop()
        height[name] = below + 1
        return below + 1

    root_bound = bound_names(ast)
    for target, line, ignore in include_targets(ast):
        if target is None:
            errors.append(
                ('include target must be a string literal like "category/name"', line)
            )
            continue
        if ignore and part_info(parts, target).found is False:
            continue
        visit(target, line, 1, root_bound)
    return includes, missing, errors
