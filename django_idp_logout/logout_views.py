"""Sign-out views: ``logout`` (here and at the provider) and ``logout_complete`` (the return).

HTTP adapters around :mod:`django_idp_logout.flow.signout`, which decides what to revoke,
what to flush and where the browser goes — and never lets a failure stop the local logout.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render, resolve_url
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_deny
from django.views.decorators.http import require_GET, require_http_methods

from .conf import IdPConfig, get_config, uses_provider_list
from .errors import sanitize
from .flow import MAX_PARAM_LENGTH, complete_sign_out, local_logout, sign_out
from .logout_feedback import ProviderSession, signed_out_response
from .logout_request import end_session_response, end_session_target, handoff_response
from .providers import display_name, provider_class
from .view_helpers import (
    app_reverse,
    csrf_or_header,
    has_csrf_header,
    login_not_required,
    no_referrer,
    no_store,
    post_logout_redirect_uri,
    safe_next_url,
    unframed,
)

logger = logging.getLogger("django_idp_logout")


def with_clear_site_data(response: HttpResponse, config: IdPConfig, *,
                         keep_cookies: bool = False) -> HttpResponse:
    """``CLEAR_SITE_DATA``'s header; ``keep_cookies``: without ``"cookies"`` and ``"*"`` (a
    single-page app's logout handoff lives in the new session's cookie until it is used,
    and the handoff clears them then)."""
    directives = [v for v in config.clear_site_data
                  if not (keep_cookies and v in {"cookies", "*"})]
    if directives:
        response["Clear-Site-Data"] = ", ".join(f'"{v}"' for v in directives)
    return response


def _landing(url: str, as_json: bool, **extra: str) -> HttpResponse:
    """To ``url``: a redirect, or for a script ``{"signed_out": true, "redirect_url": …}``."""
    if as_json:
        return no_store(JsonResponse({"signed_out": True, "redirect_url": url, **extra}))
    return HttpResponseRedirect(url)


@login_not_required
@never_cache
@xframe_options_deny
@csrf_or_header
@require_http_methods(["GET", "POST"])
def logout(request: HttpRequest) -> HttpResponse:
    """Sign out here and at the provider.

    GET shows a confirmation form and changes nothing (unless ``ALLOW_GET_LOGOUT``): a link or
    an image must not be able to sign people out. POST (CSRF-protected even on a site without
    ``CsrfViewMiddleware``) signs out (:func:`~django_idp_logout.flow.sign_out`) and sends
    the browser to the provider's end-session endpoint — a redirect, or a form POST when the
    URL would be too long — or straight to the landing page. The pages cannot be framed.

    A single-page app POSTs with the ``X-CSRF: 1`` header instead of Django's token and gets
    JSON, ``{"signed_out": true, "redirect_url": …}``: the URL to navigate to, which never
    holds a token (a single-use ``?continue=`` handoff here when the request to the provider
    needs one).
    """
    config = get_config()
    next_url = safe_next_url(request, request.POST.get("next") or request.GET.get("next"),
                             resolve_url(config.post_logout_redirect_url))
    if request.method == "GET" and "continue" in request.GET:
        return with_clear_site_data(handoff_response(
            request, request.GET["continue"], resolve_url(config.post_logout_redirect_url)),
            config)
    as_json = request.method == "POST" and has_csrf_header(request)
    if not request.user.is_authenticated:
        local_logout(request)  # drops whatever an anonymous session holds
        return with_clear_site_data(_landing(next_url, as_json), config)
    if request.method == "GET" and not config.allow_get_logout:
        return unframed(render(request, "django_idp_logout/logout_confirm.html",
                               {"next": next_url, "cancel_url": cancel_url(request)}))
    signed_in_at_provider = bool(getattr(request, "idp_session", None))
    end_session = sign_out(request, next_url=next_url, quiet=as_json,
                           post_logout_redirect_uri=post_logout_redirect_uri(request, config))
    if end_session is None:
        profile = provider_class(config.provider)
        if signed_in_at_provider and profile.keeps_provider_session:
            if as_json:
                return with_clear_site_data(_landing(next_url, True, provider_session="kept"),
                                            config)
            # No end-session endpoint (Google): say that the provider's session stays.
            return with_clear_site_data(unframed(render(
                request, "django_idp_logout/logged_out_here.html",
                {"next": next_url, "provider_name": display_name(config)})), config)
        outcome: ProviderSession = "failed" if signed_in_at_provider else "none"
        if as_json:
            return with_clear_site_data(_landing(next_url, True, provider_session=outcome),
                                        config)
        # Signed out here only: the provider could not be asked (no end-session endpoint, or
        # it is unreachable), or the user signed in with a password.
        return with_clear_site_data(signed_out_response(
            request, next_url, provider_session=outcome, provider=config.name,
            cookies_cleared=clears_cookies(config)), config)
    if as_json:
        target = end_session_target(request, end_session)
        return with_clear_site_data(_landing(target, True), config,
                                    keep_cookies=target.startswith(app_reverse("logout")))
    return with_clear_site_data(end_session_response(request, end_session), config)


@login_not_required
@no_referrer
@never_cache
@require_GET
def logout_complete(request: HttpRequest) -> HttpResponse:
    """Where the provider sends the user back after its logout.

    A valid ``state`` leads to the page chosen at logout time. A missing, forged, expired or
    replayed one leads to ``POST_LOGOUT_REDIRECT_URL`` with a warning logged; nothing from the
    request is trusted, and the user stays signed out either way. The user is told which
    (:mod:`~django_idp_logout.logout_feedback`): signed out of the provider too only when the
    state checks out and the provider reported no ``error``.
    """
    config = get_config()
    state = request.GET.get("state", "")
    verified = complete_sign_out(state) if len(state) <= MAX_PARAM_LENGTH else None
    if request.user.is_authenticated:
        # A link to this page, or a late return after signing in again elsewhere: the user
        # is signed in, so "You are signed out" would be false. Nothing changes.
        logger.info("stage=logout logout return for a signed-in user; no message")
        return HttpResponseRedirect(verified.next_url if verified is not None
                                    else resolve_url(config.post_logout_redirect_url))
    if verified is None:
        # No state at all is what providers that return none do (Cognito, Auth0's legacy
        # logout): INFO. One that does not check out (forged, expired, reused): WARNING.
        logger.log(logging.WARNING if state else logging.INFO,
                   "stage=logout provider=%s logout return with a missing, unknown, expired "
                   "or reused state (%s characters); landing on POST_LOGOUT_REDIRECT_URL",
                   config.provider, len(state))
        # Nothing in this request is trusted: the provider is named only when there is one.
        return signed_out_response(
            request, resolve_url(config.post_logout_redirect_url),
            provider_session="unconfirmed",
            provider=None if uses_provider_list() else config.name)
    if "error" in request.GET:
        logger.warning("stage=logout provider=%s the provider reported error=%s",
                       verified.provider, sanitize(request.GET.get("error"), 64))
    if verified.quiet:  # a single-page app signed out: it shows its own feedback
        return HttpResponseRedirect(verified.next_url)
    return signed_out_response(
        request, verified.next_url,
        provider_session="failed" if "error" in request.GET else "ended",
        provider=verified.provider)


def cancel_url(request: HttpRequest) -> str:
    """Where "Cancel" on the confirmation page goes: the page the user came from (its
    ``Referer``, when it is on this site and not the logout page itself), else
    ``LOGIN_REDIRECT_URL``."""
    default = resolve_url(get_config().login_redirect_url)
    referer = request.headers.get("Referer", "")
    if urlsplit(referer).path == request.path:
        return default
    return safe_next_url(request, referer, default)


def clears_cookies(config: IdPConfig) -> bool:
    """``CLEAR_SITE_DATA`` deletes the site's cookies on the logout response."""
    return bool({"cookies", "*"} & set(config.clear_site_data))
