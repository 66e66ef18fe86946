"""``dakora.yaml``: the repository's settings (``RepoConfig``) parsed into findings;
unknown keys are warnings, a bad value is an error and its default is used."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from dakora.registry.core import Finding
from dakora.registry.load.schema import did_you_mean, type_name
from dakora.registry.load.yaml_lines import by_line, key_line, parse_yaml

_CONFIG_KEYS = (
    "default_branch",
    "protected_refs",
    "prompts_dir",
    "parts_dir",
    "name",
    "description",
)
_REF_NAME = re.compile(r"^(?!/)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/*-]+(?<!/)(?<!\.lock)$")


@dataclass(frozen=True)
class RepoConfig:
    """``dakora.yaml`` (all optional)."""

    default_branch: str = "main"
    protected_refs: tuple[str, ...] = ()
    prompts_dir: str = "prompts"
    parts_dir: str = "parts"
    raw: dict[str, Any] = field(default_factory=dict)


def load_config(
    data: bytes | None, path: str = "dakora.yaml"
) -> tuple[RepoConfig, list[Finding]]:
    """Parse ``dakora.yaml``; missing file (None) gives the defaults and no findings.

    Known keys: ``default_branch`` (str), ``protected_refs`` (list of branch/tag
    names), ``prompts_dir``, ``parts_dir`` (relative folders), ``name`` and
    ``description`` (informational). Unknown keys are warnings; a bad value is an
    error and its default is used.
    """
    if data is None:
        return RepoConfig(), []
    value, lines, findings, ok = parse_yaml(data, path)
    if not ok:
        if findings and findings[0].rule == "empty-file":
            return RepoConfig(), []  # an empty dakora.yaml means all defaults
        return RepoConfig(), findings
    if not isinstance(value, dict):
        findings.append(
            Finding.error(
                path,
                1,
                f"dakora.yaml must be a mapping, got {type_name(value)}",
                "not-a-mapping",
            )
        )
        return RepoConfig(), findings
    kwargs: dict[str, Any] = {}
    for key, item in value.items():
        if key not in _CONFIG_KEYS:
            findings.append(
                Finding.warning(
                    path,
                    key_line(lines, str(key)),
                    f"unknown key '{key}' in dakora.yaml"
                    f"{did_you_mean(str(key), _CONFIG_KEYS)}",
                    "unknown-key",
                )
            )
            continue
        problem: str | None = None
        if key == "default_branch":
            if isinstance(item, str) and _REF_NAME.match(item) and "*" not in item:
                kwargs[key] = item
            else:
                problem = f"default_branch must be a branch name, got {item!r}"
        elif key == "protected_refs":
            if item is None:
                item = []
            if isinstance(item, str):
                item = [item]
            if isinstance(item, list) and all(
                isinstance(r, str) and _REF_NAME.match(r) for r in item
            ):
                kwargs[key] = tuple(item)
            else:
                problem = f"protected_refs must be a list of branch or tag names, got {item!r}"
        elif key in ("prompts_dir", "parts_dir"):
            parts = item.strip("/").split("/") if isinstance(item, str) else []
            if parts and all(p not in ("", ".", "..") for p in parts):
                kwargs[key] = "/".join(parts)
            else:
                problem = (
                    f"{key} must be a relative folder inside the repository, got "
                    f"{item!r}"
                )
        elif item is not None and not isinstance(item, str):
            problem = f"{key} must be a string, got {item!r}"
        if problem is not None:
            findings.append(
                Finding.error(path, key_line(lines, key), problem, "schema")
            )
    return RepoConfig(**kwargs, raw=value), sorted(findings, key=by_line)
