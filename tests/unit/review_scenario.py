"""A real git repository (built with the git CLI) for review tests.

``main`` is the BASE; ``feature`` changes it in every way ``dakora review`` knows:
every status (added, modified, removed, renamed, affected, invalid) and every input
compatibility rule, plus a part added/modified/removed, a render that fails on HEAD, a
render that fails only on BASE, a version not bumped and a breaking change with a 0.x
minor bump (which counts as major). Smaller branches (``compatible``, ``removal``,
``breaking-minor``, ``risky``, ``breaking-major``) each carry one kind of change for the
exit-code tests. Commit dates are fixed so shas are stable.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

FIXED_DATE = "2026-01-01T00:00:00+00:00"

BASE_FILES: dict[str, str] = {
    "dakora.yaml": "default_branch: main\n",
    "parts/system/tone.md": "Be kind and concise.\n",
    "parts/format/short.md": "Answer in one sentence.\n",
    "parts/old/unused.md": "Nobody includes this.\n",
    "prompts/greeting.yaml": """\
id: greeting
version: "1.0.0"
description: Greet someone.
template: |
  {% include "system/tone" %}
  Hello {{ name }}!
inputs:
  name: {type: string}
examples:
  - {name: Ada}
""",
    "prompts/support/reply.yaml": """\
id: support-reply
version: "1.2.0"
description: Reply to a support ticket.
template: |
  {% include "format/short" %}
  Customer: {{ customer }} ({{ tier }}){% if urgent %} URGENT{% endif %}
  Items: {{ max_items }} Tags: {{ tags }} Legacy: {{ legacy }} Note: {{ note }}
inputs:
  customer: {type: string, description: Customer first name}
  tier: {type: string, default: free, enum: [free, pro, enterprise]}
  max_items: {type: number, default: 3}
  urgent: {type: boolean, default: false}
  tags: {type: "array<string>", required: false}
  legacy: {type: string, required: false}
  note: {type: string, required: false, description: A note}
  channel: {type: string, default: email}
  level: {type: string, enum: [low, high], default: low}
  mood: {type: string, required: true}
examples:
  - {customer: Ada, tier: pro, mood: calm}
""",
    "prompts/summarize.yaml": """\
id: summarize
version: "2.0.0"
description: Summarize a text.
template: |
  Summarize: {{ text }}
inputs:
  text: {type: string}
examples:
  - {text: A long story.}
""",
    "prompts/old.yaml": """\
id: old-prompt
version: "1.0.0"
template: |
  Old {{ thing }}
inputs:
  thing: {type: string}
examples:
  - {thing: stuff}
""",
    "prompts/translate.yaml": """\
id: translate
version: "1.0.0"
template: |
  Translate to {{ lang }}: {{ text }}
inputs:
  lang: {type: string, default: fr}
  text: {type: string}
examples:
  - {text: Hello}
""",
    "prompts/chat.yaml": """\
id: chat-bot
version: "0.3.0"
messages:
  - {role: system, content: "You are {{ persona }}."}
  - {role: user, content: "{{ question }}"}
inputs:
  persona: {type: string, default: helpful}
  question: {type: string}
examples:
  - {question: Why is the sky blue?, persona: a physicist}
""",
    "prompts/classify.yaml": """\
id: classify
version: "1.0.0"
template: |
  Classify {{ text }} as {{ label }}.
inputs:
  text: {type: string}
  label: {type: string, default: low}
examples:
  - {text: an email, label: urgent}
""",
    "prompts/digest.yaml": """\
id: digest
version: "1.0.0"
template: |
  Digest of {{ topic }}{{ suffix }}
inputs:
  topic: {type: string}
  suffix: {type: string}
examples:
  - {topic: news, suffix: "!"}
""",
    "prompts/broken.yaml": """\
id: broken
version: "1.0.0"
template: |
  Fine {{ a }}
inputs:
  a: {type: string}
examples:
  - {a: x}
""",
}

# feature = main + these (None deletes the file)
FEATURE_CHANGES: dict[str, str | None] = {
    # a part changes: greeting (file unchanged) is affected through it
    "parts/system/tone.md": "Be warm, kind and concise.\n",
    "parts/old/unused.md": None,
    "parts/format/emoji.md": "Use one emoji.\n",
    # every input compatibility rule, with only a minor bump
    "prompts/support/reply.yaml": """\
id: support-reply
version: "1.3.0"
description: Reply to a support ticket.
template: |
  {% include "format/short" %}
  Customer: {{ customer }} ({{ tier }}){% if urgent %} URGENT{% endif %}
  Items: {{ max_items }} Tags: {{ tags }} Note: {{ note }} Lang: {{ language }}
  Account: {{ account_id }} Channel: {{ channel }} Level: {{ level }} Mood: {{ mood }}
inputs:
  customer: {type: string, description: Customer first name}
  tier: {type: string, default: free, enum: [free, pro, team]}
  max_items: {type: number, default: 5}
  urgent: {type: string, default: "no"}
  tags: {type: "array<string>", required: true}
  note: {type: string, required: false, description: A short note for the agent}
  language: {type: string, default: en}
  account_id: {type: string}
  channel: {type: string, default: email, enum: [email, chat]}
  level: {type: string, default: low}
  mood: {type: string, required: false}
