"""Pull-request review of prompt changes: what BASE -> HEAD changes for callers. The report
model (``report``), the compatibility and version rules (``rules``), diffs and example
renders (``renders``), part changes (``parts``), the review itself (``build``) and its
markdown/JSON formats (``format``).

Other layers import from this face; the modules behind it are private.
"""

from __future__ import annotations

from dakora.registry.review.build import review
from dakora.registry.review.format import (
    render_summary,
    side_label,
    to_json,
    to_markdown,
    version_text,
)
from dakora.registry.review.report import SCHEMA_VERSION, ReviewReport
from dakora.registry.review.rules import FAIL_ON_LEVELS, blocking_issues

__all__ = [
    "FAIL_ON_LEVELS",
    "ReviewReport",
    "SCHEMA_VERSION",
    "blocking_issues",
    "render_summary",
    "review",
    "side_label",
    "to_json",
    "to_markdown",
    "version_text",
]
