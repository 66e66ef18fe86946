"""Where the SDK and ``dakora render --remote`` find the server, key and project.

``resolve_remote(url, api_key, project)`` takes each value from, in order: the
argument (a CLI flag), the environment (``DAKORA_URL``, ``DAKORA_API_KEY``,
``DAKORA_PROJECT``), then the link saved by ``dakora link URL`` in
``~/.config/dakora/link.json`` (mode 0600). The saved key and project are only used
for the saved URL: pointing at another server never sends it the linked key.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_URL = "DAKORA_URL"
ENV_API_KEY = "DAKORA_API_KEY"
ENV_PROJECT = "DAKORA_PROJECT"


@dataclass(frozen=True)
class RemoteLink:
    url: str
    api_key: str | None = None
    project: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "api_key": self.api_key, "project": self.project}


def link_path() -> Path:
    """``~/.config/dakora/link.json``."""
    return Path.home() / ".config" / "dakora" / "link.json"


def _normalize_url(url: str) -> str:
    return url.strip().rstrip("/")


def save_link(url: str, api_key: str | None = None, project: str | None = None) -> Path:
    """Write the link file atomically, readable by its owner only (0600)."""
    path = link_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(path.parent, 0o700)
    link = RemoteLink(_normalize_url(url), api_key or None, project or None)
    fd, tmp = tempfile.mkstemp(prefix=".link-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(link.to_dict(), fh, indent=2)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_link() -> RemoteLink | None:
    """The saved link, or None when there is none (or it is unreadable)."""
    path = link_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        return None

    def opt(name: str) -> str | None:
        value = data.get(name)
        return value if isinstance(value, str) and value else None

    return RemoteLink(_normalize_url(data["url"]), opt("api_key"), opt("project"))


def remove_link() -> bool:
    """Delete the saved link; True when there was one."""
    try:
        link_path().unlink()
    except FileNotFoundError:
        return False
    return True


def resolve_remote(
    url: str | None = None, api_key: str | None = None, project: str | None = None
) -> tuple[str | None, str | None, str | None]:
    """(url, api_key, project): arguments, then environment, then the saved link.

    Any of the three may come back None when nothing provides it; the caller decides
    whether that is an error.
    """
    url = url or os.environ.get(ENV_URL) or None
    api_key = api_key or os.environ.get(ENV_API_KEY) or None
    project = project or os.environ.get(ENV_PROJECT) or None
    if url is None or api_key is None or project is None:
        link = load_link()
        if link is not None and (url is None or _normalize_url(url) == link.url):
            url = url or link.url
            api_key = api_key or link.api_key
            project = project or link.project
    return (_normalize_url(url) if url else None, api_key, project)
