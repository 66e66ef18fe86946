"""Modules and functions stay small enough to read: no module over ``MAX_MODULE_LINES``
lines, no function body over ``MAX_FUNCTION_LINES`` lines (its signature, decorators
and docstring not counted: a Typer command's options are a long signature, not
logic). A module or function that grows past a limit is split by job, not listed
here; ``ALLOWED`` is for the few that cannot be, each with its reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("registry", "hooks", "api", "cli", "client")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80

# "path" or "path:function" → why it may be longer. Keep it short.
ALLOWED: dict[str, str] = {}


def _sources() -> list[Path]:
    return sorted(p for layer in LAYERS for p in (ROOT / layer).rglob("*.py"))


def _body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = node.body
    first = body[0]
    docstring = (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )
    if docstring and len(body) > 1:
        first = body[1]
    return (node.end_lineno or node.lineno) - first.lineno + 1


def test_modules_are_short() -> None:
    long = [
        f"{rel}: {n} lines (limit {MAX_MODULE_LINES})"
        for path in _sources()
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
        and (rel := str(path.relative_to(ROOT))) not in ALLOWED
    ]
    assert not long, "split these modules by job:\n" + "\n".join(long)


def test_functions_are_short() -> None:
    long = []
    for path in _sources():
        rel = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text(), filename=rel)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            n = _body_lines(node)
            if n > MAX_FUNCTION_LINES and f"{rel}:{node.name}" not in ALLOWED:
                long.append(f"{rel}:{node.lineno} {node.name}: {n} lines")
    assert not long, (
        f"split these functions (limit {MAX_FUNCTION_LINES} body lines):\n"
        + "\n".join(long)
    )


def test_the_limits_see_a_long_function() -> None:
    """The measure itself: a 90-line body counts 90, a docstring does not."""
    body = "\n".join(f"    x{i} = {i}" for i in range(90))
    source = f'def f():\n    """Doc."""\n{body}\n'
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.FunctionDef)
    assert _body_lines(node) == 90
