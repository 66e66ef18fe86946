"""Reading a template's Jinja AST without compiling it: parse (with the source size
limit), the names it uses undeclared, the names it binds, its include/import/extends
targets, the first line of each name, and accesses the sandbox refuses."""

from __future__ import annotations

from jinja2 import TemplateSyntaxError, nodes
from jinja2.meta import TrackingCodeGenerator

from dakora.registry.core import RenderError
from dakora.registry.render.limits import source_error, too_big_source
from dakora.registry.render.sandbox import SandboxEnv

ANALYSIS_ENV = SandboxEnv()
_TARGET_NODES = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)


def parse_template(source: str, where: str = "template") -> nodes.Template:
    if too_big_source(source):
        raise source_error(where)
    try:
        return ANALYSIS_ENV.parse(source)
    except TemplateSyntaxError as exc:
        raise RenderError(
            f"template syntax error at line {exc.lineno}: {exc.message}",
            line=exc.lineno,
            source=where,
        ) from None


def undeclared_names(ast: nodes.Template) -> set[str]:
    codegen = TrackingCodeGenerator(ANALYSIS_ENV)
    codegen.visit(ast)
    return set(codegen.undeclared_identifiers)


def bound_names(ast: nodes.Template) -> frozenset[str]:
    names = {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}
    for imp in ast.find_all(nodes.Import):
        names.add(imp.target)
    for frm in ast.find_all(nodes.FromImport):
        for item in frm.names:
            names.add(item[1] if isinstance(item, tuple) else item)
    return frozenset(names)


def include_targets(ast: nodes.Template) -> list[tuple[str | None, int, bool]]:
    """(literal target or None, line, ignore missing) of includes/imports/extends."""
    out: list[tuple[str | None, int, bool]] = []
    for node in ast.find_all(_TARGET_NODES):
        tmpl = getattr(node, "template", None)
        name = (
            tmpl.value
            if isinstance(tmpl, nodes.Const) and isinstance(tmpl.value, str)
            else None
        )
        ignore = bool(getattr(node, "ignore_missing", False))
        out.append((name, node.lineno, ignore))
    out.sort(key=lambda t: t[1])
    return out


def first_lines(ast: nodes.Template, names: set[str]) -> dict[str, int]:
    lines: dict[str, int] = {}
    for node in ast.find_all(nodes.Name):
        if (
            node.ctx == "load"
            and node.name in names
            and (node.name not in lines or node.lineno < lines[node.name])
        ):
            lines[node.name] = node.lineno
    return lines


def unsafe_accesses(ast: nodes.Template) -> list[tuple[str, int]]:
    """(message, line) of every attribute or item access to a dunder or name-mangled
    name — ``x.__class__``, ``x['__globals__']``, ``self._Ref__context``,
    ``x|attr('__y')`` — the sandbox-escape (SSTI) shapes. Reads the AST only.

    Plain leading-underscore keys (``doc._id``, ``doc['_id']``) are data a caller may
    legitimately send in an object input, so they are not refused."""
    out: list[tuple[str, int]] = []
    for node in ast.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter)):
        if isinstance(node, nodes.Getattr):
            name: object = node.attr
        elif isinstance(node, nodes.Getitem):
            name = node.arg.value if isinstance(node.arg, nodes.Const) else None
        elif (
            isinstance(node, nodes.Filter)
            and node.name == "attr"
            and node.args
            and isinstance(node.args[0], nodes.Const)
        ):
            name = node.args[0].value
        else:
            continue
        if isinstance(name, str) and name.startswith("_") and "__" in name:
            out.append(
                (
                    f"access to '{name}': dunder and name-mangled names are refused "
                    "by the sandbox",
                    node.lineno,
                )
            )
    out.sort(key=lambda item: item[1])
    return out
