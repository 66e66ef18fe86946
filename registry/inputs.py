"""Strict, predictable input coercion (DESIGN §3).

Callers send JSON (HTTP, ``source="json"``) or strings (CLI ``-i key=value``,
``source="cli"``). Every bad, missing or unknown input is reported at once in one
``InputError`` whose problems name the input, the expected type and the value.
``enum`` is enforced after coercion. Optional inputs without default become None.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from dakora.registry.model import InputSpec


def coerce_inputs(
    specs: Mapping[str, InputSpec],
    raw: Mapping[str, Any],
    *,
    source: Literal["json", "cli"] = "json",
) -> dict[str, Any]:
    """Coerce ``raw`` by the declared specs. Raises InputError listing every problem."""
    raise NotImplementedError


def parse_cli_pairs(pairs: list[str]) -> dict[str, str]:
    """``["k=v", …]`` → dict; a pair without ``=`` is an InputError naming it."""
    raise NotImplementedError
