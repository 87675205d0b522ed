"""Checks of how the app is wired into the site: authentication backend, middleware,
installed apps, session engine and URLconf."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string

from .common import check_id
from .links import linked

BACKEND = "django_idp_logout.backends.OIDCBackend"
MIDDLEWARE = "django_idp_logout.middleware.IdPSessionMiddleware"
SESSION_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"
COOKIE_SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"


def _engine_uses_session_table(engine: str) -> bool:
    """Does ``SESSION_ENGINE`` keep sessions in ``django.contrib.sessions``' table?"""
    from django.contrib.sessions.backends.db import SessionStore as DBStore  # no model import

    try:
        store = import_string(f"{engine}.SessionStore")
    except ImportError:
        return False
    return isinstance(store, type) and issubclass(store, DBStore)


@linked
def check_wiring(app_configs: Sequence[AppConfig] | None = None,
                 **kwargs: Any) -> list[CheckMessage]:
    """Backend, middleware and installed apps."""
    errors: list[CheckMessage] = []
    backends = list(getattr(settings, "AUTHENTICATION_BACKENDS", []))
    from ..backends import OIDCBackend

    def is_ours(path: str) -> bool:
        try:
            cls = import_string(path)
        except ImportError:
            return False
        return isinstance(cls, type) and issubclass(cls, OIDCBackend)

    if not any(is_ours(b) for b in backends):
        errors.append(Error(f"{BACKEND} is not in AUTHENTICATION_BACKENDS.",
                            hint=f"Add {BACKEND!r} (or a subclass) to AUTHENTICATION_BACKENDS.",
                            id=check_id("E007")))
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    for needed in (SESSION_MIDDLEWARE, AUTH_MIDDLEWARE):
        if needed not in middleware:
            errors.append(Error(f"{needed} is not in MIDDLEWARE.",
                                hint="Sign-in keeps its state in the session and logout needs "
                                     f"request.user: add {needed!r} to MIDDLEWARE.",
                                id=check_id("E008")))
    if MIDDLEWARE not in middleware:
        errors.append(Error(f"{MIDDLEWARE} is not in MIDDLEWARE.",
                            hint="It keeps the back-channel logout mapping on the session's "
                                 "current key and ends revoked cookie sessions: add it after "
                                 "AuthenticationMiddleware.", id=check_id("E009")))
    else:
        before = [m for m in (SESSION_MIDDLEWARE, AUTH_MIDDLEWARE)
                  if m in middleware and middleware.index(MIDDLEWARE) < middleware.index(m)]
        if before:
            errors.append(Error(f"{MIDDLEWARE} must come after {' and '.join(before)}.",
                                hint="Move it below them in MIDDLEWARE.", id=check_id("E021")))
    from django.apps import apps

    engine = str(getattr(settings, "SESSION_ENGINE", ""))
    if not apps.is_installed("django.contrib.auth"):
        errors.append(Error("django.contrib.auth is not in INSTALLED_APPS.",
                            hint="Users and their provider identities live in its models: add "
                                 "'django.contrib.auth' (and 'django.contrib.contenttypes').",
                            id=check_id("E020")))
    if not apps.is_installed("django.contrib.sessions") and _engine_uses_session_table(engine):
        errors.append(Error(f"django.contrib.sessions is not in INSTALLED_APPS, but "
                            f"SESSION_ENGINE {engine!r} stores sessions in its table.",
                            hint="Add 'django.contrib.sessions' to INSTALLED_APPS and run "
                                 "migrate (the cache, file and signed_cookies engines do "
                                 "without it).", id=check_id("E020")))
    return errors


def check_session_engine() -> list[CheckMessage]:
    """W006 (run with the settings checks, tag ``security``)."""
    if getattr(settings, "SESSION_ENGINE", "") != COOKIE_SESSION_ENGINE:
        return []
    return [Warning(
        "With the signed_cookies session engine the ID token and its claims travel in the "
        "session cookie (signed, not encrypted), and a logout from another device or from "
        "the provider takes effect only at the session's next request.",
        hint="Use a server-side session engine (db, cache, cached_db, file), unless the "
             "site must keep no session state.",
        id=check_id("W006"))]


@linked
def check_urls(app_configs: Sequence[AppConfig] | None = None,
               **kwargs: Any) -> list[CheckMessage]:
    """The URLs are included under the ``idp_logout`` namespace."""
    try:
        reverse("idp_logout:callback")
    except NoReverseMatch:
        return [Error("django_idp_logout.urls is not included in the URLconf.",
                      hint='Add path("oidc/", include("django_idp_logout.urls")) to urlpatterns.',
                      id=check_id("E010"))]
    return []
