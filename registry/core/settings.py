"""Server settings: one validated object, built explicitly and passed in.

Nothing here reads the environment at import time: ``Settings()`` reads the ``DAKORA_*``
variables when it is *constructed*, ``Settings(**overrides)`` overrides them. Every field
is documented in docs/settings.md (a unit test keeps them in step).

Refusing unsafe combinations (``auth_mode=none`` on a non-loopback host) is the server's
job; :meth:`Settings.is_loopback_host` is the helper it uses.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from dakora.registry.core.errors import ConfigError
from dakora.registry.core.render_budget import (
    DEFAULT_RENDER_TIMEOUT_MS,
    RenderTimeoutMs,
)

AuthMode = Literal["none", "keys", "clerk"]
MirrorBackend = Literal["local", "azure", "none"]

DEFAULT_QUOTA_TIERS: dict[str, int] = {
    "free": 1_000_000,
    "pro": 50_000_000,
    "enterprise": 0,  # 0 = unlimited
}
SECRET_FILE_NAME = "secret.key"
# 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: eight attempts over about a day
DEFAULT_WEBHOOK_RETRY_SCHEDULE: tuple[float, ...] = (
    5,
    300,
    1800,
    7200,
    18000,
    36000,
    36000,
)


class Settings(BaseSettings):
    """Every knob of the Dakora server (environment variables ``DAKORA_<FIELD>``)."""

    model_config = SettingsConfigDict(
        env_prefix="DAKORA_",
        extra="ignore",
        validate_default=True,
    )

    data_dir: Path = Field(
        default=Path("./.dakora"),
        description="Folder for the SQLite database, project repositories, secret key "
        "and the local mirror.",
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; empty means SQLite at <data_dir>/dakora.db.",
    )
    auth_mode: AuthMode = Field(default="keys")
    host: str = Field(default="127.0.0.1")
    port: int = Field(default=54321, ge=0, le=65535)
    public_url: str | None = Field(default=None)
    clerk_issuer: str | None = Field(default=None)
    clerk_jwks_url: str | None = Field(default=None)
    clerk_webhook_secret: SecretStr | None = Field(default=None)
    azure_connection_string: SecretStr | None = Field(default=None)
    azure_account_url: str | None = Field(default=None)
    azure_container: str = Field(default="dakora")
    mirror_backend: MirrorBackend = Field(default="local")
    # NoDecode: the JSON is parsed by ``_tiers_from_json`` so a typo is a clear
    # validation error, not a pydantic-settings traceback
    quota_tiers: Annotated[dict[str, int], NoDecode] = Field(
        default_factory=lambda: dict(DEFAULT_QUOTA_TIERS)
    )
    default_tier: str = Field(default="free")
    key_pepper: SecretStr | None = Field(default=None)
    max_keys_per_project: int = Field(default=10, ge=1)
    # repack a project in the background once it holds more packs (0: never)
    gc_pack_limit: int = Field(default=50, ge=0)
    # the time budget of one render (docs: "Security: render limits"); the default is
    # registry/render/limits.py DEFAULT_TIMEOUT_MS
    render_timeout_ms: RenderTimeoutMs = Field(default=DEFAULT_RENDER_TIMEOUT_MS)
    # worker processes that run the server's renders; 0 = one per CPU (at least 2)
    render_workers: int = Field(default=0, ge=0, le=256)
    # GET /metrics (Prometheus text format, docs/telemetry.md): off unless true
    metrics: bool = Field(default=False)
    metrics_token: SecretStr | None = Field(default=None)
    # worker processes that serve git requests (push checks, pack building); 0 = one
    # per CPU (at least 2)
    git_workers: int = Field(default=0, ge=0, le=256)
    # outgoing webhooks (docs/webhooks.md): deliver to loopback/private addresses too
    webhooks_allow_private: bool = Field(default=False)
    # seconds to wait before each retry; one delivery is tried len(schedule) + 1 times
    webhooks_retry_schedule: Annotated[tuple[float, ...], NoDecode] = Field(
        default=DEFAULT_WEBHOOK_RETRY_SCHEDULE
    )
    webhooks_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    studio_dir: Path | None = Field(
        default=None,
        description="Folder of the built Studio (its index.html and assets/); unset: "
        "the copy in the installed package, else studio/dist of the source tree.",
    )

    _pepper_cache: bytes | None = PrivateAttr(default=None)

    # -- validation -------------------------------------------------------------------

    @field_validator("data_dir")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("quota_tiers", mode="before")
    @classmethod
    def _tiers_from_json(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"not valid JSON ({exc.msg} at character {exc.pos}); expected "
                    'an object such as {"free": 1000000, "pro": 50000000}'
                ) from None
        return value

    @field_validator("webhooks_retry_schedule", mode="before")
    @classmethod
    def _schedule_from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            try:
                return tuple(float(p) for p in parts)
            except ValueError:
                raise ValueError(
                    f"not a list of seconds: {value!r}; expected numbers separated "
                    "by commas, e.g. 5,300,1800"
                ) from None
        return value

    @field_validator("webhooks_retry_schedule")
    @classmethod
    def _schedule_non_negative(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(v < 0 or v > 7 * 86400 for v in value):
            raise ValueError("each retry delay must be between 0 and 604800 seconds")
        return value

    @field_validator("quota_tiers")
    @classmethod
    def _tiers_non_negative(cls, value: dict[str, int]) -> dict[str, int]:
        for tier, limit in value.items():
            if limit < 0:
                raise ValueError(f"quota tier {tier!r}: limit must be >= 0 (0 = none)")
        return value

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        azure_given = self.azure_connection_string is not None or self.azure_account_url
        if azure_given and "mirror_backend" not in self.model_fields_set:
            # Azure settings without DAKORA_MIRROR_BACKEND: mirror where they point
            # (an explicit local/none next to them is refused by the store check)
            self.mirror_backend = "azure"
        if not self.database_url:
            db_path = (self.data_dir / "dakora.db").absolute()
            self.database_url = f"sqlite:///{db_path.as_posix()}"
        if self.default_tier not in self.quota_tiers:
            raise ValueError(
                f"default_tier {self.default_tier!r} is not one of the quota tiers "
                f"({', '.join(sorted(self.quota_tiers))})"
            )
        return self

    # -- derived values ---------------------------------------------------------------

    @property
    def repos_dir(self) -> Path:
        """Where each project's bare repository lives: ``<repos_dir>/<ws>/<p>.git``."""
        return self.data_dir / "repos"

    @property
    def mirror_dir(self) -> Path:
        """The local-folder mirror backend's root."""
        return self.data_dir / "mirror"

    def is_loopback_host(self) -> bool:
        """True when ``host`` only accepts connections from this machine."""
        host = self.host.strip().strip("[]")
        if host.lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def tier_limit(self, tier: str) -> int:
        """Monthly token limit of a tier (0 = unlimited). Unknown tiers: ConfigError."""
        try:
            return self.quota_tiers[tier]
        except KeyError as exc:
            raise ConfigError(f"unknown quota tier {tier!r}") from exc

    def ensure_data_dir(self) -> Path:
        """Create the data dir (and repos dir) if missing; return the data dir."""
        self.repos_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir

    def pepper(self) -> bytes:
        """The secret for the keyed API key hash.

        ``key_pepper`` when set; otherwise read from ``<data_dir>/secret.key``, which is
        generated once (32 random bytes, hex, file mode 0600) on first use.
        """
        if self._pepper_cache is not None:
            return self._pepper_cache
        if self.key_pepper is not None and self.key_pepper.get_secret_value():
            value = self.key_pepper.get_secret_value().encode()
        else:
            value = _load_or_create_secret(self.data_dir / SECRET_FILE_NAME)
        self._pepper_cache = value
        return value

    def public_summary(self) -> dict[str, Any]:
        """The settings without secrets (for logs and ``--json`` output)."""
        data = self.model_dump(
            mode="json",
            exclude={
                "key_pepper",
                "clerk_webhook_secret",
                "azure_connection_string",
            },
        )
        data["database_url"] = _hide_password(self.database_url)
        return data


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(invalid URL)"


def _load_or_create_secret(path: Path) -> bytes:
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        text = ""
    except OSError as exc:
        raise ConfigError(f"cannot read the key secret {path}: {exc}") from exc
    if text:
        return text.encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(value + "\n")
        os.chmod(tmp, 0o600)
        try:
            # Atomic and exclusive: the file appears complete, or another process won.
            os.link(tmp, path)
        except FileExistsError:
            return path.read_text(encoding="ascii").strip().encode()
    except OSError as exc:
        raise ConfigError(f"cannot create the key secret {path}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return value.encode()
