"""Access tokens that stay valid: renewal with the refresh token (RFC 6749 §6), as the relying
party decides it.

* A valid token costs nothing: the session's copy is returned without a query.
* One renewal per session at a time, in every thread and process: a short lock in the shared
  store (:func:`store.claim_once`: a shared atomic cache, else a row in the database). Requests
  that find it taken poll the session's tokens until the holder has stored the new ones, and
  use them: one refresh request, however many requests needed a token.
* A renewed ID token (Core §12.2) is validated like the first and must name the same user; a
  refused refresh token or a rejected ID token ends the session (``session_expired``).
* The new access, refresh and ID token are stored together with one conditional UPDATE
  (:mod:`~django_idp_logout.token_store`); a failure anywhere leaves the old set in place.
"""

from __future__ import annotations

import logging
import time
from typing import Any, NoReturn

from django.http import HttpRequest

from .. import session as idp_session
from .. import store, token_store
from ..conf import IdPConfig, get_config
from ..errors import log_failure, new_reference
from ..exceptions import InvalidToken, ProviderUnavailable, ReauthenticationRequired, TokenError
from ..providers import BoundProvider, get_provider
from ..signals import tokens_renewed
from ..token_store import TokenSet
from ..tokens import validate_renewed_id_token
from .signout import expire_session, revoke_tokens

logger = logging.getLogger("django_idp_logout")

#: Kind of the renewal lock in the shared store (one per session: its mapping row id).
LOCK_KIND = "token-renewal"
#: Token endpoint codes that refuse the refresh token itself: the session is over.
REFUSALS = frozenset({"invalid_grant"})
#: Claims of the sign-in's ID token a renewed one must keep (Core §12.2 compares them).
KEPT_CLAIMS = ("nonce", "auth_time")


def lock_ttl(config: IdPConfig) -> float:
    """How long a renewal may hold the lock: discovery, keys and the token request, each
    bounded by twice ``TIMEOUT``, and a margin. A worker that dies holding it delays the
    session's other requests by at most this long."""
    return 6 * config.timeout + 5


def access_token(request: HttpRequest, *, rejected: str | None = None) -> str:
    """A valid access token for the signed-in user (see ``get_access_token``).

    ``rejected``: an API refused this token (401): renew unless another request already
    replaced it.
    """
    config = get_config()
    data = idp_session.raw(request)
    if data is None or not request.user.is_authenticated:
        raise ReauthenticationRequired("not signed in through the provider",
                                       reason="not_signed_in")
    margin = config.token_renew_margin
    copy = data.get("access_token")
    if rejected is None and token_store.usable(copy, data.get("expires_at"), margin):
        return str(copy)
    current = _read(request, data)
    if current.usable(margin) and current.access_token != rejected:
        _adopt(request, current)
        return str(current.access_token)
    return str(renew(request, force=False, rejected=rejected, seen=current).access_token)


