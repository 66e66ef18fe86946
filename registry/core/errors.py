"""The one exception tree of Dakora.

Every error a user can cause or meet is one of these; the API and the CLI translate them
at their edge (one JSON error body, one Rich message + exit code). Foreign errors
(dulwich ``KeyError``, SQLAlchemy ``IntegrityError``, azure ``ResourceModifiedError``) are
translated into these at the seam where they occur, ``raise ... from exc``.

    DakoraError
    ├── NotFound                    404
    │   ├── ProjectNotFound
    │   ├── PromptNotFound
    │   ├── PartNotFound
    │   ├── RefNotFound             (branch, tag, commit or version that does not exist)
    │   ├── WorkspaceNotFound
    │   ├── UserNotFound
    │   ├── KeyNotFound
    │   └── RepositoryNotFound      (a local path that is not inside a git repository)
    ├── InvalidPrompt               422  carries ``findings`` (path, line, rule)
    ├── InputError                  422  carries ``problems`` (one per bad/missing input)
    ├── RenderError                 400  template failed at render time (sandbox, syntax)
    │   └── RenderLimitError        422  over a render limit (time, work, size);
    │                                    ``details["limit"]`` names it
    ├── RefConflict                 409  compare-and-swap lost / stale base
    ├── AlreadyExists               409  a unique name is taken
    ├── PreconditionFailed          412  If-Match did not match
    ├── AuthError
    │   ├── Unauthenticated         401
    │   └── AccessDenied            403
    ├── QuotaExceeded               429
    ├── LimitExceeded               400/413  a size/count limit
    ├── BadRequest                  400  any other malformed request
    ├── ConfigError                 a bad setting or repository configuration
    └── StorageError                503  a backend (DB, Blob, disk) failed
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from dakora.registry.core.findings import Finding


class DakoraError(Exception):
    """Base of every Dakora error. ``code`` is a stable machine-readable string."""

    code: ClassVar[str] = "error"
    http_status: ClassVar[int] = 400
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able body shared by the API and ``--json`` CLI output."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class NotFound(DakoraError):
    code = "not_found"
    http_status = 404


class ProjectNotFound(NotFound):
    code = "project_not_found"


class PromptNotFound(NotFound):
    code = "prompt_not_found"


class PartNotFound(NotFound):
    code = "part_not_found"


class RefNotFound(NotFound):
    code = "ref_not_found"


class WorkspaceNotFound(NotFound):
    code = "workspace_not_found"


class UserNotFound(NotFound):
    code = "user_not_found"


class KeyNotFound(NotFound):
    code = "key_not_found"


class WebhookNotFound(NotFound):
    code = "webhook_not_found"


class RepositoryNotFound(NotFound):
    """A local path that is neither a git repository nor inside one."""

    code = "repository_not_found"


class InvalidPrompt(DakoraError):
    """One or more check findings of severity error."""

    code = "invalid_prompt"
    http_status = 422

    def __init__(self, findings: list[Finding], message: str | None = None) -> None:
        errors = [f for f in findings if f.severity == "error"] or findings
        if message is None:
            message = (
                errors[0].format()
                if len(errors) == 1
                else (
                    f"{len(errors)} problems: "
                    + "; ".join(f.format() for f in errors[:5])
                )
            )
        super().__init__(message)
        self.findings = list(findings)

    def to_dict(self) -> dict[str, Any]:
        body = super().to_dict()
        body["findings"] = [f.to_dict() for f in self.findings]
        return body


@dataclass(frozen=True)
class InputProblem:
    """One bad or missing input: its name, what was expected, what was given."""

    name: str
    message: str
    expected: str | None = None
    value: Any = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.name,
            "message": self.message,
            "expected": self.expected,
            "value": self.value,
        }


class InputError(DakoraError):
    code = "invalid_inputs"
    http_status = 422
    exit_code = 2

    def __init__(self, problems: list[InputProblem]) -> None:
        message = "; ".join(p.message for p in problems)
        super().__init__(message)
        self.problems = list(problems)

    def to_dict(self) -> dict[str, Any]:
        body = super().to_dict()
        body["problems"] = [p.to_dict() for p in self.problems]
        return body


class RenderError(DakoraError):
    code = "render_error"
    http_status = 400


class RenderLimitError(RenderError):
    """A render went over one of its limits: the time budget, the work budget (loop
    iterations, macro calls, includes) or a size bound. ``details["limit"]`` names the
    limit (e.g. ``"timeout_ms"``, ``"loop_iterations"``, ``"value_size"``) and
    ``details["max"]`` its value."""

    code = "render_limit"
    http_status = 422


class RefConflict(DakoraError):
    code = "ref_conflict"
    http_status = 409


class AlreadyExists(DakoraError):
    """A unique name (workspace or project slug, user email…) is taken."""

    code = "already_exists"
    http_status = 409


class PreconditionFailed(DakoraError):
    code = "precondition_failed"
    http_status = 412


class AuthError(DakoraError):
    code = "auth_error"
    http_status = 401


class Unauthenticated(AuthError):
    code = "unauthenticated"
    http_status = 401


class AccessDenied(AuthError):
    code = "forbidden"
    http_status = 403


class QuotaExceeded(DakoraError):
    code = "quota_exceeded"
    http_status = 429


class LimitExceeded(DakoraError):
    code = "limit_exceeded"
    http_status = 400


class BadRequest(DakoraError):
    code = "bad_request"
    http_status = 400
    exit_code = 2


class InvalidField(BadRequest):
    """A request field whose value the route's types cannot refuse (a NUL byte in a
    commit message): 422 like any other invalid field, naming it in ``field``."""

    code = "invalid_request"
    http_status = 422


class ConfigError(DakoraError):
    code = "config_error"
    http_status = 500


class StorageError(DakoraError):
    code = "storage_error"
    http_status = 503


class ServiceUnavailable(DakoraError):
    """The server cannot take the request now (shutting down, every worker busy)."""

    code = "unavailable"
    http_status = 503
