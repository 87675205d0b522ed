"""Sign-out, as the relying party decides it: what to revoke (refresh token first), what to
flush (the local session, always), where to send the browser (the provider's end-session
request with a single-use ``state``), and the verified return.

The one promise: whatever fails — the provider down, discovery unreachable, the database or
cache raising in the mapping delete, the logout state or revocation — the local session is
flushed and the browser reaches the provider's end-session page or the public page.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import logout as auth_logout
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest

from .. import session as idp_session
from .. import token_store
from ..conf import IdPConfig, get_config
from ..discovery import ProviderMetadata, endpoint_status, get_metadata
from ..errors import log_failure, new_reference
from ..exceptions import IdPLogoutError, ProviderUnavailable, TokenError
from ..providers import BoundProvider, EndSessionRequest, LogoutContext, get_provider
from ..session_end import announce_signed_out
from ..signals import session_expired
from ..state import LogoutReturn, consume_logout_state, create_logout_state
from ..token_store import TokenSet

logger = logging.getLogger("django_idp_logout")

#: Token endpoint codes that mean our client is misconfigured at the provider (an operator
#: must act): logged at ERROR. Anything else at revocation is transient or harmless: WARNING.
CONFIGURATION_CODES = frozenset({"invalid_client", "unauthorized_client"})


def sign_out(request: HttpRequest, *, next_url: str, post_logout_redirect_uri: str,
             quiet: bool = False) -> EndSessionRequest | None:
    """End the local session (always) and return the provider's end-session request, or
    ``None`` when the browser should go straight to ``next_url`` (not signed in through the
    provider, or the provider has no end-session endpoint). Never raises. ``quiet``: the
    return from the provider queues no "You are signed out" message (a script asked)."""
    data = idp_session.load(request)
    tokens = latest_tokens(request)
    user, provider = request.user, data.provider if data is not None else get_config().name
    bound: BoundProvider | None = None
    try:
        if data is not None:
            bound = revoke_where_configured(tokens)
    except Exception:  # logout must complete locally whatever happened above
        logger.exception("stage=logout unexpected error before the local logout")
    finally:
        local_logout(request)
    at_provider = data is not None and bound is not None and bool(bound.end_session_endpoint)
    announce_signed_out(sign_out, how="rp_initiated" if at_provider else "local",
                        provider=provider, user=user, request=request)
    if data is None or bound is None:
        return None
    if bound.end_session_endpoint is None:
        logger.warning("stage=logout provider=%s the provider has no end-session endpoint: "
                       "signed out locally only", bound.name)
        return None
    context = LogoutContext(post_logout_redirect_uri=post_logout_redirect_uri,
                            state=new_logout_state(next_url, provider, quiet=quiet),
                            id_token=tokens.id_token or data.id_token,
                            access_token=tokens.access_token, claims=data.claims)
    return bound.end_session_request(context)


def complete_sign_out(state: str) -> LogoutReturn | None:
    """The landing page and provider recorded at logout for this returned ``state`` — once;
    ``None`` when it is unknown, expired, reused, or cannot be checked right now (logged)."""
    try:
        return consume_logout_state(state) if state else None
    except Exception:
        logger.exception("stage=logout could not check the logout state")
        return None


def bind_for_logout(config: IdPConfig) -> BoundProvider:
    """Bound to discovery if it loads; else to what the settings alone say (``ENDPOINTS``), so
    profiles whose end-session URL is known without discovery still send the user there."""
    profile = get_provider(config)
    try:
        return BoundProvider(profile, get_metadata())
    except IdPLogoutError as exc:
        log_failure(exc, new_reference())
    except Exception:  # a cache backend's own error: logout goes on
        logger.exception("stage=logout discovery failed unexpectedly; using the settings only")
    usable = {key: url for key, url in config.endpoints.items()
              if endpoint_status(url, config.issuer) == "ok"}  # never a secret in clear
    return BoundProvider(profile, ProviderMetadata({"issuer": config.issuer, **usable}))


def latest_tokens(request: HttpRequest) -> TokenSet:
    """The session's newest tokens (a renewal may have replaced the ones signed in with):
    the mapping row's, else the session's copies. Never raises."""
    data = idp_session.raw(request) or {}
    try:
        found = token_store.read(data)
    except Exception:  # the database down: logout goes on with what the session has
        logger.exception("stage=logout could not read the session's tokens")
        found = None
    return found or TokenSet(access_token=data.get("access_token"),
                             refresh_token=data.get("refresh_token"),
                             id_token=data.get("id_token"), expires_at=None)


def revoke_where_configured(tokens: TokenSet) -> BoundProvider:
    """Revoke ``tokens`` at the active provider when its profile and
    ``REVOKE_TOKENS_ON_LOGOUT`` say so; the provider bound for logout (never raises for the
    provider's failures, which are logged)."""
    bound = bind_for_logout(get_config())
    if bound.profile.should_revoke():
        revoke_tokens(bound, tokens)
    return bound


def revoke_tokens(bound: BoundProvider, data: TokenSet) -> None:
    """Revoke the refresh token, then the access token and the APIs' own (RFC 7009 §2).
    Never raises."""
    endpoint = bound.revocation_endpoint
    if endpoint is None:
        level = logging.WARNING if bound.profile.revokes_tokens else logging.DEBUG
        logger.log(level, "stage=revocation provider=%s the provider has no revocation "
                   "endpoint: tokens are not revoked", bound.name)
        return
    apis = [(str(api.get("access_token")), "access_token") for api in data.apis.values()]
    for token, hint in ((data.refresh_token, "refresh_token"),
                        (data.access_token, "access_token"), *apis):
        if not token or hint not in bound.profile.revocable_tokens:
            continue
        try:
            bound.revoke(endpoint, token=token, token_type_hint=hint)
        except ProviderUnavailable as exc:
            # Down or hanging: one timeout is all the user waits; skip the other token.
            log_failure(exc, new_reference(), level=logging.WARNING)
            return
        except TokenError as exc:
            log_failure(exc, new_reference(), level=logging.ERROR
                        if exc.code in CONFIGURATION_CODES else logging.WARNING)
        except Exception:
            logger.exception("stage=revocation unexpected error; the logout goes on")
            return


def expire_session(request: HttpRequest, reason: str, *, sender: Any, revoke: bool = False,
                   signal: bool = True) -> None:
    """End a session the user did not ask to end (idle, too old, refused by the provider):
    logged, signalled (``session_expired``, before the user is gone), revoked at the
    provider with ``revoke`` (tokens that are still valid), then the local logout. Never
    raises."""
    logger.info("stage=session the session ended: reason=%s", reason)
    user = request.user
    if signal:
        try:
            session_expired.send(sender=sender, request=request, user=request.user,
                                 reason=reason)
        except Exception:
            logger.exception("stage=session a session_expired receiver failed")
    if revoke:
        try:
            revoke_where_configured(latest_tokens(request))
        except Exception:
            logger.exception("stage=session unexpected error revoking an ended session's tokens")
    local_logout(request)
    if signal:
        announce_signed_out(sender, how="expired", provider=get_config().name, user=user,
                            request=request)


def local_logout(request: HttpRequest) -> None:
    """``django.contrib.auth.logout()`` that cannot fail half way.

    A receiver of ``user_logged_out`` or the session store may raise (database down): the
    session data is still dropped, the user is anonymous for the rest of the request, and a
    new empty session replaces the old one when the store works again.
    """
    try:
        auth_logout(request)
        return
    except Exception:
        logger.exception("stage=logout logout() failed; clearing the session directly")
    try:
        request.session.flush()
    except Exception:
        logger.exception("stage=logout the session store failed; its data is cleared")
        request.session.clear()
    request.user = AnonymousUser()


def new_logout_state(next_url: str, provider: str, *, quiet: bool = False) -> str | None:
    """A single-use logout state, or ``None`` when it cannot be stored right now (the user
    still reaches the provider; the return then lands on ``POST_LOGOUT_REDIRECT_URL``)."""
    try:
        return create_logout_state(next_url, provider, quiet=quiet)
    except Exception:
        logger.exception("stage=logout could not store the logout state; sending none")
        return None