def renew(request: HttpRequest, *, force: bool, rejected: str | None = None,
          seen: TokenSet | None = None) -> TokenSet:
    """Renew the session's tokens (``force``: even if the access token is still valid, as the
    session check does) and return the new set; or the set another request renewed while
    this one waited. Raises :class:`ReauthenticationRequired` or, with the provider down,
    :class:`ProviderUnavailable` (the session goes on)."""
    config = get_config()
    data = idp_session.raw(request)
    if data is None or not request.user.is_authenticated:
        raise ReauthenticationRequired("not signed in through the provider",
                                       reason="not_signed_in")
    seen = seen or _read(request, data)
    name, ttl = str(data.get("mapping")), lock_ttl(config)
    deadline, delay = time.monotonic() + ttl, 0.02
    while True:
        if store.claim_once(LOCK_KIND, name, ttl, config=config):
            try:
                return _renew_locked(request, data, seen, force=force, rejected=rejected,
                                     config=config)
            finally:
                _release(name, config)
        current = _read(request, data)
        if current.version != seen.version and current.usable(config.token_renew_margin):
            _adopt(request, current)  # renewed by the request that held the lock
            return current
        if time.monotonic() >= deadline:
            raise ProviderUnavailable("another request's renewal did not finish in time",
                                      code="provider_timeout", stage="refresh", status=503)
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def _renew_locked(request: HttpRequest, data: dict[str, Any], seen: TokenSet, *, force: bool,
                  rejected: str | None, config: IdPConfig) -> TokenSet:
    current = _read(request, data)  # again, under the lock: another request may have renewed
    margin = config.token_renew_margin
    fresh = current.usable(margin) and current.access_token != rejected
    if fresh and (current.version != seen.version or not force):
        _adopt(request, current)
        return current
    if not current.refresh_token:
        raise ReauthenticationRequired("the access token expired and there is no refresh "
                                       "token", reason="no_refresh_token")
    bound = BoundProvider.discover(get_provider(config))
    try:
        response = bound.refresh(refresh_token=current.refresh_token)
    except TokenError as exc:
        if exc.code not in REFUSALS:
            raise
        _end(request, exc, "refresh_refused")
    claims = None
    sid = None
    if response.id_token:
        try:
            renewed = validate_renewed_id_token(
                response.id_token, original=data.get("claims") or {},
                access_token=response.access_token, metadata=bound.metadata)
        except InvalidToken as exc:
            _end(request, exc, "id_token_rejected", level=logging.WARNING)
        original = data.get("claims") or {}
        claims = {**{k: original[k] for k in KEPT_CLAIMS if k in original}, **renewed.claims}
        sid = renewed.sid
    new = TokenSet(access_token=response.access_token,
                   refresh_token=response.refresh_token or current.refresh_token,
                   id_token=response.id_token or current.id_token,
                   expires_at=token_store.expires_at(response.expires_in),
                   version=current.version + 1)
    if not token_store.write(data, expected_version=current.version, tokens=new, sid=sid):
        # Only a logout removes the row (renewals hold the lock): the tokens just issued
        # belong to a session that no longer exists.
        revoke_tokens(bound, new)
        _end_quietly(request)
    _adopt(request, new, claims=claims, sid=sid)
    tokens_renewed.send(sender=renew, request=request, user=request.user,
                        rotated=bool(response.refresh_token)
                        and response.refresh_token != current.refresh_token,
                        id_token=claims is not None)
    return new


def _read(request: HttpRequest, data: dict[str, Any]) -> TokenSet:
    """The session's authoritative tokens; a session whose row is gone has ended."""
    current = token_store.read(data)
    if current is not None:
        return current
    if data.get("mapping") is None:
        # Signed in by a version that kept no mapping row: nothing to renew with.
        raise ReauthenticationRequired("session signed in before tokens were kept",
                                       reason="no_refresh_token")
    _end_quietly(request)


def _end(request: HttpRequest, exc: InvalidToken | TokenError, reason: str, *,
         level: int = logging.INFO) -> NoReturn:
    """The provider refused the session (or vouched for someone else): it ends here."""
    log_failure(exc, new_reference(), level=level)
    expire_session(request, reason, sender=renew)
    raise ReauthenticationRequired(f"the session ended: {reason}", reason=reason) from None


def _end_quietly(request: HttpRequest) -> NoReturn:
    """A logout elsewhere ended the session while this request ran."""
    logger.info("stage=token_renewal the session was ended by a logout meanwhile")
    expire_session(request, "session_ended", sender=renew, signal=False)
    raise ReauthenticationRequired("the session was ended by a logout", reason="session_ended")


def _adopt(request: HttpRequest, tokens: TokenSet, *, claims: dict[str, Any] | None = None,
           sid: str | None = None) -> None:
    """Copy ``tokens`` into the session unless it has them already (a cookie session would
    otherwise be rewritten on every call). A newer version is a check with the provider."""
    data = idp_session.raw(request) or {}
    server_side = idp_session.engine_can_delete()
    if data.get("token_version") == tokens.version and (
            not server_side or data.get("access_token") == tokens.access_token):
        return
    token_store.adopt(request.session, idp_session.SESSION_KEY, tokens, server_side=server_side,
                      claims=claims, checked_at=time.time(), sid=sid)


def _release(name: str, config: IdPConfig) -> None:
    try:
        store.release(LOCK_KIND, name, config=config)
    except Exception:  # it expires by itself; the renewal's result stands
        logger.exception("stage=token_renewal could not release the renewal lock")
