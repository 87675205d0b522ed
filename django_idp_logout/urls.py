"""``path("oidc/", include("django_idp_logout.urls"))`` — names in the ``idp_logout`` namespace.

When the app is missing from ``INSTALLED_APPS`` its system checks are never registered and
importing the views would fail on the models with a generic traceback. The URLconf is imported
by Django's own URL check, so in that case it serves a single pattern whose ``check()``
reports the mistake as a check message with its fix.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.checks import CheckMessage, Error
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.urls.resolvers import RoutePattern

from .conf import NOT_INSTALLED_ID, NOT_INSTALLED_MESSAGE, require_installed
from .docs_links import check_url

app_name = "idp_logout"


class _NotInstalled(URLPattern):
    """Stands in for the app's URLs when it is not installed; fails the URL system check."""

    def check(self) -> list[CheckMessage]:
        return [Error(NOT_INSTALLED_MESSAGE.split(": ", 1)[1],
                      hint="Add 'django_idp_logout' to INSTALLED_APPS, then run migrate. "
                           f"See {check_url(NOT_INSTALLED_ID)}.",
                      id=NOT_INSTALLED_ID)]


def _not_installed(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    require_installed()  # raises ConfigurationError with the fix
    raise AssertionError("unreachable")


if apps.is_installed("django_idp_logout"):
    from . import bff_views, session_views, views

    urlpatterns = [
        path("login/", views.login, name="login"),
        path("callback/", views.callback, name="callback"),
        # Several PROVIDERS: each has its own redirect URI (mix-up defence, RFC 9700 §4.4).
        path("callback/<slug:provider>/", views.callback, name="callback"),
        path("logout/", views.logout, name="logout"),
        path("logout/complete/", views.logout_complete, name="logout_complete"),
        path("backchannel-logout/", views.backchannel_logout, name="backchannel_logout"),
        path("frontchannel-logout/", views.frontchannel_logout, name="frontchannel_logout"),
        path("session-ended/", session_views.session_ended, name="session_ended"),
        # A single-page app's backend for frontend (docs/bff.rst).
        path("session/", bff_views.session, name="session"),
        path("api/<slug:name>/", bff_views.api, name="api"),
        path("api/<slug:name>/<path:path>", bff_views.api, name="api"),
    ]
else:
    urlpatterns = [_NotInstalled(RoutePattern(""), _not_installed, name="not_installed")]
