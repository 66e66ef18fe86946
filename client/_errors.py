"""The SDK's exceptions, built from the server's one JSON error body.

    DakoraClientError
    ├── DakoraConnectionError        the server could not be reached (or timed out)
    └── DakoraAPIError               the server answered with an error status
        ├── AuthError                401 / 403
        │   └── PermissionDenied     403: valid credentials, not allowed (a read key
        │                            writing)
        ├── NotFound                 404
        ├── Conflict                 409: exists already, or another write won
        │   └── PreconditionFailed   412: ``if_match`` names a stale base
        ├── InputError               422, carries ``problems`` (one per bad input)
        │   └── InvalidPrompt        422 ``invalid_prompt``: a write the checks refused,
        │                            carries ``findings`` (path, line, rule, message)
        ├── RenderError              400 ``render_error``: the template failed
        ├── RateLimited              429 (also ``quota_exceeded``), ``retry_after``
        └── ServerError              5xx

The server's body is ``{"error": {"code": …, "message": …, …details}}``; everything
besides ``code`` and ``message`` lands in ``details``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


class DakoraClientError(Exception):
    """Base of every exception the SDK raises."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DakoraConnectionError(DakoraClientError):
    """The server could not be reached, or did not answer in time."""


class DakoraAPIError(DakoraClientError):
    """The server answered with an error. ``code`` is the server's stable code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.details: dict[str, Any] = details or {}
        self.body = body

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r})"
        )


class AuthError(DakoraAPIError):
    """401 (missing or invalid credentials) or 403 (valid but not allowed)."""


class PermissionDenied(AuthError):
    """403: the credentials are valid but not allowed to do this (e.g. a read key
    writing, or a viewer)."""


class NotFound(DakoraAPIError):
    """404: the project, prompt, ref or version does not exist (or is not yours)."""


class Conflict(DakoraAPIError):
    """409: the prompt or part exists already (``already_exists``), or another write
    moved the branch first (``ref_conflict``): fetch again and retry."""


class PreconditionFailed(Conflict):
    """412: ``if_match`` does not name the current content; ``current_version`` and
    ``current_blob`` say what is there now."""

    @property
    def current_version(self) -> str | None:
        value = self.details.get("current_version")
        return value if isinstance(value, str) else None

    @property
    def current_blob(self) -> str | None:
        value = self.details.get("current_blob")
        return value if isinstance(value, str) else None


class InputError(DakoraAPIError):
    """422: the inputs (or the request) were refused; ``problems`` lists each one."""

    @property
    def problems(self) -> list[dict[str, Any]]:
        value = self.details.get("problems")
        return list(value) if isinstance(value, list) else []


@dataclass(frozen=True)
class Finding:
    """One problem the server's checks found in a write (the same as ``dakora lint``
    and ``git push`` report): ``path`` is repository-relative, ``line`` 1-based or
    None, ``rule`` a stable id such as ``undeclared-variable``."""

    path: str
    line: int | None
    rule: str
    message: str
    severity: str = "error"

    @classmethod
    def from_json(cls, data: Any) -> Finding:
        if not isinstance(data, dict):
            return cls("", None, "unknown", str(data))
        line = data.get("line")
        return cls(
            path=str(data.get("path") or ""),
            line=line if isinstance(line, int) and not isinstance(line, bool) else None,
            rule=str(data.get("rule") or "unknown"),
            message=str(data.get("message") or ""),
            severity=str(data.get("severity") or "error"),
        )

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.severity}: {self.message} [{self.rule}]"


class InvalidPrompt(InputError):
    """422 ``invalid_prompt``: the server's checks refused a write; nothing was
    written. ``findings`` lists each problem."""

    @property
    def findings(self) -> list[Finding]:
        value = self.details.get("findings")
        if not isinstance(value, list):
            return []
        return [Finding.from_json(item) for item in value]


class RenderError(DakoraAPIError):
    """400 ``render_error``: the template failed at render time."""


class RateLimited(DakoraAPIError):
    """429: too many requests, or the workspace's monthly token quota is used up."""

    @property
    def retry_after(self) -> float | None:
        value = self.details.get("retry_after")
        try:
            return float(value) if value is not None else None
        except (TypeError, ValueError):
            return None


class ServerError(DakoraAPIError):
    """5xx: the server failed; retrying later may help."""


def error_from_response(response: httpx.Response) -> DakoraAPIError:
    """Build the typed error for a non-2xx response (whatever its body is)."""
    status = response.status_code
    body: Any = None
    try:
        body = response.json()
    except ValueError:
        body = None
    code = f"http_{status}"
    message = response.reason_phrase or f"HTTP {status}"
    details: dict[str, Any] = {}
    inner = body.get("error") if isinstance(body, dict) else None
    if isinstance(inner, dict):
        code = str(inner.get("code") or code)
        message = str(inner.get("message") or message)
        for key, value in inner.items():
            if key in ("code", "message"):
                continue
            if key == "details" and isinstance(value, dict):
                details.update(value)
            else:
                details[key] = value
    elif isinstance(body, dict) and isinstance(body.get("detail"), str):
        message = body["detail"]
    retry_after = response.headers.get("Retry-After")
    if retry_after is not None:
        details.setdefault("retry_after", retry_after)
    cls = _class_for(status, code)
    return cls(status, code, message, details, body=body)


def _class_for(status: int, code: str) -> type[DakoraAPIError]:
    if status == 403:
        return PermissionDenied
    if status == 401:
        return AuthError
    if status == 404:
        return NotFound
    if status == 409:
        return Conflict
    if status == 412:
        return PreconditionFailed
    if status == 422:
        return InvalidPrompt if code == "invalid_prompt" else InputError
    if status == 429:
        return RateLimited
    if status >= 500:
        return ServerError
    if code == "render_error":
        return RenderError
    return DakoraAPIError
