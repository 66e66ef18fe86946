"""Rendering in Jinja2's sandbox: the immutable sandboxed environment and its guards
(``sandbox``), the limits (``limits``), filters (``filters``), includes resolved from
``parts/`` of the same snapshot (``includes``), template analysis by parsing only
(``template_ast``, ``analysis``) and the renderer with its per-blob compile cache
(``renderer``).

Other layers import from this face; the modules behind it are private.
"""

from __future__ import annotations

from dakora.registry.render.analysis import TemplateInfo, analyze_template
from dakora.registry.render.limits import (
    DEFAULT_TIMEOUT_MS,
    memory_error,
    timeout_error,
    too_big_source,
)
from dakora.registry.render.renderer import Renderer, RenderResult, Renders
from dakora.registry.render.template_ast import ANALYSIS_ENV, unsafe_accesses

__all__ = [
    "ANALYSIS_ENV",
    "DEFAULT_TIMEOUT_MS",
    "RenderResult",
    "Renderer",
    "Renders",
    "TemplateInfo",
    "analyze_template",
    "memory_error",
    "timeout_error",
    "too_big_source",
    "unsafe_accesses",
]
