"""ID token validation (OpenID Connect Core 1.0 §3.1.3.7), with PyJWT for the signature only.

PyJWT verifies the signature against a key we chose; every claim is checked here, with exact
types, because PyJWT's own claim checks are looser than the spec (it accepts a numeric
*string* for ``exp``, and ``aud`` / ``iss`` checks are opt-in).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import jwt

from .conf import HMAC_ALGORITHMS, IdPConfig, get_config
from .discovery import find_verification_key, refetch_verification_key
from .exceptions import InvalidToken

#: Largest token accepted (a JWS this large is garbage or an attack, not an ID token).
MAX_TOKEN_LENGTH = 16 * 1024

#: ``typ`` header values that mark a JWT as something other than an ID token.
_FOREIGN_TYPES = frozenset({"logout+jwt", "at+jwt", "application/logout+jwt", "application/at+jwt",
                            "secevent+jwt", "application/secevent+jwt"})

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


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def decode_signed(raw: Any, *, config: IdPConfig, stage: str) -> tuple[dict[str, Any],
                                                                      dict[str, Any]]:
    """Verify a compact JWS's signature; return ``(header, payload)``. Checks no claim."""
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
        found = find_verification_key(kid, alg, stage=stage)
        try:
            payload = _verify(raw, found.key, alg, stage)
        except InvalidToken as exc:
            # The provider may have replaced the key under the same kid: a cached key that
            # fails gets one rate-limited refetch, so sign-in recovers before JWKS_TTL.
            replaced = (refetch_verification_key(kid, alg, found, stage=stage)
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


def check_common_claims(claims: Mapping[str, Any], *, config: IdPConfig, stage: str,
                        now: float | None = None) -> None:
    """``iss``, ``aud``, ``azp``, ``iat``, ``exp``, ``nbf``: shared by ID and logout tokens."""
    now = time.time() if now is None else now
    leeway = config.leeway

    def reject(code: str, detail: str) -> InvalidToken:
        return InvalidToken(detail, code=code, stage=stage)

    if claims.get("iss") != config.issuer:
        raise reject("invalid_issuer", "iss is not the configured ISSUER")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if (not isinstance(audiences, list) or not audiences
            or not all(isinstance(a, str) for a in audiences)):
        raise reject("invalid_audience", "aud missing or not a string / list of strings")
    if config.client_id not in audiences:
        raise reject("invalid_audience", "aud does not contain CLIENT_ID")
    untrusted = set(audiences) - {config.client_id, *config.trusted_audiences}
    if untrusted:
        raise reject("invalid_audience", "aud contains audiences that are not trusted")
    azp = claims.get("azp")
    if azp is not None and azp != config.client_id:
        raise reject("invalid_audience", "azp is not CLIENT_ID")
    if len(audiences) > 1 and azp is None:
        raise reject("invalid_audience", "several audiences but no azp")
    iat = claims.get("iat")
    if not _is_number(iat):
        raise reject("invalid_iat", "iat missing or not a number")
    if iat > now + leeway:
        raise reject("invalid_iat", "iat is in the future")
    # Required in ID tokens (Core §2) and in logout tokens (Back-Channel Logout 1.0 §2.4).
    exp = claims.get("exp")
    if not _is_number(exp):
        raise reject("token_expired", "exp missing or not a number")
    if exp <= now - leeway:
        raise reject("token_expired", "token has expired")
    nbf = claims.get("nbf")
    if nbf is not None and (not _is_number(nbf) or nbf > now + leeway):
        raise reject("token_not_yet_valid", "nbf is in the future or not a number")


def _half_hash(value: str, alg: str) -> str:
    """``at_hash``: left half of the hash of the value, base64url (Core §3.1.3.6)."""
    digest = _HASHES.get(alg[-3:], hashlib.sha512 if alg == "EdDSA" else hashlib.sha256)(
        value.encode()).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


def requested_acr_values(config: IdPConfig) -> tuple[str, ...]:
    """The ``acr_values`` this site asks for (``AUTH_PARAMS``, space-separated), if any."""
    return tuple(str(config.auth_params.get("acr_values", "")).split())


def validate_id_token(raw: Any, *, nonce: str, access_token: str | None = None,
                      max_age: int | None = None, now: float | None = None,
                      acr_values: str | Collection[str] | None = None) -> IDToken:
    """Validate an ID token from the token endpoint; raise :class:`InvalidToken` otherwise.

    ``acr_values`` defaults to the configured request (``AUTH_PARAMS["acr_values"]``), not to
    what the authorization URL carried, so a user who strips it from the URL does not get in.
    """
    config = get_config()
    stage = "id_token"
    header, claims = decode_signed(raw, config=config, stage=stage)
    typ = header.get("typ")
    if isinstance(typ, str) and typ.lower() in _FOREIGN_TYPES:
        raise InvalidToken(f"a {typ[:30]} token is not an ID token", code="malformed_token",
                           stage=stage)
    if "events" in claims:
        raise InvalidToken("token carries events: a logout token, not an ID token",
                           code="malformed_token", stage=stage)
    now = time.time() if now is None else now
    check_common_claims(claims, config=config, stage=stage, now=now)
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 255:
        raise InvalidToken("sub missing, empty or too long", code="invalid_subject", stage=stage)
    token_nonce = claims.get("nonce")
    if not isinstance(token_nonce, str) or not hmac.compare_digest(token_nonce.encode(),
                                                                   nonce.encode()):
        raise InvalidToken("nonce does not match this sign-in", code="invalid_nonce",
                           stage=stage)
    auth_time = claims.get("auth_time")
    if auth_time is not None and not _is_number(auth_time):
        raise InvalidToken("auth_time is not a number", code="invalid_auth_time", stage=stage)
    if max_age is not None:
        if auth_time is None:
            raise InvalidToken("max_age was requested but auth_time is missing",
                               code="invalid_auth_time", stage=stage)
        if auth_time + max_age < now - config.leeway:
            raise InvalidToken("authentication is older than max_age",
                               code="invalid_auth_time", stage=stage)
    at_hash = claims.get("at_hash")
    if at_hash is not None and access_token is not None and not hmac.compare_digest(
        str(at_hash).encode(), _half_hash(access_token, header["alg"]).encode()
    ):
        raise InvalidToken("at_hash does not match the access token", code="invalid_at_hash",
                           stage=stage)
    requested = (requested_acr_values(config) if acr_values is None
                 else tuple(acr_values.split()) if isinstance(acr_values, str)
                 else tuple(acr_values))
    acr = claims.get("acr")
    if requested and (not isinstance(acr, str) or acr not in requested):
        # Core §3.1.3.7 step 12: the acr asserted must be one the site requested.
        raise InvalidToken("acr is missing or not one of the requested acr_values",
                           code="invalid_acr", stage=stage)
    return IDToken(raw=raw, claims=claims)


BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
_LOGOUT_TYPES = frozenset({"logout+jwt", "application/logout+jwt"})


@dataclass(frozen=True)
class LogoutToken:
    """A validated back-channel logout token (``sid`` and/or ``subject`` set).

    ``iat`` lets the receiver spare sessions that began after the logout was issued. The
    ``jti`` is *not* claimed by :func:`validate_logout_token`: the receiver claims it (with
    :func:`jti_claim_ttl`) once the sessions have really ended, so that the provider's retry
    after a transient failure is not refused as a replay.
    """

    issuer: str
    subject: str | None
    sid: str | None
    jti: str
    iat: float


#: Longest ``sid`` / ``sub`` accepted (the width of the columns they are looked up in).
MAX_IDENTIFIER_LENGTH = 255


def jti_claim_ttl(config: IdPConfig) -> int:
    """Seconds a logout token's ``jti`` must stay claimed: as long as the token validates.

    A token is accepted while ``iat`` is at most ``LEEWAY`` in the future and no older than
    ``LOGOUT_TOKEN_MAX_AGE`` + ``LEEWAY``; a minute more covers clock steps between processes.
    """
    return config.logout_token_max_age + 2 * config.leeway + 60


def validate_logout_token(raw: Any, *, now: float | None = None) -> LogoutToken:
    """OpenID Connect Back-Channel Logout 1.0 §2.6; raises :class:`InvalidToken`.

    Checks the signature, ``iss``, ``aud``, ``iat``, ``exp`` (required since the final
    specification), ``jti`` (present), ``events``, ``sid`` / ``sub`` and the absence of
    ``nonce``. It does not claim the ``jti``: see :class:`LogoutToken`.
    """
    config = get_config()
    stage = "backchannel"
    header, claims = decode_signed(raw, config=config, stage=stage)
    typ = header.get("typ")
    if config.require_logout_token_typ and (not isinstance(typ, str)
                                            or typ.lower() not in _LOGOUT_TYPES):
        raise InvalidToken("typ is not logout+jwt", code="malformed_token", stage=stage)
    if isinstance(typ, str) and typ.lower() in _FOREIGN_TYPES - _LOGOUT_TYPES:
        raise InvalidToken(f"a {typ[:30]} token is not a logout token", code="malformed_token",
                           stage=stage)
    now = time.time() if now is None else now
    check_common_claims(claims, config=config, stage=stage, now=now)
    if claims["iat"] < now - config.logout_token_max_age - config.leeway:
        raise InvalidToken("iat is too old", code="invalid_iat", stage=stage)
    sub, sid = claims.get("sub"), claims.get("sid")
    if sub is not None and (not isinstance(sub, str) or not sub
                            or len(sub) > MAX_IDENTIFIER_LENGTH):
        raise InvalidToken("sub is not a non-empty string of at most 255 characters",
                           code="invalid_subject", stage=stage)
    if sid is not None and (not isinstance(sid, str) or not sid
                            or len(sid) > MAX_IDENTIFIER_LENGTH):
        raise InvalidToken("sid is not a non-empty string of at most 255 characters",
                           code="invalid_sid", stage=stage)
    if sub is None and sid is None:
        raise InvalidToken("neither sub nor sid", code="invalid_subject", stage=stage)
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
        raise InvalidToken("events lacks the back-channel logout event", code="invalid_events",
                           stage=stage)
    if "nonce" in claims:
        raise InvalidToken("a logout token must not contain nonce (an ID token?)",
                           code="malformed_token", stage=stage)
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > MAX_IDENTIFIER_LENGTH:
        raise InvalidToken("jti missing or not a string", code="invalid_jti", stage=stage)
    return LogoutToken(issuer=str(claims["iss"]), subject=sub, sid=sid, jti=jti,
                       iat=float(claims["iat"]))
