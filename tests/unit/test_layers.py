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
# Storage owns SQL: api/ and hooks/ reach the database only through registry
# functions (and name its handles as ``dakora.registry.db.Engine`` / ``Connection``).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "registry": (*WEB_AND_CLI, "dakora.hooks", "dakora.api", "dakora.cli"),
    "hooks": (*WEB_AND_CLI, "dakora.api", "dakora.cli", "sqlalchemy"),
    "api": ("dakora.cli", "sqlalchemy"),
    # The SDK's one way into the registry: ``dakora.registry.core`` (its offline render
    # coerces inputs with the server's own code, docs/sdk.md); nothing that needs the
    # server's dependencies (see test_client_reaches_only_registry_core).
    "client": (
        "dakora.hooks",
        "dakora.api",
        "dakora.cli",
        "fastapi",
        "sqlalchemy",
        "dulwich",
    ),
}


def test_client_reaches_only_registry_core() -> None:
    allowed = ("dakora.registry.core",)
    problems = [
        f"{path.relative_to(ROOT)}:{line}: imports {name}"
        for path in sorted((ROOT / "client").rglob("*.py"))
        for line, name in imported_modules(path)
        if (name == "dakora.registry" or name.startswith("dakora.registry."))
        and name not in allowed
    ]
    assert not problems, "\n".join(problems)


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


# registry/ sub-packages, bottom to top: a module may import its own sub-package and
# the ones before it, never one after it (docs/architecture.md, "Layers").
REGISTRY_ORDER = (
    "core",
    "load",
    "git",
    "render",
    "checks",
    "review",
    "db",
    "tenancy",
    "mirror",
    "webhooks",
    "index",
    "content",
)


def _registry_package(name: str) -> str | None:
    parts = name.split(".")
    if parts[:2] != ["dakora", "registry"] or len(parts) < 3:
        return None
    return parts[2]


def test_registry_subpackages_point_down() -> None:
    problems = []
    for path in sorted((ROOT / "registry").rglob("*.py")):
        rel = path.relative_to(ROOT / "registry").parts
        if len(rel) < 2:
            continue  # registry/__init__.py: the top face
        own = rel[0]
        assert own in REGISTRY_ORDER, f"registry/{own}/ is missing from REGISTRY_ORDER"
        for line, name in imported_modules(path):
            target = _registry_package(name)
            if target is None or target == own:
                continue
            if target not in REGISTRY_ORDER or REGISTRY_ORDER.index(
                target
            ) > REGISTRY_ORDER.index(own):
                problems.append(
                    f"{path.relative_to(ROOT)}:{line}: {own} imports {name}"
                )
    assert not problems, "\n".join(problems)


def test_no_loose_modules_in_registry() -> None:
    loose = sorted(
        p.name for p in (ROOT / "registry").glob("*.py") if p.name != "__init__.py"
    )
    assert not loose, f"modules belong in a sub-package: {loose}"


OUTER_LAYERS = ("hooks", "api", "cli")


def test_other_layers_import_registry_through_faces() -> None:
    """hooks, api and cli import ``dakora.registry.<sub>`` — never a module behind it."""
    problems = [
        f"{path.relative_to(ROOT)}:{line}: imports {name}"
        for layer in OUTER_LAYERS
        for path in sorted((ROOT / layer).rglob("*.py"))
        for line, name in imported_modules(path)
        if name.startswith("dakora.registry.") and len(name.split(".")) > 3
    ]
    assert not problems, "\n".join(problems)


def test_registry_subpackages_import_each_other_through_faces() -> None:
    problems = []
    for path in sorted((ROOT / "registry").rglob("*.py")):
        rel = path.relative_to(ROOT / "registry").parts
        if len(rel) < 2:
            continue
        for line, name in imported_modules(path):
            target = _registry_package(name)
            if target and target != rel[0] and len(name.split(".")) > 3:
                problems.append(f"{path.relative_to(ROOT)}:{line}: imports {name}")
    assert not problems, "\n".join(problems)
