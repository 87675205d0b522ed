"""Sign-in views: ``login`` starts the authorization code flow, ``callback`` finishes it.

HTTP adapters around :mod:`django_idp_logout.flow`: they read the request, call the flow and
redirect or render what comes back. Every expected failure (a provider error, a replayed
``state``, a token that does not validate, a provider that is down) is rendered by
:func:`~django_idp_logout.errors.render_failure` as a page with a 4xx/5xx status. A failure
never signs anybody in. The sign-out and provider-initiated logout views live in
:mod:`~django_idp_logout.logout_views` and :mod:`~django_idp_logout.channel_views`.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from .channel_views import backchannel_logout, frontchannel_logout
from .conf import get_config, provider_names, uses_provider_list, using_provider
from .errors import render_failure
from .exceptions import IdPLogoutError
from .flow import begin_sign_in, complete_sign_in
from .http import add_query
from .logout_views import logout, logout_complete
from .providers import display_name
from .state import PendingAttempts
from .view_helpers import (
    app_reverse,
    callback_uri,
    login_not_required,
    no_referrer,
    require_client,
    require_middleware,
    safe_next_url,
    unframed,
)

__all__ = ["backchannel_logout", "callback", "frontchannel_logout", "login", "logout",
           "logout_complete", "safe_next_url"]


def _retry_url(next_url: str | None, provider: str | None = None) -> str:
    """``login/`` again, with the same ``next`` and (several providers) the same provider."""
    named = provider if provider is not None and len(provider_names()) > 1 else None
    params = {k: v for k, v in (("provider", named), ("next", next_url)) if v}
    login_url = app_reverse("login")
    return add_query(login_url, params) if params else login_url


class UnknownProvider(IdPLogoutError):
    """``login/?provider=`` names no configured provider (an old link, a typo)."""

    code = "unknown_provider"
    status = 400
    stage = "login"


@login_not_required
@no_referrer
@never_cache
@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    """Start a sign-in: new attempt (state, nonce, PKCE) in the session, 302 to the provider.

    ``provider`` (GET or POST) picks one of several ``PROVIDERS``; without it, a site with
    several shows the chooser page (``django_idp_logout/choose_provider.html``)."""
    # The flat form ignores ``provider``, as it did before ``PROVIDERS`` existed.
    name = ((request.POST.get("provider") or request.GET.get("provider") or None)
            if uses_provider_list() else None)
    names = provider_names()
    if name is not None and name not in names:
        next_url = safe_next_url(request, request.POST.get("next") or request.GET.get("next"),
                                 resolve_url(get_config().login_redirect_url))
        return render_failure(request, UnknownProvider("no such provider in PROVIDERS"),
                              sender=login, retry_url=_retry_url(next_url))
    if name is None and len(names) > 1:
        return choose_provider(request)
    with using_provider(name or names[0]):
        return _login(request)


def choose_provider(request: HttpRequest) -> HttpResponse:
    """The chooser: one link to ``login/?provider=<name>`` per provider, keeping ``next``."""
    next_url = safe_next_url(request, request.POST.get("next") or request.GET.get("next"),
                             resolve_url(get_config().login_redirect_url))
    providers = [{"name": name, "display_name": display_name(get_config(name)),
                  "url": add_query(app_reverse("login"), {"provider": name, "next": next_url})}
                 for name in provider_names()]
    return unframed(render(request, "django_idp_logout/choose_provider.html",
                           {"providers": providers, "next": next_url}))


def _login(request: HttpRequest) -> HttpResponse:
    config = get_config()
    require_client(config)
    require_middleware(request)
    next_url = safe_next_url(request, request.POST.get("next") or request.GET.get("next"),
                             resolve_url(config.login_redirect_url))
    try:
        url = begin_sign_in(request, next_url=next_url, redirect_uri=callback_uri(request, config),
                            interactive=request.GET.get("interactive") == "1")
    except IdPLogoutError as exc:
        return render_failure(request, exc, sender=login,
                              retry_url=_retry_url(next_url, config.name))
    return HttpResponseRedirect(url)


@login_not_required
@no_referrer
@never_cache
@require_GET
def callback(request: HttpRequest, provider: str | None = None) -> HttpResponse:
    """Finish a sign-in. See ``docs/login.rst`` for each step and why it is there.

    ``callback/<provider>/`` (several ``PROVIDERS``) completes only attempts sent to that
    provider; ``callback/`` those of the flat form's provider, or of a provider whose
    ``REDIRECT_URI`` the site routes here itself."""
    if provider is not None and provider not in provider_names():
        raise Http404("no such provider")
    name, expected = _callback_provider(request, provider)
    with using_provider(name):
        return _callback(request, expected)


def _callback_provider(request: HttpRequest, provider: str | None) -> tuple[str, str]:
    """The provider to complete with, and the one the attempt must have been sent to."""
    if provider is not None:
        return provider, provider
    if not uses_provider_list():
        return provider_names()[0], provider_names()[0]
    # ``callback/`` with several providers: the attempt's provider, if its REDIRECT_URI is
    # set (the site registered one URI and routes it here); else nobody's.
    state = request.GET.get("state", "")
    name = PendingAttempts(request).provider_of(state) if state else None
    if name in provider_names() and get_config(name).redirect_uri:
        return name, name
    return provider_names()[0], ""


def _callback(request: HttpRequest, expected: str) -> HttpResponse:
    config = get_config()
    require_client(config)
    require_middleware(request)
    outcome = complete_sign_in(request, request.GET, redirect_uri=callback_uri(request, config),
                               provider=expected)
    if outcome.error is not None:
        return render_failure(request, outcome.error, sender=callback,
                              retry_url=_retry_url(outcome.next_url,
                                                   outcome.provider or config.name))
    if outcome.ended is not None:  # a session check: the provider no longer vouches
        return HttpResponseRedirect(add_query(app_reverse("session_ended"), {
            "reason": outcome.ended, "next": outcome.next_url or ""}))
    return HttpResponseRedirect(outcome.redirect_to or resolve_url(config.login_redirect_url))
