"""What a browser or a script gets when its session needs the provider again: HTTP only.

* :func:`session_ended` (``session-ended/``): the page people land on when their session
  ended without their asking (idle, too old, refused by the provider), with "Sign in again".
* :func:`reauthentication_response`: the answer to a request whose session ended or whose
  token cannot be renewed: a 401 JSON body for XHR/fetch, a redirect for a page navigation,
  the page itself (401) for a POST — a form's data is never sent on through a redirect.
* :func:`silent_check_response`: a navigation sent through a ``prompt=none`` round trip.

The rules (when a session ends, when to check) are :mod:`django_idp_logout.flow.lifecycle`'s.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render, resolve_url
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .conf import chosen_provider, get_config, provider_names
from .errors import log_failure, new_reference, render_failure
from .exceptions import IdPLogoutError
from .flow.signin import begin_sign_in
from .http import add_query
from .middleware import is_json_view
from .view_helpers import app_reverse, callback_uri, login_not_required, no_store, safe_next_url

logger = logging.getLogger("django_idp_logout")

#: Reasons after which the session is over (the others leave the user signed in).
ENDED_REASONS = frozenset({"idle_timeout", "max_age", "refresh_refused", "id_token_rejected",
                           "subject_changed", "session_ended", "login_required",
                           "interaction_required", "consent_required",
                           "account_selection_required", "access_denied"})

_SIGNED_OUT = _("You have been signed out")
_SIGN_IN_AGAIN = _("Please sign in again")
RENEW_MESSAGE = _("Your sign-in needs to be renewed before you can continue. Nothing you sent "
                  "was saved: sign in again, then repeat it.")
MESSAGES = {
    "idle_timeout": _("You were signed out because you were inactive for a while."),
    "max_age": _("You were signed out because your session reached its maximum length."),
    "subject_changed": _("You were signed out because you are now signed in as someone else "
                         "at your identity provider."),
}
DEFAULT_MESSAGE = _("You were signed out because your session at your identity provider has "
                    "ended.")


def wants_json(request: HttpRequest) -> bool:
    """An XHR/fetch request (``X-Requested-With``, ``Accept: application/json``, or a fetch
    by ``Sec-Fetch-Mode``): it gets JSON, never a redirect to the provider."""
    accept = request.headers.get("Accept", "")
    fetch_mode = request.headers.get("Sec-Fetch-Mode")
    return (is_json_view(request) or "X-Requested-With" in request.headers
            or ("application/json" in accept and "text/html" not in accept)
            or (fetch_mode in {"cors", "same-origin", "no-cors"}
                and request.headers.get("Sec-Fetch-Dest", "empty") == "empty"))


def is_navigation(request: HttpRequest) -> bool:
    """A top-level GET navigation (not a frame, not a script): it may be redirected."""
    return (request.method in {"GET", "HEAD"} and not wants_json(request)
            and request.headers.get("Sec-Fetch-Mode", "navigate") == "navigate"
            and request.headers.get("Sec-Fetch-Dest", "document") == "document")


def login_url_for(request: HttpRequest, next_url: Any = None) -> str:
    """``login/`` for a script's 401: back to ``next_url`` if safe, else to the page that made
    the call (``Referer``), else ``LOGIN_REDIRECT_URL``."""
    default = resolve_url(get_config().login_redirect_url)
    target = safe_next_url(request, next_url, "") or safe_next_url(
        request, request.headers.get("Referer"), default)
    return _login_url(target)


def _login_url(next_url: str) -> str:
    """``login/`` back to ``next_url``; with several providers, the session's own provider
    when known (a new sign-in there), else the chooser."""
    provider = chosen_provider() if len(provider_names()) > 1 else None
    named = {"provider": provider} if provider else {}
    return add_query(app_reverse("login"), {**named, "next": next_url})


def reauthentication_response(request: HttpRequest, reason: str) -> HttpResponse:
    """The answer when this request cannot go on without a new sign-in (see the module)."""
    next_url = request.get_full_path()
    if wants_json(request):
        return no_store(JsonResponse(
            {"error": "reauthentication_required", "reason": reason,
             "authenticated": bool(request.user.is_authenticated),
             "login_url": login_url_for(request),
             "signed_out": reason in ENDED_REASONS}, status=401))
    if request.method not in {"GET", "HEAD"}:
        # Not redirected: the browser would drop the form's data on the way.
        form_page = safe_next_url(request, request.headers.get("Referer"), "") or None
        return _page(request, reason, next_url=form_page, status=401)
    if reason in ENDED_REASONS:
        return HttpResponseRedirect(add_query(app_reverse("session_ended"),
                                              {"reason": reason, "next": next_url}))
    return HttpResponseRedirect(_login_url(next_url))


def failure_response(request: HttpRequest, exc: IdPLogoutError) -> HttpResponse:
    """The provider failed while a signed-in user's token was being renewed: the error page
    (or, for XHR/fetch, ``{"error": <code>, "reference": …}``) with the error's 5xx status.
    The session goes on."""
    if wants_json(request):
        reference = new_reference()
        log_failure(exc, reference)
        return no_store(JsonResponse({"error": exc.code, "reference": reference},
                                     status=exc.status))
    return render_failure(request, exc, sender=failure_response, sign_in=False)


def silent_check_response(request: HttpRequest) -> HttpResponse | None:
    """Redirect this navigation through ``prompt=none``; ``None`` (go on to the view) when
    the provider cannot be reached: its outage never signs anybody out."""
    from .flow.lifecycle import postpone

    config = get_config()
    # The same rule as login/'s next: a path like //other.example/ must not become a
    # redirect to another site when the check comes back.
    here = safe_next_url(request, request.get_full_path(), resolve_url(config.login_redirect_url))
    try:
        url = begin_sign_in(request, next_url=here, redirect_uri=callback_uri(request, config),
                            silent=True)
    except IdPLogoutError as exc:
        log_failure(exc, new_reference())
        postpone(request)
        return None
    return HttpResponseRedirect(url)


def _page(request: HttpRequest, reason: str, *, next_url: str | None,
          status: int = 200) -> HttpResponse:
    login = _login_url(next_url) if next_url else app_reverse("login")
    ended = reason in ENDED_REASONS or not reason
    context = {"title": _SIGNED_OUT if ended else _SIGN_IN_AGAIN,
               "message": MESSAGES.get(reason, DEFAULT_MESSAGE) if ended else RENEW_MESSAGE,
               "reason": reason, "login_url": login}
    return no_store(render(request, "django_idp_logout/session_ended.html", context,
                           status=status))


@login_not_required
@never_cache
@require_GET
def session_ended(request: HttpRequest) -> HttpResponse:
    """The page after a session ended on its own: why (``?reason=``, one of a fixed list of
    messages) and a link to sign in again that returns to ``?next=`` (if safe)."""
    reason = request.GET.get("reason", "")
    next_url = safe_next_url(request, request.GET.get("next"),
                             resolve_url(get_config().login_redirect_url))
    return _page(request, reason if reason in ENDED_REASONS else "", next_url=next_url)
