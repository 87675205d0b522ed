"""ID token validation (OpenID Connect Core 1.0 §3.1.3.7).

The signature and the claims every token shares are checked in :mod:`django_idp_logout.jws`;
what only an ID token has (``sub``, ``nonce``, ``auth_time``, ``at_hash``, ``acr``) here.
Logout tokens are :mod:`django_idp_logout.logout_tokens`' job; their public names are
importable from here too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from .conf import IdPConfig, get_config
from .discovery import ProviderMetadata
from .exceptions import InvalidToken
from .jws import (
    FOREIGN_TYPES,
    MAX_IDENTIFIER_LENGTH,
    check_common_claims,
    decode_signed,
    is_time,
)
from .logout_tokens import LogoutToken, jti_claim_ttl, validate_logout_token
from .tenants import is_template

__all__ = ["IDToken", "LogoutToken", "jti_claim_ttl", "requested_acr_values",
           "validate_id_token", "validate_logout_token", "validate_renewed_id_token"]

_HASHES = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}


@dataclass(frozen=True)
class IDToken:
    """A validated ID token. Only :func:`validate_id_token` creates one."""

    raw: str = field(repr=False)
    claims: Mapping[str, Any]

    @property
    def issuer(self) -> str:
        return str(self.claims["iss"])

    @property
    def subject(self) -> str:
        return str(self.claims["sub"])

    @property
    def sid(self) -> str | None:
        sid = self.claims.get("sid")
        return sid if isinstance(sid, str) else None


def _half_hash(value: str, alg: str) -> str:
    """``at_hash``: left half of the hash of the value, base64url (Core §3.1.3.6)."""
    digest = _HASHES.get(alg[-3:], hashlib.sha512 if alg == "EdDSA" else hashlib.sha256)(
        value.encode()).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


def requested_acr_values(config: IdPConfig) -> tuple[str, ...]:
    """The ``acr_values`` this site asks for (``AUTH_PARAMS``, space-separated), if any."""
    return tuple(str(config.auth_params.get("acr_values", "")).split())


def _check_auth_time(auth_time: Any, max_age: int | None, earliest: float) -> None:
    """``auth_time`` is a number; with ``max_age`` requested it is present and recent enough
    (Core §3.1.3.7 step 11)."""
    if auth_time is not None and not is_time(auth_time):
        raise InvalidToken("auth_time is not a number", code="invalid_auth_time",
                           stage="id_token")
    if max_age is not None:
        if auth_time is None:
            raise InvalidToken("max_age was requested but auth_time is missing",
                               code="invalid_auth_time", stage="id_token")
        if auth_time + max_age < earliest:
            raise InvalidToken("authentication is older than max_age",
                               code="invalid_auth_time", stage="id_token")


def _decode_id_token(raw: Any, *, config: IdPConfig, metadata: ProviderMetadata | None,
                     now: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """Signature, the claims every token shares, and what makes it an ID token (a ``sub``
    that fits, a ``sid`` that fits): Core §3.1.3.7 steps 1 to 10 for any ID token."""
    stage = "id_token"
    header, claims = decode_signed(raw, config=config, stage=stage, metadata=metadata)
    typ = header.get("typ")
    if isinstance(typ, str) and typ.lower() in FOREIGN_TYPES:
        raise InvalidToken(f"a {typ[:30]} token is not an ID token", code="malformed_token",
                           stage=stage)
    if "events" in claims:
        raise InvalidToken("token carries events: a logout token, not an ID token",
                           code="malformed_token", stage=stage)
    check_common_claims(claims, config=config, stage=stage, now=now, metadata=metadata)
    if claims["iss"] != config.issuer and not (metadata and is_template(metadata.issuer)):
        # A documented alternative spelling (Google's "accounts.google.com"): one identity per
        # user, under ISSUER.
        claims = {**claims, "iss": config.issuer}
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > MAX_IDENTIFIER_LENGTH:
        raise InvalidToken("sub missing, empty or too long", code="invalid_subject", stage=stage)
    sid = claims.get("sid")
    if sid is not None and (not isinstance(sid, str) or len(sid) > MAX_IDENTIFIER_LENGTH):
        # The session mapping keys on it: one that does not fit could never be logged out.
        raise InvalidToken("sid is not a string or too long", code="invalid_sid", stage=stage)
    return header, claims


def _check_at_hash(header: Mapping[str, Any], claims: Mapping[str, Any],
                   access_token: str | None, stage: str) -> None:
    at_hash = claims.get("at_hash")
    if at_hash is not None and access_token is not None and not hmac.compare_digest(
        str(at_hash).encode(), _half_hash(access_token, header["alg"]).encode()
    ):
        raise InvalidToken("at_hash does not match the access token", code="invalid_at_hash",
                           stage=stage)


def _same(a: Any, b: Any) -> bool:
    return isinstance(a, str) and isinstance(b, str) and hmac.compare_digest(a.encode(),
                                                                             b.encode())


def validate_id_token(raw: Any, *, nonce: str, access_token: str | None = None,
                      max_age: int | None = None, now: float | None = None,
                      acr_values: str | Collection[str] | None = None,
                      metadata: ProviderMetadata | None = None) -> IDToken:
    """Validate an ID token from the token endpoint; raise :class:`InvalidToken` otherwise.

    ``acr_values`` defaults to the configured request (``AUTH_PARAMS["acr_values"]``), not to
    what the authorization URL carried, so a user who strips it from the URL does not get in.
    """
    config = get_config()
    stage = "id_token"
    now = time.time() if now is None else now
    header, claims = _decode_id_token(raw, config=config, metadata=metadata, now=now)
    if not _same(claims.get("nonce"), nonce):
        raise InvalidToken("nonce does not match this sign-in", code="invalid_nonce",
                           stage=stage)
    _check_auth_time(claims.get("auth_time"), max_age, now - config.leeway)
    _check_at_hash(header, claims, access_token, stage)
    requested = (requested_acr_values(config) if acr_values is None
                 else tuple(acr_values.split()) if isinstance(acr_values, str)
                 else tuple(acr_values))
    acr = claims.get("acr")
    if requested and (not isinstance(acr, str) or acr not in requested):
        # Core §3.1.3.7 step 12: the acr asserted must be one the site requested.
        raise InvalidToken("acr is missing or not one of the requested acr_values",
                           code="invalid_acr", stage=stage)
    return IDToken(raw=raw, claims=claims)


def _audiences(claims: Mapping[str, Any]) -> set[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return {aud}
    return {a for a in aud if isinstance(a, str)} if isinstance(aud, list) else set()


def validate_renewed_id_token(raw: Any, *, original: Mapping[str, Any],
                              access_token: str | None = None, now: float | None = None,
                              metadata: ProviderMetadata | None = None) -> IDToken:
    """Validate an ID token from a refresh token grant against the sign-in's (``original``,
    its claims): OpenID Connect Core §12.2. Raises :class:`InvalidToken` (stage
    ``token_renewal``): the session must then end.

    Like the first one (signature, ``iss``, ``aud``, ``exp``, ``iat``, ``at_hash``), and
    besides: ``iss``, ``sub``, ``aud`` and ``azp`` equal the original's; ``auth_time``, when
    both have it, is the original authentication's; a ``nonce``, if any, is the original's.
    """
    config = get_config()
    stage = "token_renewal"
    now = time.time() if now is None else now
    try:
        header, claims = _decode_id_token(raw, config=config, metadata=metadata, now=now)
    except InvalidToken as exc:
        raise InvalidToken(exc.detail, code=exc.code, stage=stage) from None
    mismatched = [name for name in ("iss", "sub", "azp")
                  if (name in claims or name in original)
                  and not _same(claims.get(name), original.get(name))]
    if _audiences(claims) != _audiences(original):
        mismatched.append("aud")
    if "auth_time" in claims and "auth_time" in original and (
            claims["auth_time"] != original["auth_time"]):
        mismatched.append("auth_time")
    if "nonce" in claims and not _same(claims["nonce"], original.get("nonce")):
        mismatched.append("nonce")
    if mismatched:
        raise InvalidToken(f"renewed ID token differs from the sign-in's in "
                           f"{', '.join(mismatched)}", code="renewed_id_token_mismatch",
                           stage=stage)
    _check_at_hash(header, claims, access_token, stage)
    return IDToken(raw=raw, claims=claims)
