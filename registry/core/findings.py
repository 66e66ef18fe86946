"""Check findings: what ``dakora lint``, the receive pipeline and API writes report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True, order=True)
class Finding:
    """One problem in a prompt repository.

    ``path`` is repository-relative with forward slashes; ``line`` is 1-based or None
    when the problem has no line (a missing file, a whole-repo rule). ``rule`` is a
    stable id such as ``yaml-syntax`` or ``undeclared-variable`` (see checks.RULES).
    """

    path: str
    line: int | None
    severity: Severity
    message: str
    rule: str

    @classmethod
    def error(cls, path: str, line: int | None, message: str, rule: str) -> Finding:
        """An ``error`` finding (what blocks a push or a lint)."""
        return cls(path=path, line=line, severity="error", message=message, rule=rule)

    @classmethod
    def warning(cls, path: str, line: int | None, message: str, rule: str) -> Finding:
        """A ``warning`` finding (reported, never blocking)."""
        return cls(path=path, line=line, severity="warning", message=message, rule=rule)

    @property
    def where(self) -> str:
        """``path:line``, or ``path`` for a finding without a line."""
        return f"{self.path}:{self.line}" if self.line else self.path

    def tagged(self) -> str:
        """``message [rule]``: how every report of a finding ends (lint, push, API)."""
        return f"{self.message} [{self.rule}]"

    def format(self) -> str:
        """``path:line: severity: message [rule]`` — what ``dakora lint`` prints."""
        return f"{self.where}: {self.severity}: {self.tagged()}"

    def format_remote(self) -> str:
        """``severity: path:line: message [rule]`` — one ``remote:`` line of a push.

        git's own order (``remote: error: …``), with the same rule id as lint.
        """
        return f"{self.severity}: {self.where}: {self.tagged()}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "severity": self.severity,
            "message": self.message,
            "rule": self.rule,
        }


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)


def dedupe(findings: list[Finding]) -> list[Finding]:
    """The findings without repeats, first occurrence kept, order kept."""
    return list(dict.fromkeys(findings))
