"""From bytes to a validated prompt: YAML with line numbers and duplicate-key refusal
(``yaml_lines``), the prompt file schema (``schema``), ``dakora.yaml``
(``repo_config``), part names (``parts``) and the loader that ties them together
(``loader``). Pure: no git, no disk beyond what a caller hands in.

Other layers import from this face; the modules behind it are private.
"""

from __future__ import annotations

from dakora.registry.load.loader import LoadedPrompt, load_prompt_findings
from dakora.registry.load.parts import (
    PART_EXTENSIONS,
    is_valid_part_name,
    strip_extension,
)
from dakora.registry.load.repo_config import RepoConfig, load_config

__all__ = [
    "LoadedPrompt",
    "PART_EXTENSIONS",
    "RepoConfig",
    "is_valid_part_name",
    "load_config",
    "load_prompt_findings",
    "strip_extension",
]