examples:
  - {customer: Ada, tier: pro, tags: [billing], account_id: A-1, language: de, mood: calm}
""",
    # renamed (same id, another path), content unchanged
    "prompts/summarize.yaml": None,
    "prompts/general/summarize.yaml": BASE_FILES["prompts/summarize.yaml"],
    # removed
    "prompts/old.yaml": None,
    # template changed, version not bumped
    "prompts/translate.yaml": """\
id: translate
version: "1.0.0"
template: |
  Translate into {{ lang }}: {{ text }}
inputs:
  lang: {type: string, default: fr}
  text: {type: string}
examples:
  - {text: Hello}
""",
    # breaking (input removed) with a 0.x minor bump: counts as major
    "prompts/chat.yaml": """\
id: chat-bot
version: "0.4.0"
messages:
  - {role: system, content: "You are a helpful assistant."}
  - {role: user, content: "{{ question }}"}
inputs:
  question: {type: string}
examples:
  - {question: Why is the sky blue?}
""",
    # the example no longer renders on HEAD (a missing attribute, strict undefined)
    "prompts/classify.yaml": """\
id: classify
version: "1.1.0"
template: |
  Classify {{ text }} as {{ label }} ({{ meta.scale }}).
inputs:
  text: {type: string}
  label: {type: string, default: low, enum: [low, high, urgent]}
  meta: {type: object, default: {}}
examples:
  - {text: an email, label: urgent}
""",
    # renders on HEAD, failed on BASE (the example misses a required input there)
    "prompts/digest.yaml": """\
id: digest
version: "1.0.1"
template: |
  Digest of {{ topic }}{{ suffix }} ({{ day }})
inputs:
  topic: {type: string}
  suffix: {type: string, default: "."}
  day: {type: string, default: today}
examples:
  - {topic: news, day: monday}
""",
    # the file no longer loads
    "prompts/broken.yaml": "id: broken\nversion: 1.1\ntemplate: [oops\n",
    # added
    "prompts/new/faq.yaml": """\
id: faq
version: "0.1.0"
description: Answer a frequently asked question.
template: |
  {% include "format/emoji" %}
  Q: {{ question }}
inputs:
  question: {type: string}
examples:
  - {question: How do I reset my password?}
""",
}

# one-change branches for the exit codes: name -> changes
SMALL_BRANCHES: dict[str, dict[str, str | None]] = {
    "compatible": {
        "prompts/summarize.yaml": """\
id: summarize
version: "2.1.0"
description: Summarize a text.
template: |
  Summarize{% if words %} in {{ words }} words{% endif %}: {{ text }}
inputs:
  text: {type: string}
  words: {type: number, required: false}
examples:
  - {text: A long story.}
  - {text: A long story., words: 10}
""",
    },
    "removal": {"prompts/old.yaml": None},
    "breaking-minor": {
        "prompts/translate.yaml": """\
id: translate
version: "1.1.0"
template: |
  Translate to {{ lang }}: {{ text }}
inputs:
  lang: {type: string}
  text: {type: string}
examples:
  - {text: Hello, lang: de}
""",
    },
    "breaking-major": {
        "prompts/translate.yaml": """\
id: translate
version: "2.0.0"
template: |
  Translate to {{ lang }}: {{ text }}
inputs:
  lang: {type: string}
  text: {type: string}
examples:
  - {text: Hello, lang: de}
""",
    },
    "risky": {
        "prompts/translate.yaml": """\
id: translate
version: "1.0.1"
template: |
  Translate to {{ lang }}: {{ text }}
inputs:
  lang: {type: string, default: de}
  text: {type: string}
examples:
  - {text: Hello}
""",
    },
}


def git(repo: Path, *args: str) -> str:
    env = dict(os.environ)
    env.update(
        GIT_AUTHOR_DATE=FIXED_DATE,
        GIT_COMMITTER_DATE=FIXED_DATE,
        GIT_AUTHOR_NAME="Test Author",
        GIT_AUTHOR_EMAIL="author@example.com",
        GIT_COMMITTER_NAME="Test Author",
        GIT_COMMITTER_EMAIL="author@example.com",
    )
    done = subprocess.run(
        ["git", *args],
        cwd=repo,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def write_files(repo: Path, files: dict[str, str | None]) -> None:
    for rel, text in files.items():
        path = repo / rel
        if text is None:
            if path.exists():
                path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def build_review_repo(repo: Path) -> Path:
    """Create the repository at ``repo`` (must not exist) and return it."""
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    write_files(repo, BASE_FILES)
    commit_all(repo, "base prompts")
    for name, changes in {"feature": FEATURE_CHANGES, **SMALL_BRANCHES}.items():
        git(repo, "checkout", "-q", "-b", name, "main")
        write_files(repo, changes)
        commit_all(repo, f"{name} changes")
    git(repo, "checkout", "-q", "main")
    return repo
