"""Dependencies point one way: registry ← hooks ← api, cli; the SDK stands alone.

Every import in the module (also the lazy ones inside functions) is checked, so a
shortcut from the domain into a web or CLI framework fails here, not in review.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

WEB_AND_CLI = ("fastapi", "starlette", "uvicorn", "a2wsgi", "typer", "click", "rich")
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "registry": (*WEB_AND_CLI, "dakora.hooks", "dakora.api", "dakora.cli"),
    "hooks": (*WEB_AND_CLI, "dakora.api", "dakora.cli"),
    "client": (
        "dakora.registry",
        "dakora.hooks",
        "dakora.api",
        "dakora.cli",
        "fastapi",
        "sqlalchemy",
        "dulwich",
    ),
}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_point_one_way(layer: str) -> None:
    banned = FORBIDDEN[layer]
    problems = [
        f"{path.relative_to(ROOT)}:{line}: imports {name}"
        for path in sorted((ROOT / layer).rglob("*.py"))
        for line, name in imported_modules(path)
        if any(name == b or name.startswith(b + ".") for b in banned)
    ]
    assert not problems, "\n".join(problems)
