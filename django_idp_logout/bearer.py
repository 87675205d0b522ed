"""Access tokens presented to this site's API: which ones are valid, and what they say.

A JWT (RFC 9068) is checked here with the provider's cached keys, like an ID token: signature
(same key rotation rules), ``iss`` exactly, ``aud`` containing one of ``API["AUDIENCE"]``,
``exp`` / ``nbf`` / ``iat`` with ``LEEWAY``. No request leaves the site while the keys are
cached. An ID token or a logout token is never taken for an access token (their ``typ``,
``nonce``, ``at_hash``, ``events``). Any other token is asked about at the provider's RFC 7662
introspection endpoint (``API["INTROSPECT"]``), whose answer is reused for at most
``INTROSPECTION_CACHE_TTL`` seconds and never past the token's ``exp``.

With several providers, a JWT is checked with the providers that may have issued its ``iss``
(:mod:`.routing`), each with its own keys and ``API`` settings.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import caches

from . import routing
from .api_settings import api_settings
from .conf import get_config, provider_names, using_provider
from .discovery import get_metadata
from .exceptions import InvalidToken
from .jws import (
    FOREIGN_TYPES,
    MAX_IDENTIFIER_LENGTH,
    MAX_TOKEN_LENGTH,
    audience_list,
    check_issuer,
    check_times,
    decode_signed,
    is_time,
)
from .store import provider_cache_key

STAGE = "access_token"
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
#: Claims only an ID token has (Core §3.1.3.6, §3.3.2.11, FAPI): never in an access token.
ID_TOKEN_CLAIMS = ("at_hash", "c_hash", "s_hash")
#: The ``typ`` *claim* some providers (Keycloak) put in tokens that are not access tokens.
FOREIGN_TYP_CLAIMS = frozenset({"ID", "Logout", "Refresh", "Offline"})
#: Claims that name the client a token was issued to, by provider.
CLIENT_ID_CLAIMS = ("client_id", "azp", "cid", "appid")


@dataclass(frozen=True)
class AccessToken:
    """A validated access token: ``request.auth`` of an API view."""

    #: The provider that issued it (its key in ``PROVIDERS``; ``"default"``: the flat form).
    provider: str
    issuer: str
    #: The user it speaks for; ``None`` for a client's own token (client credentials).
    subject: str | None
    client_id: str | None
    scopes: frozenset[str]
    expires_at: float | None
    claims: Mapping[str, Any] = field(repr=False)
    #: Checked by introspection (an opaque token), not by its signature.
    introspected: bool = False

    def missing_scopes(self, required: Iterable[str]) -> list[str]:
        return [scope for scope in required if scope not in self.scopes]


def refused(detail: str, code: str = "invalid_token") -> InvalidToken:
    return InvalidToken(detail, code=code, stage=STAGE, status=401)


def validate_access_token(raw: Any) -> AccessToken:
    """The token if it is valid for this site's API; raises :class:`InvalidToken` (refused:
    answer 401) or :class:`~django_idp_logout.exceptions.ProviderUnavailable` (keys or
    introspection unavailable: answer 503)."""
    if not isinstance(raw, str) or not raw or len(raw) > MAX_TOKEN_LENGTH:
        raise refused("token missing or too large", "malformed_token")
    if raw.count(".") == 2:
        return routing.first_accepting(routing.token_candidates(raw), lambda: _jwt(raw))
    # One provider at most introspects (check E036): a token is never shown to a provider
    # that did not issue it.
    names = [name for name in provider_names() if api_settings(get_config(name)).introspect]
    if not names:
        raise refused("not a JWT, and no provider's tokens are introspected", "malformed_token")
    with using_provider(names[0]):
        return _introspected(raw)


def _jwt(raw: str) -> AccessToken:
    """RFC 9068 §4, with the active provider's keys and ``API`` settings."""
    config = get_config()
    api = api_settings(config)
    if not api.audiences:
        raise refused("IDP_LOGOUT['API'] has no AUDIENCE (check django_idp_logout.E035)",
                      "invalid_audience")
    metadata = get_metadata()  # loaded once: for the keys and for the issuer check
    header, claims = decode_signed(raw, config=config, stage=STAGE, metadata=metadata)
    typ = header.get("typ")
    typ = typ.lower() if isinstance(typ, str) else None
    if typ not in ACCESS_TOKEN_TYPES and (api.require_at_jwt or typ in FOREIGN_TYPES):
        raise refused(f"typ {str(typ)[:30]!r} is not at+jwt", "not_an_access_token")
    if _is_other_token(claims, typ in ACCESS_TOKEN_TYPES, config.client_id):
        raise refused("an ID, logout or refresh token is not an access token",
                      "not_an_access_token")
    _check_not_bound(claims)
    try:
        check_issuer(claims, config=config, stage=STAGE, metadata=metadata)
    except InvalidToken:
        from .providers import get_provider  # the profiles sit above this module

        if claims.get("iss") not in get_provider(config).access_token_issuers(claims):
            raise
    if not set(audience_list(claims, stage=STAGE)) & set(api.audiences):
        raise refused("aud does not contain the API's AUDIENCE", "invalid_audience")
    check_times(claims, config=config, stage=STAGE)
    return _access_token(claims, introspected=False)


