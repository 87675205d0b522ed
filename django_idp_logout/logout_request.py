"""The end-session request in the provider's dialect, as an HTTP response for the browser.

The flow decides the request (:class:`~django_idp_logout.providers.EndSessionRequest`: the
profile's parameters and method); this module only turns it into a 302 (GET binding) or a
page whose form the browser submits (POST binding, RP-Initiated Logout 1.0 §2). The form
needs no inline script, so a strict Content-Security-Policy cannot break it: an external
script submits it, and without script a button does.

A single-page app signing out gets JSON instead (:func:`end_session_target`): the URL to
navigate to. A script must never see a token, so when the request carries one
(``id_token_hint``, ``access_token_hint``) or needs the POST binding, that URL is a
single-use handoff here (``logout/?continue=<key>``, :func:`handoff_response`) that sends
the browser on — only the browser that signed out: the key is also in its new (signed-out)
session, so a key passed to somebody else leads nowhere.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from .http import add_query
from .providers import EndSessionRequest
from .state import create_logout_handoff, take_logout_handoff
from .view_helpers import app_reverse, asset_url, no_store, unframed

logger = logging.getLogger("django_idp_logout")

AUTOSUBMIT_SCRIPT = "django_idp_logout/autosubmit.js"
#: End-session parameters that are tokens: never given to a script.
TOKEN_PARAMS = frozenset({"id_token_hint", "access_token_hint"})
#: Where the signed-out session keeps its handoff key.
HANDOFF_SESSION_KEY = "_idp_logout_handoff"


def end_session_response(request: HttpRequest, end_session: EndSessionRequest
                         ) -> HttpResponse:
    if end_session.method == "GET":
        return HttpResponseRedirect(end_session.url)
    response = render(request, "django_idp_logout/logout_post.html", {
        "action": end_session.endpoint, "params": sorted(end_session.params.items()),
        "script_url": asset_url(AUTOSUBMIT_SCRIPT),
    })
    response["Referrer-Policy"] = "no-referrer"
    return no_store(unframed(response))


def end_session_target(request: HttpRequest, end_session: EndSessionRequest) -> str:
    """The URL a single-page app navigates to (see the module). Call it after the local
    logout: the handoff key goes into the new session."""
    if end_session.method == "GET" and not TOKEN_PARAMS & set(end_session.params):
        return end_session.url
    try:
        key = create_logout_handoff({"method": end_session.method,
                                     "endpoint": end_session.endpoint,
                                     "params": dict(end_session.params)})
    except Exception:  # the store down: the provider's page without the token hints
        logger.exception("stage=logout could not keep the end-session request for the "
                         "single-page app; sending it without token hints")
        return add_query(end_session.endpoint, {k: v for k, v in end_session.params.items()
                                                if k not in TOKEN_PARAMS})
    request.session[HANDOFF_SESSION_KEY] = key
    return add_query(app_reverse("logout"), {"continue": key})


def handoff_response(request: HttpRequest, key: str, fallback: str) -> HttpResponse:
    """``logout/?continue=<key>``: on to the end-session request kept for ``key`` (once), or
    to ``fallback`` when it is unknown, expired, already used or another browser's."""
    mine = request.session.pop(HANDOFF_SESSION_KEY, None)
    try:
        kept: dict[str, Any] | None = take_logout_handoff(key) if (
            isinstance(mine, str) and hmac.compare_digest(mine.encode(), key.encode())) else None
    except Exception:
        logger.exception("stage=logout could not read a kept end-session request")
        kept = None
    if kept is None:
        logger.info("stage=logout a logout handoff that is unknown, expired or used; "
                    "landing on POST_LOGOUT_REDIRECT_URL")
        return HttpResponseRedirect(fallback)
    return end_session_response(request, EndSessionRequest(
        method=str(kept["method"]), endpoint=str(kept["endpoint"]),
        params={str(k): str(v) for k, v in kept["params"].items()}))
