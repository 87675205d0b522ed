"""What ID tokens and logout tokens share: the compact JWS signature, verified with PyJWT
against a key we chose, and the claims every token carries (``iss``, ``aud``, ``azp``,
``iat``, ``exp``, ``nbf``).

PyJWT checks the signature only: every claim is checked here, with exact types, because
PyJWT's own claim checks are looser than the spec (it accepts a numeric *string* for ``exp``,
and ``aud`` / ``iss`` checks are opt-in).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any, TypeGuard

import jwt

from . import tenants
from .conf import HMAC_ALGORITHMS, IdPConfig, is_number
from .discovery import ProviderMetadata
from .exceptions import InvalidToken
from .jwks import find_verification_key, refetch_verification_key

#: Largest token accepted (a JWS this large is garbage or an attack, not an ID token).
MAX_TOKEN_LENGTH = 16 * 1024

#: Longest ``sub`` / ``sid`` / ``jti`` accepted (the width of the columns they are looked up in).
MAX_IDENTIFIER_LENGTH = 255

#: ``typ`` header values that mark a JWT as something other than an ID token.
FOREIGN_TYPES = frozenset({"logout+jwt", "at+jwt", "application/logout+jwt", "application/at+jwt",
                           "secevent+jwt", "application/secevent+jwt"})


def decode_signed(raw: Any, *, config: IdPConfig, stage: str,
                  metadata: ProviderMetadata | None = None) -> tuple[dict[str, Any],
                                                                     dict[str, Any]]:
    """Verify a compact JWS's signature; return ``(header, payload)``. Checks no claim.

    ``metadata``: the provider's, when the caller already holds it (one load per sign-in).
    """
    if not isinstance(raw, str) or not raw or len(raw) > MAX_TOKEN_LENGTH:
        raise InvalidToken("token missing or too large", code="malformed_token", stage=stage)
    if raw.count(".") != 2:
        # Five parts would be an encrypted (JWE) token, which we do not register for.
        raise InvalidToken("token is not a compact JWS", code="malformed_token", stage=stage)
    try:
        header = jwt.get_unverified_header(raw)
    except jwt.PyJWTError:
        raise InvalidToken("token header is not valid", code="malformed_token",
                           stage=stage) from None
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none" or alg not in config.algorithms:
        raise InvalidToken(f"signing algorithm {str(alg)[:20]!r} is not allowed",
                           code="disallowed_algorithm", stage=stage)
    if "crit" in header:
        # RFC 7515 §4.1.11: we understand no extension, so a critical one means reject.
        raise InvalidToken("token has critical header parameters", code="malformed_token",
                           stage=stage)
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise InvalidToken("kid is not a string", code="malformed_token", stage=stage)
    if alg in HMAC_ALGORITHMS:
        if not config.client_secret:
            raise InvalidToken("HMAC token but no client secret", code="disallowed_algorithm",
                               stage=stage)
        payload = _verify(raw, config.client_secret.encode(), alg, stage)
    else:
        found = find_verification_key(kid, alg, stage=stage, metadata=metadata)
        try:
            payload = _verify(raw, found.key, alg, stage)
        except InvalidToken as exc:
            # The provider may have replaced the key under the same kid: a cached key that
            # fails gets one rate-limited refetch, so sign-in recovers before JWKS_TTL.
            replaced = (refetch_verification_key(kid, alg, found, stage=stage,
                                                 metadata=metadata)
                        if exc.code == "invalid_signature" else None)
            if replaced is None:
                raise
            payload = _verify(raw, replaced.key, alg, stage)
    if not isinstance(payload, dict):
        raise InvalidToken("payload is not a JSON object", code="malformed_token", stage=stage)
    return header, payload


def _verify(raw: str, key: Any, alg: str, stage: str) -> Any:
    """The payload if the signature verifies with ``key``; no claim is checked here."""
    try:
        return jwt.decode(
            raw, key=key, algorithms=[alg],
            options={"verify_signature": True, "verify_exp": False, "verify_nbf": False,
                     "verify_iat": False, "verify_aud": False, "verify_iss": False,
                     "verify_sub": False, "verify_jti": False, "require": []},
        )
    except jwt.InvalidSignatureError:
        raise InvalidToken("signature does not verify", code="invalid_signature",
                           stage=stage) from None
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"token rejected: {type(exc).__name__}", code="malformed_token",
                           stage=stage) from None


def _profile_rules(config: IdPConfig) -> Any:
    """The profile class, for the issuer and audience rules it declares (``None`` for a
    ``PROVIDER`` that does not resolve: the system checks report it)."""
    from .providers import provider_class  # the profiles sit above this module

    try:
        return provider_class(config.provider)
    except Exception:
        return None


def alternative_issuers(rules: Any, config: IdPConfig) -> tuple[str, ...]:
    """A profile's other documented spellings of its provider's issuer (Google's
    ``accounts.google.com``): only when ``ISSUER`` is that issuer with ``https://``."""
    return tuple(alt for alt in getattr(rules, "alternative_issuers", ())
                 if config.issuer == f"https://{alt}")


