"""A public home page, a protected page that shows who you are (claims, never tokens), and a
single-page app with the demo API it calls through the backend-for-frontend proxy."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext

from django_idp_logout.conf import get_config
from django_idp_logout.decorators import bearer_token_required
from django_idp_logout.providers import display_name

from .claims import claim_rows


def signed_in_with(request: HttpRequest) -> str | None:
    """The name users know the session's provider by (``DISPLAY_NAME``), ``None`` when the
    session did not sign in through one. ``idp_session.provider`` is its key in
    ``IDP_LOGOUT["PROVIDERS"]``."""
    idp = request.idp_session  # type: ignore[attr-defined]
    return display_name(get_config(idp.provider)) if idp else None


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "example/home.html", {"provider": signed_in_with(request)})


@login_required
def protected(request: HttpRequest) -> HttpResponse:
    idp = request.idp_session  # type: ignore[attr-defined]
    claims = claim_rows(idp.claims) if idp else []
    return render(request, "example/protected.html",
                  {"claims": claims, "idp": idp, "provider": signed_in_with(request)})


def spa(request: HttpRequest) -> HttpResponse:
    """The single-page app: a static shell and plain JavaScript (``static/example/spa.js``)
    that talks to ``oidc/session/``, ``oidc/api/demo/…`` and ``oidc/logout/``. It never holds
    a token; docs/bff.rst explains the calls."""
    return render(request, "example/spa.html", {"strings": spa_strings()})


def spa_strings() -> dict[str, str]:
    """What ``spa.js`` writes on the page, in the request's language: the script has no
    catalog of its own, so the page hands it these (as JSON data, never as code, which a strict
    Content-Security-Policy allows). ``%(…)s`` is replaced by the script."""
    return {
        "signedOut": gettext("You are not signed in."),
        "signInWith": gettext("Sign in with %(name)s"),
        "signedInAs": gettext("You are signed in as %(user)s."),
        "signedInAsWith": gettext("You are signed in as %(user)s with %(provider)s."),
        "sessionEnds": gettext("session ends"),
        "sessionEnded": gettext("Your session has ended: sign in again."),
    }


@bearer_token_required  # also exempts the view from CSRF: a bearer token is no cookie
def demo_api(request: HttpRequest, path: str = "") -> JsonResponse:
    """The API the single-page app calls through the proxy (``BFF_APIS["demo"]``). It sees
    only the access token the proxy adds, checked by django-idp-logout (against the
    provider's keys for a JWT; by introspection for the development provider's opaque
    tokens). It answers who called, never the token itself."""
    token = request.auth  # type: ignore[attr-defined]
    return JsonResponse({
        "message": f"Hello {getattr(request.user, 'email', '') or 'client'}, from the demo API.",
        "method": request.method, "path": path, "query": request.GET.dict(),
        "token": {"provider": token.provider, "client_id": token.client_id,
                  "issued_at": token.claims.get("iat"), "expires_at": token.expires_at,
                  "checked_by": "introspection" if token.introspected else "signature"},
    })
