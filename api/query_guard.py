"""Query strings are checked once, before any route: every parameter name and value
must be UTF-8 once percent-decoded, hold no control characters (a NUL reaches
PostgreSQL as an error, not as a value) and stay under a length limit. A bad one is a
400 naming the parameter, never a 500 from deep inside a query."""

from __future__ import annotations

from urllib.parse import parse_qsl

from dakora.registry.core import BadRequest

MAX_QUERY_VALUE = 4096


def _bad_char(text: str) -> str | None:
    for char in text:
        if ord(char) < 0x20 or ord(char) == 0x7F:
            return f"U+{ord(char):04X}"
    return None


def query_problem(query_string: bytes) -> BadRequest | None:
    """The error for a query string no route should see, or None."""
    if not query_string:
        return None
    try:
        raw = query_string.decode("ascii")
        pairs = parse_qsl(
            raw, keep_blank_values=True, encoding="utf-8", errors="strict"
        )
    except (UnicodeDecodeError, ValueError):
        return BadRequest("the query string is not valid UTF-8 once decoded")
    for name, value in pairs:
        bad = _bad_char(name)
        if bad is not None:
            return BadRequest(
                f"query parameter name {name!r} holds the control character {bad}"
            )
        bad = _bad_char(value)
        if bad is not None:
            return BadRequest(
                f"query parameter {name!r} holds the control character {bad}",
                parameter=name,
            )
        if len(value) > MAX_QUERY_VALUE:
            return BadRequest(
                f"query parameter {name!r} is longer than {MAX_QUERY_VALUE} characters",
                parameter=name,
            )
    return None
