"""The documentation the code points at exists.

- Every design citation in the code (``DESIGN §n`` and its newer spelling
  ``docs/design.md §n``, also the ``§m`` that follow in the same citation, as in
  ``(DESIGN §6 step 1, §12)``) names a numbered section of docs/design.md.
- docs/architecture.md lists the sub-packages of ``registry/`` in the order that
  tests/unit/test_layers.py enforces.
- Every relative link of README.md leads to a file of the repository (the docs site's
  own links are checked by ``mkdocs build --strict`` in ``make docs``).
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.unit.test_layers import REGISTRY_ORDER

ROOT = Path(__file__).resolve().parents[2]
DESIGN = ROOT / "docs" / "design.md"
CODE_DIRS = ("registry", "hooks", "api", "cli", "client", "tests")

# "DESIGN §6 step 1, §12)" → the citation runs to the end of its clause.
CITATION = re.compile(r"(?:DESIGN|docs/design\.md) (§\d+[^)\n\"]*)")
SECTION = re.compile(r"§(\d+)")
HEADING = re.compile(r"^#{1,6} §(\d+)\b", re.MULTILINE)
ARCHITECTURE_ROW = re.compile(r"^\| `([a-z_]+)/` \|", re.MULTILINE)
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def design_sections() -> set[int]:
    return {int(n) for n in HEADING.findall(DESIGN.read_text(encoding="utf-8"))}


def citations() -> dict[int, list[str]]:
    """Each cited section number → the ``file:line`` places that cite it."""
    found: dict[int, list[str]] = {}
    for folder in CODE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            for lineno, line in enumerate(text.splitlines(), start=1):
                for match in CITATION.finditer(line):
                    for n in SECTION.findall(match.group(1)):
                        place = f"{path.relative_to(ROOT)}:{lineno}"
                        found.setdefault(int(n), []).append(place)
    return found


def test_design_notes_are_numbered_from_one_in_order() -> None:
    numbers = [int(n) for n in HEADING.findall(DESIGN.read_text(encoding="utf-8"))]
    assert numbers == list(range(1, len(numbers) + 1))
    assert len(numbers) >= 15


def test_every_design_citation_names_a_section_of_docs_design_md() -> None:
    cited = citations()
    # The code cites the design notes in dozens of places; none found means this
    # test's pattern no longer matches how the code spells them.
    assert sum(len(places) for places in cited.values()) >= 20, cited
    missing = {n: places for n, places in cited.items() if n not in design_sections()}
    assert missing == {}, f"cited sections missing from docs/design.md: {missing}"


def test_the_citation_pattern_reads_both_spellings() -> None:
    line = "x (DESIGN §6 step 1, §12) and docs/design.md §7: the warm path"
    numbers = [n for m in CITATION.finditer(line) for n in SECTION.findall(m.group(1))]
    assert numbers == ["6", "12", "7"]


def test_architecture_lists_the_registry_sub_packages_bottom_to_top() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert tuple(ARCHITECTURE_ROW.findall(text)) == REGISTRY_ORDER
    on_disk = {p.parent.name for p in (ROOT / "registry").glob("*/__init__.py")}
    assert on_disk <= set(REGISTRY_ORDER), on_disk - set(REGISTRY_ORDER)


def test_readme_links_lead_to_files_of_the_repository() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = [t for t in LINK.findall(readme) if "://" not in t]
    assert targets, "the README links into docs/"
    missing = [t for t in targets if not (ROOT / t).exists()]
    assert missing == []
