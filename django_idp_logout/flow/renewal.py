"""Access tokens that stay valid: renewal with the refresh token (RFC 6749 §6), as the relying
party decides it.

* A valid token costs nothing: the session's copy is returned without a query.
* One renewal per session at a time, in every thread and process (:mod:`.token_lock`).
  Requests that find it taken poll the session's tokens until the holder has stored the new
  ones, and use them: one refresh request, however many requests needed a token.
* A renewed ID token (Core §12.2) is validated like the first and must name the same user; a
  refused refresh token or a rejected ID token ends the session (``session_expired``).
* The new access, refresh and ID token are stored together with one conditional UPDATE
  (:mod:`~django_idp_logout.token_store`); a failure anywhere leaves the old set in place.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NoReturn

from django.db import DatabaseError
from django.http import HttpRequest

from .. import session as idp_session
from .. import token_store
from ..conf import IdPConfig, get_config
from ..errors import log_failure, new_reference
from ..exceptions import (
    IdPLogoutError,
    InvalidToken,
    ProviderUnavailable,
    ReauthenticationRequired,
    TokenError,
)
from ..providers import BoundProvider, get_provider
from ..signals import tokens_renewed
from ..token_store import TokenSet
from ..tokens import validate_renewed_id_token
from .signout import expire_session, revoke_tokens
from .token_lock import DEFERRED_RELEASES, LOCK_KIND, locked

if TYPE_CHECKING:
    from ..client import TokenResponse

logger = logging.getLogger("django_idp_logout")

__all__ = ["DEFERRED_RELEASES", "LOCK_KIND", "access_token", "renew"]
#: Token endpoint codes that refuse the refresh token itself: the session is over.
REFUSALS = frozenset({"invalid_grant"})
#: Claims of the sign-in's ID token a renewed one must keep (Core §12.2 compares them).
KEPT_CLAIMS = ("nonce", "auth_time")


def database_unavailable(exc: DatabaseError) -> IdPLogoutError:
    return IdPLogoutError(f"database error: {type(exc).__name__}", code="database_unavailable",
                          stage="token_renewal", status=503)


def access_token(request: HttpRequest, *, rejected: str | None = None) -> str:
    """A valid access token for the signed-in user (see ``get_access_token``).

    ``rejected``: an API refused this token (401): renew unless another request already
    replaced it.
    """
    config = get_config()
    data = signed_in_data(request)
    margin = config.token_renew_margin
    copy = data.get("access_token")
    if rejected is None and token_store.usable(copy, data.get("expires_at"), margin,
                                               lifetime=data.get("lifetime")):
        return str(copy)
    try:
        current = read_tokens(request, data)
        if current.usable(margin) and current.access_token != rejected:
            adopt(request, current)
            return str(current.access_token)
        return str(renew(request, rejected=rejected, seen=current).access_token)
    except DatabaseError as exc:
        raise database_unavailable(exc) from exc


def renew(request: HttpRequest, *, force: bool = False, rejected: str | None = None,
          seen: TokenSet | None = None, fresh_within: float = 0.0) -> TokenSet:
    """Renew the session's tokens and return the new set — or the set another request renewed
    while this one waited. ``force``: even if the access token is still valid (the session
    check), unless the stored set was issued less than ``fresh_within`` seconds ago. Raises
    :class:`ReauthenticationRequired`, or (the session goes on) :class:`ProviderUnavailable`
    or an ``IdPLogoutError`` with status 503 (the database)."""
    config = get_config()
    data = signed_in_data(request)
    try:
        before = seen or read_tokens(request, data)

        def renewed_meanwhile(current: TokenSet) -> TokenSet | None:
            # A new access token, not just a new version (an API's own token bumps it too).
            if (current.access_token not in {before.access_token, rejected}
                    and current.usable(config.token_renew_margin)):
                adopt(request, current)  # renewed by the request that held the lock
                return current
            return None

        return locked(request, data.get("mapping"), config, lambda: read_tokens(request, data),
                      renewed_meanwhile, lambda: _renew_locked(
                          request, data, before, force=force, rejected=rejected,
                          fresh_within=fresh_within, config=config))
    except DatabaseError as exc:
        raise database_unavailable(exc) from exc


def _renew_locked(request: HttpRequest, data: dict[str, Any], seen: TokenSet, *, force: bool,
                  rejected: str | None, fresh_within: float, config: IdPConfig) -> TokenSet:
    current = read_tokens(request, data)  # again, under the lock: another may have renewed
    usable = current.usable(config.token_renew_margin) and current.access_token != rejected
    recent = current.issued_at is not None and time.time() - current.issued_at < fresh_within
    if usable and (not force or current.access_token != seen.access_token or recent):
        adopt(request, current)
        return current
    if not current.refresh_token:
        raise ReauthenticationRequired("the access token expired and there is no refresh "
                                       "token", reason="no_refresh_token")
    bound = BoundProvider.discover(get_provider(config))
    response = refresh_grant(request, data, bound, current.refresh_token)
    new = token_store.issued(access_token=response.access_token,
                             refresh_token=response.refresh_token or current.refresh_token,
                             id_token=current.id_token, expires_in=response.expires_in,
                             version=current.version + 1)
    new = replace(new, apis=current.apis)  # the APIs' own tokens stay valid
    new, claims, sid = check_id_token(request, data, bound, response, new)
    if not token_store.write(data, expected_version=current.version, tokens=new, sid=sid):
        return lost_write(request, data, bound, new, config, replaced=current)
    adopt(request, new, claims=claims, sid=sid)
    tokens_renewed.send_robust(sender=renew, request=request, user=request.user,
                               rotated=bool(response.refresh_token)
                               and response.refresh_token != current.refresh_token,
                               id_token=claims is not None)
    return new


def refresh_grant(request: HttpRequest, data: dict[str, Any], bound: BoundProvider,
                  refresh_token: str, params: Mapping[str, str] | None = None
                  ) -> TokenResponse:
    """The refresh token grant; a refused refresh token (``invalid_grant``) ends the
    session. Other errors propagate (the session goes on)."""
    try:
        return bound.refresh(refresh_token=refresh_token, params=params)
    except TokenError as exc:
        if exc.code not in REFUSALS:
            raise
        end_refused(request, data, exc, "refresh_refused")


def check_id_token(request: HttpRequest, data: dict[str, Any], bound: BoundProvider,
                   response: TokenResponse, new: TokenSet
                   ) -> tuple[TokenSet, dict[str, Any] | None, str | None]:
    """A refresh response's ID token (Core §12.2), validated like the first and naming the
    same user: ``(new with it, its claims, its sid)``; ``(new, None, None)`` when there is
    none or the keys cannot be fetched (the new access and refresh tokens are kept). A
    rejected one ends the session, after revoking the tokens just issued."""
    if not response.id_token:
        return new, None, None
    try:
        renewed = validate_renewed_id_token(
            response.id_token, original=data.get("claims") or {},
            access_token=response.access_token, metadata=bound.metadata)
    except InvalidToken as exc:
        revoke_tokens(bound, new)  # issued to somebody we no longer trust
        end_refused(request, data, exc, "id_token_rejected", level=logging.WARNING)
    except ProviderUnavailable as exc:
        # The keys could not be fetched: keep the new access and refresh tokens (a rotated
        # refresh token must not be lost) and the ID token we have.
        log_failure(exc, new_reference(), level=logging.WARNING)
        return new, None, None
    original = data.get("claims") or {}
    claims = {**{k: original[k] for k in KEPT_CLAIMS if k in original}, **renewed.claims}
    return replace(new, id_token=response.id_token), claims, renewed.sid


def lost_write(request: HttpRequest, data: dict[str, Any], bound: BoundProvider,
               new: TokenSet, config: IdPConfig, *, replaced: TokenSet) -> TokenSet:
    """The conditional UPDATE matched nothing: the row is gone (a logout ended the session:
    the tokens just issued are revoked) or another set was stored meanwhile (a lock that
    outlived its holder): that one is used if it has a new access token (not ``replaced``'s)."""
    current = token_store.read(data)
    if current is None:
        revoke_tokens(bound, new)
        end_quietly(request, data)
    if (current.access_token != replaced.access_token
            and current.usable(config.token_renew_margin)):
        adopt(request, current)
        return current
    raise ProviderUnavailable("another renewal replaced the tokens meanwhile",
                              code="provider_unavailable", stage="refresh", status=503)


def signed_in_data(request: HttpRequest) -> dict[str, Any]:
    data = idp_session.raw(request)
    if data is None or not request.user.is_authenticated:
        raise ReauthenticationRequired("not signed in through the provider",
                                       reason="not_signed_in")
    return data


def read_tokens(request: HttpRequest, data: dict[str, Any]) -> TokenSet:
    """The session's authoritative tokens; a session whose row is gone has ended."""
    current = token_store.read(data)
    if current is not None:
        return current
    if data.get("mapping") is None:
        # Signed in by a version that kept no mapping row: nothing to renew with.
        raise ReauthenticationRequired("session signed in before tokens were kept",
                                       reason="no_refresh_token")
    end_quietly(request, data)


def end_refused(request: HttpRequest, data: dict[str, Any], exc: InvalidToken | TokenError,
                reason: str, *, level: int = logging.INFO) -> NoReturn:
    """The provider refused the session (or vouched for someone else): it ends here."""
    log_failure(exc, new_reference(), level=level)
    key = request.session.session_key
    expire_session(request, reason, sender=renew)
    raise ReauthenticationRequired(f"the session ended: {reason}", reason=reason,
                                   ended=(key, data)) from None


def end_quietly(request: HttpRequest, data: dict[str, Any]) -> NoReturn:
    """A logout elsewhere ended the session while this request ran."""
    logger.info("stage=token_renewal the session was ended by a logout meanwhile")
    key = request.session.session_key
    expire_session(request, "session_ended", sender=renew, signal=False)
    raise ReauthenticationRequired("the session was ended by a logout", reason="session_ended",
                                   ended=(key, data))


def adopt(request: HttpRequest, tokens: TokenSet, *, claims: dict[str, Any] | None = None,
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
