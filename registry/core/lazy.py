"""Package faces that import a module on first use of one of its names.

A face lists ``name -> module`` (a module of the package); the returned function is
the package's ``__getattr__`` (PEP 562). Each name is imported once, then cached in
the package's namespace, so later lookups never come back here. Used where a light
command (``dakora lint``, a working-tree ``dakora render``) must not pay for heavy
imports it does not need (docs/development.md, "CLI start-up").
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(
    package: str, names: Mapping[str, str], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """The ``__getattr__`` of ``package``: ``names`` maps a name to its module."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    return __getattr__
