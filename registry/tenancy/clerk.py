"""Clerk session tokens: verify an RS256 JWT against Clerk's JWKS (docs/design.md §9).

Pure: no web framework. The API's auth dependency calls ``ClerkVerifier.verify(token)``
with the bearer token and gets ``ClerkClaims`` back, or an ``Unauthenticated`` whose
message says what was wrong without echoing the token or any key.

What is refused, before or while checking the signature:

- anything that is not a three-part JWS (``malformed``);
- any ``alg`` other than ``RS256`` — ``none``, ``HS256`` (including HS256 signed with
  the public key as the HMAC secret), ``ES256``… are refused from the header, and the
  decode call itself also only allows RS256;
- a ``kid`` that is missing or not in the JWKS (after PyJWKClient's one refresh);
- a bad signature, a wrong issuer (or audience / authorized party when configured);
- a missing ``exp``, ``iat``, ``nbf``, ``iss`` or ``sub``; an expired token, or one whose
  ``nbf``/``iat`` is in the future (beyond ``leeway`` seconds).

The signing keys are fetched with ``jwt.PyJWKClient`` (JWK set cached for
``jwks_lifespan`` seconds, keys cached by kid). A JWKS that cannot be fetched is a
``StorageError`` (503): the caller's token may well be fine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt
from jwt import PyJWKClient
from jwt.exceptions import (
    DecodeError,
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidSignatureError,
    InvalidTokenError,
    MissingRequiredClaimError,
    PyJWKClientConnectionError,
    PyJWKClientError,
    PyJWKError,
)

from dakora.registry.core import StorageError, Unauthenticated

ALGORITHM = "RS256"
MAX_TOKEN_LENGTH = 16 * 1024
REQUIRED_CLAIMS = ("exp", "iat", "nbf", "iss", "sub")


@dataclass(frozen=True)
class ClerkClaims:
    """The verified claims of a Clerk session token.

    ``email`` and ``name`` are present only when the Clerk session token template adds
    them (claims ``email``/``primary_email``/``email_address``, ``name`` or
    ``first_name`` + ``last_name``); ``raw`` holds every claim.
    """

    sub: str
    email: str | None
    name: str | None
    issuer: str
    session_id: str | None
    org_id: str | None
    authorized_party: str | None
    issued_at: datetime
    expires_at: datetime
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> ClerkClaims:
        def text(*names: str) -> str | None:
            for name in names:
                value = payload.get(name)
                if isinstance(value, str) and value:
                    return value
            return None

        name = text("name", "full_name")
        if name is None:
            joined = " ".join(
                p for p in (text("first_name"), text("last_name")) if p is not None
            )
            name = joined or None
        org = payload.get("o")
        org_id = text("org_id") or (
            org.get("id") if isinstance(org, Mapping) and org.get("id") else None
        )
        return cls(
            sub=str(payload["sub"]),
            email=text("email", "primary_email", "email_address"),
            name=name,
            issuer=str(payload["iss"]),
            session_id=text("sid"),
            org_id=org_id,
            authorized_party=text("azp"),
            issued_at=datetime.fromtimestamp(int(payload["iat"]), UTC),
            expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),
            raw=dict(payload),
        )


class ClerkVerifier:
    """Verifies Clerk session tokens. One instance per process; thread-safe.

    ``issuer`` is the Clerk Frontend API URL (``https://<app>.clerk.accounts.dev``);
    ``jwks_url`` defaults to ``{issuer}/.well-known/jwks.json``. ``audience`` (``aud``)
    and ``authorized_parties`` (``azp``, the origins allowed to mint tokens) are checked
    only when given. ``leeway`` is the clock skew allowed, in seconds.
    """

    def __init__(
        self,
        issuer: str,
        jwks_url: str | None = None,
        audience: str | Sequence[str] | None = None,
        *,
        authorized_parties: Sequence[str] | None = None,
        leeway: float = 5.0,
        jwks_lifespan: float = 300.0,
        jwks_timeout: float = 5.0,
        jwks_client: PyJWKClient | None = None,
    ) -> None:
        if not issuer:
            raise ValueError("a Clerk issuer is required")
        self.issuer = issuer.rstrip("/")
        self.jwks_url = jwks_url or f"{self.issuer}/.well-known/jwks.json"
        self.audience = audience
        self.authorized_parties = (
            frozenset(authorized_parties) if authorized_parties else None
        )
        self.leeway = leeway
        self._jwks = jwks_client or PyJWKClient(
            self.jwks_url,
            cache_keys=True,
            cache_jwk_set=True,
            lifespan=jwks_lifespan,
            timeout=jwks_timeout,
        )

    def verify(self, token: str) -> ClerkClaims:
        """Verify ``token`` (without ``Bearer ``) and return its claims.

        Raises ``Unauthenticated`` for any token that is not a valid, current RS256
        token from this issuer, ``StorageError`` when the JWKS cannot be fetched.
        """
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            raise Unauthenticated("invalid token: malformed")
        try:
            header = jwt.get_unverified_header(token)
        except (DecodeError, InvalidTokenError) as exc:
            raise Unauthenticated("invalid token: malformed") from exc
        if header.get("alg") != ALGORITHM:
            raise Unauthenticated(
                f"invalid token: only {ALGORITHM} signed tokens are accepted"
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("invalid token: no key id (kid) in the header")

        try:
            signing_key = self._jwks.get_signing_key(kid)
        except PyJWKClientConnectionError as exc:
            raise StorageError(
                "cannot fetch the identity provider's signing keys"
            ) from exc
        except (PyJWKClientError, PyJWKError) as exc:
            raise Unauthenticated("invalid token: signed by an unknown key") from exc
        if signing_key.key_type != "RSA":
            raise Unauthenticated("invalid token: signed by an unknown key")

        options: dict[str, Any] = {
            "require": list(REQUIRED_CLAIMS),
            "verify_signature": True,
            "verify_exp": True,
            "verify_nbf": True,
            "verify_iat": True,
            "verify_iss": True,
            "verify_aud": self.audience is not None,
        }
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                signing_key.key,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
                options=options,  # type: ignore[arg-type]
            )
        except ExpiredSignatureError as exc:
            raise Unauthenticated("invalid token: expired") from exc
        except ImmatureSignatureError as exc:
            raise Unauthenticated("invalid token: not yet valid") from exc
        except InvalidIssuerError as exc:
            raise Unauthenticated("invalid token: issuer not accepted") from exc
        except InvalidAudienceError as exc:
            raise Unauthenticated("invalid token: audience not accepted") from exc
        except MissingRequiredClaimError as exc:
            raise Unauthenticated(
                f"invalid token: missing the {exc.claim!r} claim"
            ) from exc
        except InvalidSignatureError as exc:
            raise Unauthenticated("invalid token: bad signature") from exc
        except InvalidTokenError as exc:
            raise Unauthenticated("invalid token") from exc

        if not isinstance(payload.get("sub"), str) or not payload["sub"]:
            raise Unauthenticated("invalid token: missing the 'sub' claim")
        if self.authorized_parties is not None:
            azp = payload.get("azp")
            if azp is not None and azp not in self.authorized_parties:
                raise Unauthenticated("invalid token: authorized party not accepted")
        return ClerkClaims.from_payload(payload)