def check_common_claims(claims: Mapping[str, Any], *, config: IdPConfig, stage: str,
                        now: float | None = None,
                        metadata: ProviderMetadata | None = None) -> None:
    """``iss``, ``aud``, ``azp``, ``iat``, ``exp``, ``nbf``: shared by ID and logout tokens."""
    check_issuer(claims, config=config, stage=stage, metadata=metadata)

    def reject(code: str, detail: str) -> InvalidToken:
        return InvalidToken(detail, code=code, stage=stage)

    rules = _profile_rules(config)
    audiences = audience_list(claims, stage=stage)
    if config.client_id not in audiences:
        raise reject("invalid_audience", "aud does not contain CLIENT_ID")
    untrusted = set(audiences) - {config.client_id, *config.trusted_audiences}
    azp = claims.get("azp")
    # A provider that always adds audiences of its own (ZITADEL: the project) is trusted for
    # them in ID tokens issued to this client (azp), and in its logout tokens, which carry
    # the same aud without an azp.
    provider_audiences = getattr(rules, "audiences_trusted_with_azp", False) and (
        azp == config.client_id or (azp is None and stage == "backchannel"))
    if untrusted and not provider_audiences:
        # Core §3.1.3.7 step 3.
        raise reject("invalid_audience", "aud contains audiences that are not trusted")
    if azp is not None and azp != config.client_id:
        raise reject("invalid_audience", "azp is not CLIENT_ID")
    if len(audiences) > 1 and azp is None and not provider_audiences:
        raise reject("invalid_audience", "several audiences but no azp")
    check_times(claims, config=config, stage=stage, now=now)


def check_issuer(claims: Mapping[str, Any], *, config: IdPConfig, stage: str,
                 metadata: ProviderMetadata | None = None) -> None:
    """``iss`` is ``ISSUER``; for a multi-tenant document (``{tenantid}`` in its issuer,
    accepted by discovery only for a profile with ``tenant_issuers``) the template with the
    token's ``tid`` (:mod:`.tenants`)."""
    rules = _profile_rules(config)
    if metadata is not None and tenants.is_template(metadata.issuer):
        expected = tenants.tenant_issuer(metadata.issuer, claims)
        if not (getattr(rules, "tenant_issuers", False)
                and tenants.template_serves(metadata.issuer, config.issuer)):
            # Only a multi-tenant ISSUER of a profile that checks tenants (not ISSUER set to
            # the template itself, nor a cached document of another profile).
            expected = None
        if expected is None:
            raise InvalidToken("tid missing or not a tenant id (multi-tenant issuer)",
                               code="invalid_issuer", stage=stage)
        issuers: tuple[str, ...] = (expected,)
    else:
        issuers = (config.issuer, *alternative_issuers(rules, config))
    if claims.get("iss") not in issuers:
        raise InvalidToken("iss is not the configured ISSUER (or its tenant's)",
                           code="invalid_issuer", stage=stage)


def audience_list(claims: Mapping[str, Any], *, stage: str) -> list[str]:
    """``aud`` as a non-empty list of strings (a string is a list of one)."""
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if (not isinstance(audiences, list) or not audiences
            or not all(isinstance(a, str) for a in audiences)):
        raise InvalidToken("aud missing or not a string / list of strings",
                           code="invalid_audience", stage=stage)
    return audiences


def is_time(value: Any) -> TypeGuard[int | float]:
    """A NumericDate: a finite number (JSON allows ``1e400``, Python's parser ``NaN``)."""
    return is_number(value) and math.isfinite(value)


def check_times(claims: Mapping[str, Any], *, config: IdPConfig, stage: str,
                now: float | None = None) -> None:
    """``iat`` (required, not in the future), ``exp`` (required, not past), ``nbf`` (if
    given, not in the future), each with ``LEEWAY``."""
    now = time.time() if now is None else now
    leeway = config.leeway

    def reject(code: str, detail: str) -> InvalidToken:
        return InvalidToken(detail, code=code, stage=stage)

    iat = claims.get("iat")
    if not is_time(iat):
        raise reject("invalid_iat", "iat missing or not a number")
    if iat > now + leeway:
        raise reject("invalid_iat", "iat is in the future")
    # Required in ID tokens (Core §2), logout tokens (Back-Channel Logout 1.0 §2.4) and
    # access tokens (RFC 9068 §2.2).
    exp = claims.get("exp")
    if not is_time(exp):
        raise reject("token_expired", "exp missing or not a number")
    if exp <= now - leeway:
        raise reject("token_expired", "token has expired")
    nbf = claims.get("nbf")
    if nbf is not None and (not is_time(nbf) or nbf > now + leeway):
        raise reject("token_not_yet_valid", "nbf is in the future or not a number")
