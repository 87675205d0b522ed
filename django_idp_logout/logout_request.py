"""The end-session request in the provider's dialect, as an HTTP response for the browser.

The flow decides the request (:class:`~django_idp_logout.providers.EndSessionRequest`: the
profile's parameters and method); this module only turns it into a 302 (GET binding) or a
page whose form the browser submits (POST binding, RP-Initiated Logout 1.0 §2). The form
needs no inline script, so a strict Content-Security-Policy cannot break it: an external
script submits it, and without script a button does.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from .providers import EndSessionRequest
from .view_helpers import no_store

AUTOSUBMIT_SCRIPT = "django_idp_logout/autosubmit.js"


def _script_url() -> str | None:
    """The auto-submit script's URL, or ``None`` when static files cannot serve it."""
    if not getattr(settings, "STATIC_URL", None):
        return None
    from django.templatetags.static import static

    try:
        return static(AUTOSUBMIT_SCRIPT)
    except ValueError:  # a manifest storage before collectstatic: the button still works
        return None


def end_session_response(request: HttpRequest, end_session: EndSessionRequest
                         ) -> HttpResponse:
    if end_session.method == "GET":
        return HttpResponseRedirect(end_session.url)
    response = render(request, "django_idp_logout/logout_post.html", {
        "action": end_session.endpoint, "params": sorted(end_session.params.items()),
        "script_url": _script_url(),
    })
    response["Referrer-Policy"] = "no-referrer"
    response["Content-Security-Policy"] = "frame-ancestors 'none'"
    return no_store(response)
