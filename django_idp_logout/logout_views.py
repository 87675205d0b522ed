"""Sign-out views: ``logout`` (here and at the provider) and ``logout_complete`` (the return).

The one promise: whatever fails — the provider down, discovery unreachable, the database or
cache raising in the mapping delete, the logout state or revocation — the local session is
flushed and the browser reaches either the provider's end-session page or the public page.
Never a 500, never a user left signed in after asking to sign out.
"""

from __future__ import annotations

import logging

from django.contrib.auth import logout as auth_logout
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_deny
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from . import session as idp_session
from .client import revoke_token
from .conf import IdPConfig, get_config
from .discovery import ProviderMetadata, get_metadata
from .errors import log_failure, new_reference, sanitize
from .exceptions import IdPLogoutError, ProviderUnavailable, TokenError
from .logout_request import end_session_response
from .providers import LogoutContext, Provider, get_provider
from .session import IdPSession
from .state import consume_logout_state, create_logout_state
from .view_helpers import (
    MAX_PARAM_LENGTH,
    app_reverse,
    login_not_required,
    no_referrer,
    safe_next_url,
)

logger = logging.getLogger("django_idp_logout")

#: Token endpoint codes that mean our client is misconfigured at the provider (an operator
#: must act): logged at ERROR. Anything else at revocation is transient or harmless: WARNING.
CONFIGURATION_CODES = frozenset({"invalid_client", "unauthorized_client"})


def post_logout_redirect_uri(request: HttpRequest, config: IdPConfig) -> str:
    return config.post_logout_redirect_uri or request.build_absolute_uri(
        app_reverse("logout_complete"))


def with_clear_site_data(response: HttpResponse, config: IdPConfig) -> HttpResponse:
    if config.clear_site_data:
        response["Clear-Site-Data"] = ", ".join(f'"{v}"' for v in config.clear_site_data)
    return response


def metadata_for_logout(config: IdPConfig) -> ProviderMetadata:
    """Discovery if it loads; else what the settings alone say (``ENDPOINTS``), so profiles
    whose end-session URL is known without discovery still send the user to the provider."""
    try:
        return get_metadata()
    except IdPLogoutError as exc:
        log_failure(exc, new_reference())
    except Exception:  # a cache backend's own error: logout goes on
        logger.exception("stage=logout discovery failed unexpectedly; using the settings only")
    return ProviderMetadata({"issuer": config.issuer, **config.endpoints})


def revoke(provider: Provider, metadata: ProviderMetadata, data: IdPSession) -> None:
    """Revoke the refresh token, then the access token (RFC 7009 §2). Never raises."""
    endpoint = provider.revocation_endpoint(metadata)
    if endpoint is None:
        level = logging.WARNING if provider.revokes_tokens else logging.DEBUG
        logger.log(level, "stage=revocation provider=%s the provider has no revocation "
                   "endpoint: tokens are not revoked", provider.name)
        return
    for token, hint in ((data.refresh_token, "refresh_token"),
                        (data.access_token, "access_token")):
        if not token:
            continue
        try:
            revoke_token(provider, metadata, endpoint, token=token, token_type_hint=hint)
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


def new_logout_state(next_url: str) -> str | None:
    """A single-use logout state, or ``None`` when it cannot be stored right now (the user
    still reaches the provider; the return then lands on ``POST_LOGOUT_REDIRECT_URL``)."""
    try:
        return create_logout_state(next_url)
    except Exception:
        logger.exception("stage=logout could not store the logout state; sending none")
        return None


@login_not_required
@never_cache
@xframe_options_deny
@csrf_protect
@require_http_methods(["GET", "POST"])
def logout(request: HttpRequest) -> HttpResponse:
    """Sign out here and at the provider.

    GET shows a confirmation form and changes nothing (unless ``ALLOW_GET_LOGOUT``): a link or
    an image must not be able to sign people out. POST (CSRF-protected even on a site without
    ``CsrfViewMiddleware``) reads what the provider needs from the session, revokes the tokens
    (``REVOKE_TOKENS_ON_LOGOUT``, on by default), flushes the session, then sends the browser
    to the end-session endpoint with a fresh single-use ``state`` (a redirect, or a form POST
    when the URL would be too long). The page cannot be framed.
    """
    config = get_config()
    next_url = safe_next_url(request, request.POST.get("next") or request.GET.get("next"),
                             resolve_url(config.post_logout_redirect_url))
    if not request.user.is_authenticated:
        local_logout(request)  # drops whatever an anonymous session holds
        return with_clear_site_data(HttpResponseRedirect(next_url), config)
    if request.method == "GET" and not config.allow_get_logout:
        response = render(request, "django_idp_logout/logout_confirm.html", {"next": next_url})
        response["Content-Security-Policy"] = "frame-ancestors 'none'"
        return response

    data = idp_session.load(request)
    end_session: str | None = None
    provider: Provider | None = None
    try:
        if data is not None:
            provider = get_provider(config)
            metadata = metadata_for_logout(config)
            if provider.should_revoke():
                revoke(provider, metadata, data)
            end_session = provider.end_session_endpoint(metadata)
            if end_session is None:
                logger.warning("stage=logout provider=%s the provider has no end-session "
                               "endpoint: signed out locally only", provider.name)
    except Exception:  # logout must complete locally whatever happened above
        logger.exception("stage=logout unexpected error before the local logout")
    finally:
        local_logout(request)

    if data is None or end_session is None or provider is None:
        return with_clear_site_data(HttpResponseRedirect(next_url), config)
    context = LogoutContext(
        post_logout_redirect_uri=post_logout_redirect_uri(request, config),
        state=new_logout_state(next_url), id_token=data.id_token,
        access_token=data.access_token)
    response = end_session_response(request, provider, end_session, context)
    return with_clear_site_data(response, config)


@login_not_required
@no_referrer
@never_cache
@require_GET
def logout_complete(request: HttpRequest) -> HttpResponse:
    """Where the provider sends the user back after its logout.

    A valid ``state`` leads to the page chosen at logout time. A missing, forged, expired or
    replayed one leads to ``POST_LOGOUT_REDIRECT_URL`` with a warning logged; nothing from the
    request is trusted, and the user stays signed out either way.
    """
    config = get_config()
    state = request.GET.get("state", "")
    target = None
    if 0 < len(state) <= MAX_PARAM_LENGTH:
        try:
            target = consume_logout_state(state)
        except Exception:
            logger.exception("stage=logout could not check the logout state")
    if target is None:
        logger.warning("stage=logout provider=%s logout return with a missing, unknown, expired "
                       "or reused state (%s characters); landing on POST_LOGOUT_REDIRECT_URL",
                       config.provider, len(state))
        target = resolve_url(config.post_logout_redirect_url)
    elif "error" in request.GET:
        logger.warning("stage=logout provider=%s the provider reported error=%s",
                       config.provider, sanitize(request.GET.get("error"), 64))
    return HttpResponseRedirect(target)
