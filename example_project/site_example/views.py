"""A public home page and a protected page that shows who you are (claims, never tokens)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from django_idp_logout.conf import get_config
from django_idp_logout.providers import display_name


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
    claims = sorted(idp.claims.items()) if idp else []
    return render(request, "example/protected.html",
                  {"claims": claims, "idp": idp, "provider": signed_in_with(request)})
