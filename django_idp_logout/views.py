"""Sign-in views: ``login`` starts the authorization code flow, ``callback`` finishes it.

HTTP adapters around :mod:`django_idp_logout.flow`: they read the request, call the flow and
redirect or render what comes back. Every expected failure (a provider error, a replayed
``state``, a token that does not validate, a provider that is down) is rendered by
:func:`~django_idp_logout.errors.render_failure` as a page with a 4xx/5xx status. A failure
never signs anybody in. The sign-out and provider-initiated logout views live in
:mod:`~django_idp_logout.logout_views` and :mod:`~django_idp_logout.channel_views`.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from .channel_views import backchannel_logout, frontchannel_logout
from .conf import get_config
from .errors import render_failure
from .exceptions import IdPLogoutError
from .flow import begin_sign_in, complete_sign_in
from .http import add_query
from .logout_views import logout, logout_complete
from .view_helpers import (
    app_reverse,
    callback_uri,
    login_not_required,
    no_referrer,
    require_client,
    require_middleware,
    safe_next_url,
)

__all__ = ["backchannel_logout", "callback", "frontchannel_logout", "login", "logout",
           "logout_complete", "safe_next_url"]


def _retry_url(next_url: str | None) -> str:
    login_url = app_reverse("login")
    return add_query(login_url, {"next": next_url}) if next_url else login_url


@login_not_required
@no_referrer
@never_cache
@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    """Start a sign-in: new attempt (state, nonce, PKCE) in the session, 302 to the provider."""
    config = get_config()
    require_client(config)
    require_middleware(request)
    next_url = safe_next_url(request, request.POST.get("next") or request.GET.get("next"),
                             resolve_url(config.login_redirect_url))
    try:
        url = begin_sign_in(request, next_url=next_url, redirect_uri=callback_uri(request, config),
                            interactive=request.GET.get("interactive") == "1")
    except IdPLogoutError as exc:
        return render_failure(request, exc, sender=login, retry_url=_retry_url(next_url))
    return HttpResponseRedirect(url)


@login_not_required
@no_referrer
@never_cache
@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    """Finish a sign-in. See ``docs/login.rst`` for each step and why it is there."""
    config = get_config()
    require_client(config)
    require_middleware(request)
    outcome = complete_sign_in(request, request.GET, redirect_uri=callback_uri(request, config))
    if outcome.error is not None:
        return render_failure(request, outcome.error, sender=callback,
                              retry_url=_retry_url(outcome.next_url))
    if outcome.ended is not None:  # a session check: the provider no longer vouches
        return HttpResponseRedirect(add_query(app_reverse("session_ended"), {
            "reason": outcome.ended, "next": outcome.next_url or ""}))
    return HttpResponseRedirect(outcome.redirect_to or resolve_url(config.login_redirect_url))
