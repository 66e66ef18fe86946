"""The installed distribution's version (one lookup at import, no I/O per request)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("dakora")
except PackageNotFoundError:  # running from a source tree that is not installed
    VERSION = "0.0.0"
