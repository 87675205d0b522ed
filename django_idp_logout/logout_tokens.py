"""Back-channel logout token validation (OpenID Connect Back-Channel Logout 1.0 §2.6).

The signature and the claims every token shares are checked in :mod:`django_idp_logout.jws`;
what only a logout token has (``events``, ``sid`` / ``sub``, ``jti``, no ``nonce``) here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from .conf import IdPConfig, get_config
from .exceptions import InvalidToken
from .jws import FOREIGN_TYPES, MAX_IDENTIFIER_LENGTH, check_common_claims, decode_signed

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
    if isinstance(typ, str) and typ.lower() in FOREIGN_TYPES - _LOGOUT_TYPES:
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
