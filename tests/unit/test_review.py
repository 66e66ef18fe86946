"""``review(base, head)`` on a real git repository: every status and every rule, and the
markdown / JSON outputs compared with golden files.

Regenerate the golden files after an intended change with
``UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_review.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dakora.registry.core.findings import Finding
from dakora.registry.git.repo import PromptRepository
from dakora.registry.review.build import review
from dakora.registry.review.format import to_json, to_markdown
from dakora.registry.review.report import PromptReview, ReviewReport, Side
from tests.unit.review_scenario import build_review_repo

GOLDEN = Path(__file__).parent / "golden" / "review"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_review_repo(tmp_path_factory.mktemp("review") / "repo")


def run_review(repo_path: Path, base: str, head: str, **kw: object) -> ReviewReport:
    repo = PromptRepository.open(str(repo_path))
    return review(
        repo.snapshot(repo.resolve(base)),
        repo.snapshot(repo.resolve(head)),
        base_rev=base,
        head_rev=head,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def report(scenario: Path) -> ReviewReport:
    return run_review(scenario, "main", "feature")


def by_id(report: ReviewReport) -> dict[str, PromptReview]:
    return {p.id: p for p in report.prompts}


def codes(report: ReviewReport, prompt: str) -> dict[str, str]:
    return {i.code: i.level for i in report.issues_for(prompt)}


def test_every_status_matched_by_id(report: ReviewReport) -> None:
    assert {p.id: p.status for p in report.prompts} == {
        "old-prompt": "removed",
        "broken": "invalid",
        "faq": "added",
        "summarize": "renamed",
        "chat-bot": "modified",
        "classify": "modified",
        "digest": "modified",
        "support-reply": "modified",
        "translate": "modified",
        "greeting": "affected",
    }
    s = report.summary
    assert (s.removed, s.invalid, s.added, s.renamed, s.modified, s.affected) == (
        1,
        1,
        1,
        1,
        5,
        1,
    )
    renamed = by_id(report)["summarize"]
    assert (renamed.old_path, renamed.path) == (
        "prompts/summarize.yaml",
        "prompts/general/summarize.yaml",
    )
    assert not renamed.content_changed and renamed.version.valid


def test_every_input_rule(report: ReviewReport) -> None:
    reply = by_id(report)["support-reply"]
    got = {r.name: {c.kind: c.compat for c in r.changes} for r in reply.inputs}
    assert got == {
        "tier": {"enum-values-removed": "breaking", "enum-values-added": "compatible"},
        "max_items": {"default-changed": "risky"},
        "urgent": {"type-changed": "breaking", "default-changed": "risky"},
        "tags": {"now-required": "breaking"},
        "note": {"description-changed": "compatible"},
        "language": {"added-optional": "compatible"},
        "account_id": {"added-required": "breaking"},
        "channel": {"enum-added": "breaking"},
        "level": {"enum-removed": "compatible"},
        "mood": {"now-optional": "compatible"},
        "legacy": {"removed": "breaking"},
    }
    verdicts = {r.name: r.verdict for r in reply.inputs}
    assert verdicts["max_items"] == "risky" and verdicts["note"] == "compatible"
    assert reply.compatibility == "breaking"
    assert "customer" not in verdicts  # unchanged inputs are not listed


def test_breaking_change_with_minor_bump_is_flagged(report: ReviewReport) -> None:
    reply = by_id(report)["support-reply"]
    assert reply.version.bump == "minor" and reply.version.valid
    assert not reply.version.sized_ok and reply.version.required_bump == "major"
    assert codes(report, "support-reply")["breaking-change-needs-major"] == "breaking"
    assert codes(report, "support-reply")["default-changed"] == "risky"


def test_zero_x_minor_bump_counts_as_major(report: ReviewReport) -> None:
    chat = by_id(report)["chat-bot"]
    assert chat.version.bump == "major" and chat.version.sized_ok
    assert codes(report, "chat-bot") == {"breaking-change": "risky"}
    assert chat.kind == "chat"
    assert "-[system]" not in chat.template_diff  # labels are unchanged
    assert "+You are a helpful assistant." in chat.template_diff


def test_version_not_bumped_is_an_error(report: ReviewReport) -> None:
    t = by_id(report)["translate"]
    assert not t.version.valid and t.content_changed
    assert t.changed_fields == ["template"]
    assert codes(report, "translate") == {"version-not-bumped": "error"}
    assert "-  Translate to {{ lang }}: {{ text }}" in t.yaml_diff
    assert "+Translate into {{ lang }}: {{ text }}" in t.template_diff


def test_rendered_before_after(report: ReviewReport) -> None:
    reply = by_id(report)["support-reply"]
    (ex,) = reply.renders
    assert ex.label == "example 1"
    assert ex.dropped_base == ["account_id", "language"] and ex.dropped_head == []
    assert ex.before is not None and ex.after is not None and ex.changed
    assert "+Account: A-1 Channel: email Level: low Mood: calm" in ex.diff
    (chat,) = by_id(report)["chat-bot"].renders
    assert chat.dropped_head == [] and chat.dropped_base == []
    assert "-You are helpful." in chat.diff
    assert "+You are a helpful assistant." in chat.diff


def test_render_failing_on_head_blocks_and_on_base_is_reported(
    report: ReviewReport,
) -> None:
    (cls,) = by_id(report)["classify"].renders
    assert cls.after_error is not None and cls.before_error is None
    assert "scale" in cls.after_error
    assert codes(report, "classify") == {
        "breaking-change-needs-major": "breaking",
        "render-failed": "error",
    }
    (dig,) = by_id(report)["digest"].renders
    assert dig.before_error is not None and dig.after is not None
    assert dig.dropped_base == ["day"]
    assert codes(report, "digest") == {"render-failed-base": "info"}


def test_parts_and_prompts_affected_through_includes(report: ReviewReport) -> None:
    parts = {p.name: (p.status, p.affects) for p in report.parts}
    assert parts == {
        "format/emoji": ("added", ["faq"]),
        "old/unused": ("removed", []),
        "system/tone": ("modified", ["greeting"]),
    }
    greeting = by_id(report)["greeting"]
    assert greeting.via_parts == ["system/tone"]
    assert greeting.yaml_diff == "" and greeting.template_diff == ""
    (ex,) = greeting.renders
    assert ex.changed and "+Be warm, kind and concise." in ex.diff
    assert by_id(report)["faq"].via_parts == ["format/emoji"]


def test_removed_and_invalid(report: ReviewReport, scenario: Path) -> None:
    old = by_id(report)["old-prompt"]
    assert old.compatibility == "breaking" and old.path is None
    assert old.renders[0].before == "Old stuff\n" and old.renders[0].after is None
    assert codes(report, "old-prompt") == {"prompt-removed": "breaking"}
    assert codes(report, "broken") == {"invalid-prompt": "error"}
    assert any(f["path"] == "prompts/broken.yaml" for f in report.lint)
    assert report.summary.lint_errors >= 1
    allowed = run_review(scenario, "main", "removal", allow_removals=True)
    assert codes(allowed, "old-prompt") == {"prompt-removed": "risky"}
    assert not allowed.blocking


def test_added_prompt(report: ReviewReport) -> None:
    faq = by_id(report)["faq"]
    assert faq.version.old is None and faq.version.new == "0.1.0"
    assert faq.yaml_diff.startswith("--- /dev/null\n+++ b/prompts/new/faq.yaml\n")
    (ex,) = faq.renders
    assert (
        ex.before is None
        and ex.after == "Use one emoji.\n\nQ: How do I reset my password?\n"
    )


def test_blocking_verdict_per_fail_on(scenario: Path, report: ReviewReport) -> None:
    assert report.blocking and report.fail_on == "breaking"
    assert any("version" in r for r in report.blocking_reasons)
    expected = {
        # branch: (error, breaking, risky, never)
        "compatible": (False, False, False, False),
        "removal": (False, True, True, False),
        "breaking-minor": (False, True, True, False),
        "breaking-major": (False, False, True, False),
        "risky": (False, False, True, False),
    }
    for branch, want in expected.items():
        got = tuple(
            run_review(scenario, "main", branch, fail_on=level).blocking
            for level in ("error", "breaking", "risky", "never")
        )
        assert got == want, branch


def test_no_changes(scenario: Path) -> None:
    same = run_review(scenario, "main", "main")
    assert same.prompts == [] and same.parts == [] and not same.blocking
    assert "No prompt changes." in to_markdown(same)


def test_examples_absent_render_defaults_with_placeholders(tmp_path: Path) -> None:
    from tests.unit.review_scenario import commit_all, git, write_files

    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    body = 'id: p\nversion: "{v}"\ntemplate: "{t} {{{{ who }}}} {{{{ n }}}}"\n'
    inputs = "inputs:\n  who: {type: string}\n  n: {type: number, default: 2}\n"
    write_files(repo, {"prompts/p.yaml": body.format(v="1.0.0", t="Hi") + inputs})
    commit_all(repo, "one")
    write_files(repo, {"prompts/p.yaml": body.format(v="1.0.1", t="Hey") + inputs})
    commit_all(repo, "two")
    rep = run_review(repo, "HEAD~1", "HEAD")
    (ex,) = rep.prompts[0].renders
    assert ex.label == "defaults" and ex.placeholders == ["who"]
    assert (ex.before, ex.after) == ("Hi <who> 2", "Hey <who> 2")


# --- golden files --------------------------------------------------------------------


def normalized(report: ReviewReport) -> ReviewReport:
    """Commit shas vary with git versions and dates: pin them for the golden files."""
    return report.model_copy(
        update={
            "base": Side(rev=report.base.rev, commit="b" * 40),
            "head": Side(rev=report.head.rev, commit="f" * 40),
        }
    )


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}: run with UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def golden_report(scenario: Path) -> ReviewReport:
    # lint findings fixed here so the golden files pin the review, not the checks' words
    lint = [
        Finding(
            path="prompts/broken.yaml",
            line=2,
            severity="error",
            message="version must be a string",
            rule="version-type",
        )
    ]
    return normalized(run_review(scenario, "main", "feature", lint=lint))


def test_golden_json(golden_report: ReviewReport) -> None:
    text = to_json(golden_report)
    check_golden("feature.json", text)
    data = json.loads(text)
    assert data["schema_version"] == 1
    assert list(data) == [
        "schema_version",
        "base",
        "head",
        "fail_on",
        "allow_removals",
        "blocking",
        "blocking_reasons",
        "summary",
        "prompts",
        "parts",
        "lint",
        "issues",
    ]
    assert ReviewReport.model_validate(data) == golden_report  # round-trips


def test_golden_markdown(golden_report: ReviewReport) -> None:
    text = to_markdown(golden_report)
    check_golden("feature.md", text)
    assert text.startswith("<!-- dakora-review -->\n")
    assert text.count("<details><summary><b>") == len(golden_report.prompts)
    assert "/tmp" not in text and str(Path.home()) not in text


def test_markdown_is_shortened_to_fit_a_pr_comment(golden_report: ReviewReport) -> None:
    full = to_markdown(golden_report, max_chars=None)
    assert full == to_markdown(golden_report)  # the scenario fits the default limit
    short = to_markdown(golden_report, max_chars=4000)
    assert len(short) <= 4000 < len(full)
    assert short.startswith("<!-- dakora-review -->\n## Dakora review")
    assert "| `old-prompt` | 🗑️ removed |" in short  # the table comes first
    assert "_Shortened to fit a PR comment:" in short
    assert "prompt section(s)" in short and "left out" in short
    assert short.count("<details>") == short.count("</details>")


def test_text_to_chat_is_breaking(tmp_path: Path) -> None:
    from tests.unit.review_scenario import commit_all, git, write_files

    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    text = 'id: p\nversion: "1.0.0"\ntemplate: "Hi {{ who }}"\n'
    chat = 'id: p\nversion: "{v}"\nmessages:\n  - {{role: user, content: "Hi {{{{ who }}}}"}}\n'
    tail = "inputs:\n  who: {type: string}\nexamples: [{who: Ada}]\n"
    write_files(repo, {"prompts/p.yaml": text + tail})
    commit_all(repo, "text")
    for version, major in (("1.1.0", False), ("2.0.0", True)):
        write_files(repo, {"prompts/p.yaml": chat.format(v=version) + tail})
        commit_all(repo, f"chat {version}")
        rep = run_review(repo, "HEAD~1", "HEAD")
        (p,) = rep.prompts
        assert p.compatibility == "breaking" and p.kind == "chat"
        assert p.version.sized_ok is major
        assert codes(rep, "p") == {"kind-changed": "risky" if major else "breaking"}
        (ex,) = p.renders
        assert (ex.before, ex.after) == ("Hi Ada", "[user]\nHi Ada")
        git(repo, "reset", "-q", "--hard", "HEAD~1")


def test_prompts_affected_through_nested_includes(tmp_path: Path) -> None:
    from tests.unit.review_scenario import commit_all, git, write_files

    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write_files(
        repo,
        {
            "parts/outer/frame.md": '[{% include "inner/core" %}]\n',
            "parts/inner/core.md": "core v1",
            "prompts/a.yaml": 'id: a\nversion: "1.0.0"\n'
            "template: \"{% include 'outer/frame' %}\"\nexamples: [{}]\n",
            "prompts/b.yaml": 'id: b\nversion: "1.0.0"\ntemplate: "plain"\n'
            "examples: [{}]\n",
        },
    )
    commit_all(repo, "base")
    write_files(repo, {"parts/inner/core.md": "core v2"})
    commit_all(repo, "inner part changes")
    rep = run_review(repo, "HEAD~1", "HEAD")
    assert [(p.id, p.status, p.via_parts) for p in rep.prompts] == [
        ("a", "affected", ["inner/core"])
    ]
    assert [(p.name, p.affects) for p in rep.parts] == [("inner/core", ["a"])]
    (ex,) = rep.prompts[0].renders
    assert (ex.before, ex.after) == ("[core v1]\n", "[core v2]\n")
    assert not rep.blocking


def test_lint_findings_with_and_without_lines_sort(scenario: Path) -> None:
    lint = [
        Finding("prompts/x.yaml", 3, "warning", "b", "r2"),
        Finding("prompts/x.yaml", None, "error", "a", "r1"),
    ]
    rep = run_review(scenario, "main", "compatible", lint=lint)
    assert [f["line"] for f in rep.lint] == [None, 3]
    assert rep.blocking and rep.summary.lint_errors == 1
