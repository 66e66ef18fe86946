"""Parts in a review: which parts BASE → HEAD adds, changes or removes (with their
diffs), and which parts a prompt's templates include.
"""

from __future__ import annotations

from typing import Literal

from dakora.registry.core import DakoraError, Prompt
from dakora.registry.git import PartsSource
from dakora.registry.render import analyze_template
from dakora.registry.review.renders import unified_diff
from dakora.registry.review.report import PartChange


def parts_changes(base: PartsSource, head: PartsSource) -> list[PartChange]:
    changes: list[PartChange] = []
    base_names, head_names = set(base.names()), set(head.names())
    for name in sorted(base_names | head_names):
        old = base.get_source(name) if name in base_names else None
        new = head.get_source(name) if name in head_names else None
        if old is not None and new is not None and old[0] == new[0]:
            continue
        status: Literal["added", "modified", "removed"] = (
            "added" if old is None else "removed" if new is None else "modified"
        )
        changes.append(
            PartChange(
                name=name,
                status=status,
                path=new[1] if new else None,
                old_path=old[1] if old else None,
                diff=unified_diff(
                    old[0] if old else None,
                    new[0] if new else None,
                    f"a/{old[1]}" if old else "/dev/null",
                    f"b/{new[1]}" if new else "/dev/null",
                ),
            )
        )
    return changes


def included_parts(prompt: Prompt, parts: PartsSource) -> set[str]:
    names: set[str] = set()
    for _label, source in prompt.sources():
        try:
            names.update(analyze_template(source, parts).includes)
        except DakoraError:
            continue  # a template that does not parse: lint reports it
    return names