def _introspected(raw: str) -> AccessToken:
    """RFC 7662, answers cached (by a digest of the token) in ``CACHE_ALIAS``."""
    from .providers import BoundProvider, get_provider  # the profiles sit above this module

    config = get_config()
    api = api_settings(config)
    cache = caches[config.cache_alias]
    key = provider_cache_key(config, "introspection", hashlib.sha256(raw.encode()).hexdigest())
    answer = cache.get(key) if api.introspection_cache_ttl else None
    if not isinstance(answer, dict):
        answer = BoundProvider.discover(get_provider(config)).introspect(raw)
        ttl = api.introspection_cache_ttl
        exp = answer.get("exp")
        if is_time(exp):
            ttl = min(ttl, int(exp - time.time()))
        # Only an active answer is kept: a stream of made-up tokens must not fill the cache
        # (and push the keys out of it).
        if ttl > 0 and answer.get("active") is True:
            cache.set(key, answer, ttl)
    if answer.get("active") is not True:
        raise refused("the provider says the token is not active", "inactive_token")
    _check_not_bound(answer)
    if "iss" in answer:
        check_issuer(answer, config=config, stage=STAGE, metadata=get_metadata())
    if not set(audience_list(answer, stage=STAGE)) & set(api.audiences):
        raise refused("aud does not contain the API's AUDIENCE", "invalid_audience")
    exp = answer.get("exp")
    if exp is not None and (not is_time(exp) or exp <= time.time() - config.leeway):
        raise refused("token has expired", "token_expired")
    if answer.get("token_type") not in (None, "access_token", "Bearer", "bearer"):
        raise refused("not an access token", "not_an_access_token")
    return _access_token({"iss": config.issuer, **answer}, introspected=True)


def _is_other_token(claims: Mapping[str, Any], typed: bool, client_id: str) -> bool:
    """An ID token (its hashes; Cognito's ``token_use``; Keycloak's ``typ`` claim), a
    logout token (``events``), or a refresh token. A ``nonce`` marks an ID token only in a
    token that could be this site's own (its ``aud`` holds ``CLIENT_ID``) and is not typed
    ``at+jwt``: Keycloak before 25 copies the sign-in's ``nonce`` into access tokens."""
    claim_typ = claims.get("typ")
    if (any(name in claims for name in ID_TOKEN_CLAIMS) or "events" in claims
            or claims.get("token_use") == "id"
            or (isinstance(claim_typ, str) and claim_typ in FOREIGN_TYP_CLAIMS)):
        return True
    aud = claims.get("aud")
    own = aud == client_id or (isinstance(aud, list) and client_id in aud)
    return "nonce" in claims and own and not typed


def _check_not_bound(claims: Mapping[str, Any]) -> None:
    """A sender-constrained token (``cnf``: DPoP, RFC 9449; mTLS, RFC 8705) is worthless
    without its proof of possession, which is not checked here: refused, so that a stolen
    one is not accepted as a plain bearer token."""
    if "cnf" in claims:
        raise refused("a sender-constrained (cnf) token needs a proof of possession",
                      "bound_token")


def _access_token(claims: Mapping[str, Any], *, introspected: bool) -> AccessToken:
    scopes: set[str] = set()
    for name in ("scope", "scp"):  # RFC 9068 / 7662: a string; Okta, Entra: also a list
        value = claims.get(name)
        items = value.split() if isinstance(value, str) else value
        if isinstance(items, list):
            scopes.update(s for s in items if isinstance(s, str) and s)
    sub = claims.get("sub")
    if sub is not None and (not isinstance(sub, str) or not sub
                            or len(sub) > MAX_IDENTIFIER_LENGTH):
        raise refused("sub is not a string of at most 255 characters", "invalid_subject")
    client_id = next((v for v in (claims.get(n) for n in CLIENT_ID_CLAIMS)
                      if isinstance(v, str) and v), None)
    exp = claims.get("exp")
    return AccessToken(
        provider=get_config().name, issuer=str(claims["iss"]), subject=sub,
        client_id=client_id, scopes=frozenset(scopes),
        expires_at=float(exp) if is_time(exp) else None, claims=dict(claims),
        introspected=introspected)
