"""Types that carry meaning across layers."""

from __future__ import annotations

from typing import NewType

CommitSha = NewType("CommitSha", str)  # 40 hex chars
BlobSha = NewType("BlobSha", str)  # 40 hex chars
TreeSha = NewType("TreeSha", str)
RefName = NewType("RefName", str)  # full name, e.g. refs/heads/main
PromptId = NewType("PromptId", str)

ZERO_SHA = "0" * 40
