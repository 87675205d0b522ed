"""A public home page and a protected page that shows who you are (claims, never tokens)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "example/home.html")


@login_required
def protected(request: HttpRequest) -> HttpResponse:
    idp = request.idp_session  # type: ignore[attr-defined]
    claims = sorted(idp.claims.items()) if idp else []
    return render(request, "example/protected.html", {"claims": claims, "idp": idp})
