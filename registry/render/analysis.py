"""Static analysis of a template (checks, review): what it uses and includes, found
by parsing — never compiling or running — it and its parts; and ``compile_template``,
the compile check in the render sandbox."""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import TemplateSyntaxError, nodes

from dakora.registry.core import RenderError
from dakora.registry.git import PartsSource
from dakora.registry.render.includes import walk_includes
from dakora.registry.render.sandbox import translate_error
from dakora.registry.render.template_ast import (
    ANALYSIS_ENV,
    first_lines,
    parse_template,
    undeclared_names,
    unsafe_accesses,
)


@dataclass(frozen=True)
class TemplateInfo:
    """What a template uses, found by parsing (never compiling) it and its parts."""

    variables: frozenset[str]  # undeclared names used, including inside parts
    includes: tuple[str, ...]  # include targets, transitively, in order
    missing_includes: tuple[tuple[str, int], ...]  # (name, line in the source)
    variable_lines: dict[str, int]  # first line each variable appears on (source's own)
    # (message, line in the source): include cycles (with the chain), nesting deeper
    # than MAX_INCLUDE_DEPTH, non-literal include targets, parts that don't parse or
    # are too big. A variable only used in a part gets the line of its include.
    errors: tuple[tuple[str, int], ...] = ()
    # (message, line in the source): attribute/item access to names starting with
    # "_" (refused by the sandbox), in the source or (at the include's line) a part.
    unsafe: tuple[tuple[str, int], ...] = ()


def analyze_ast(ast: nodes.Template, parts: PartsSource) -> TemplateInfo:
    """``analyze_template`` of an already parsed template."""
    try:
        variables = undeclared_names(ast)
    except TemplateSyntaxError as exc:
        raise RenderError(
            f"template error at line {exc.lineno}: {exc.message}", line=exc.lineno
        ) from None
    variable_lines = first_lines(ast, variables)
    unsafe = unsafe_accesses(ast)
    includes, missing, errors = walk_includes(
        ast, parts, variables, variable_lines, unsafe
    )
    missing_unique = list(dict.fromkeys(missing))
    return TemplateInfo(
        variables=frozenset(variables),
        includes=tuple(includes),
        missing_includes=tuple(missing_unique),
        variable_lines=variable_lines,
        errors=tuple(dict.fromkeys(errors)),
        unsafe=tuple(dict.fromkeys(unsafe)),
    )


def analyze_template(source: str, parts: PartsSource) -> TemplateInfo:
    """Parse (not compile) a template and everything it includes.

    Raises ``RenderError`` (``details["line"]``) when the source itself does not
    parse or is larger than ``MAX_SOURCE_BYTES``; problems with includes are data
    (``missing_includes``, ``errors``). Loop, ``set``, macro and import names are not
    undeclared; names an including template binds count as declared in its parts.
    """
    return analyze_ast(parse_template(source), parts)


def compile_template(source: str, label: str = "template") -> None:
    """Check that a template compiles in the render sandbox; raises ``RenderError``
    (``details["line"]``) if not.

    Use this rather than a plain ``SandboxedEnvironment().compile``: Jinja folds
    constant expressions while compiling, so ``{{ 'a' * 10**10 }}`` or
    ``{{ 'a' | center(10**10) }}`` would allocate gigabytes at *check* time in a plain
    environment; here the guarded operators and filters are never folded.
    """
    ast = parse_template(source, label)
    try:
        ANALYSIS_ENV.compile(ast, filename=f"<{label}>")
    except TemplateSyntaxError as exc:
        raise translate_error(exc, label) from None
