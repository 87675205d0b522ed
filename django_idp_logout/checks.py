"""System checks ``django_idp_logout.E0xx`` / ``W0xx``. They never use the network.

The ids are stable and listed, with hints, in ``docs/checks.rst``; a test asserts the list.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.urls import NoReverseMatch, reverse

from .conf import (
    DEFAULTS,
    ENDPOINT_KEYS,
    HMAC_ALGORITHMS,
    KEY_TYPES,
    OIDC_FALLBACKS,
    OIDC_IGNORED,
    SUPPORTED_ALGORITHMS,
    TOKEN_AUTH_METHODS,
    effective_settings,
    parse_scopes,
    user_settings,
)
from .discovery import is_secure_url

BACKEND = "django_idp_logout.backends.OIDCBackend"
MIDDLEWARE = "django_idp_logout.middleware.IdPSessionMiddleware"
SESSION_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"

#: Every check id this module can emit (asserted by the test suite and docs).
CHECK_IDS = (
    "E001", "E002", "E003", "E004", "E005", "E006", "E007", "E008", "E009", "E010", "E011",
    "E012", "E013", "E014", "W001", "W002", "W003", "W004", "W005", "W006", "W007", "E015",
)


def _id(code: str) -> str:
    return f"django_idp_logout.{code}"


def _is_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


@register(Tags.security, deploy=False)
def check_settings(app_configs: Sequence[AppConfig] | None = None,
                   **kwargs: Any) -> list[CheckMessage]:
    """``IDP_LOGOUT`` itself: presence, keys, types, values."""
    raw = getattr(settings, "IDP_LOGOUT", None)
    if not isinstance(raw, dict):
        return [Error("IDP_LOGOUT is missing or is not a dict.",
                      hint='Add IDP_LOGOUT = {"ISSUER": "https://…", "CLIENT_ID": "…"} '
                           "to your settings.", id=_id("E001"))]
    errors: list[CheckMessage] = []
    ours = user_settings()
    for key in ours:
        if key not in DEFAULTS:
            close = difflib.get_close_matches(str(key).upper(), list(DEFAULTS), n=1)
            hint = (f"Did you mean {close[0]!r}?" if close
                    else f"Known keys: {', '.join(sorted(DEFAULTS))}.")
            errors.append(Error(f"IDP_LOGOUT has an unknown key {key!r}.", hint=hint,
                                id=_id("E003")))
    merged = effective_settings()
    for key in ("ISSUER", "CLIENT_ID"):
        if not merged.get(key):
            errors.append(Error(f"IDP_LOGOUT[{key!r}] is required.",
                                hint="See the configuration reference in the docs.",
                                id=_id("E002")))
    for key, types in KEY_TYPES.items():
        value = merged.get(key)
        if (value is not None and not isinstance(value, types)) or (
            isinstance(value, bool) and bool not in types
        ):
            expected = " or ".join(t.__name__ for t in types if t is not type(None))
            errors.append(Error(f"IDP_LOGOUT[{key!r}] must be {expected}, "
                                f"not {type(value).__name__}.", id=_id("E004")))
    if any(e.id == _id("E004") for e in errors):
        return errors
    errors += _check_provider(merged)
    errors += _check_urls(merged)
    errors += _check_algorithms(merged)
    errors += _check_client_auth(merged)
    errors += _check_cache(merged)
    errors += _check_numbers(merged)
    errors += _check_mozilla_settings(ours)
    errors += _check_logout(merged)
    return errors


CLEAR_SITE_DATA_VALUES = frozenset({"cache", "cookies", "storage", "executionContexts",
                                    "clientHints", "prefetchCache", "prerenderCache", "*"})


def _check_logout(merged: dict[str, Any]) -> list[CheckMessage]:
    from .conf import get_config
    from .discovery import ProviderMetadata
    from .exceptions import ConfigurationError
    from .providers import get_provider

    messages: list[CheckMessage] = []
    unknown = [v for v in merged["CLEAR_SITE_DATA"] if v not in CLEAR_SITE_DATA_VALUES]
    if unknown:
        messages.append(Error(f"IDP_LOGOUT['CLEAR_SITE_DATA'] has unknown values {unknown!r}.",
                              hint=f"Use some of {', '.join(sorted(CLEAR_SITE_DATA_VALUES))} "
                                   "(without quotes), or () to send no header.",
                              id=_id("E015")))
    if not merged["USE_DISCOVERY"]:
        try:
            provider = get_provider(get_config())
        except ConfigurationError:
            return messages  # reported by E005
        known = ProviderMetadata({"issuer": merged["ISSUER"], **merged["ENDPOINTS"]})
        if provider.end_session_endpoint(known) is None:
            messages.append(Warning(
                "The provider has no end-session endpoint: logout will end the local session "
                "only, and the next sign-in may happen silently at the provider.",
                hint="Add ENDPOINTS['end_session_endpoint'] if the provider has one.",
                id=_id("W007")))
    return messages


def _check_provider(merged: dict[str, Any]) -> list[CheckMessage]:
    from .exceptions import ConfigurationError
    from .providers import REGISTRY, provider_class

    try:
        provider_class(merged["PROVIDER"])
    except ConfigurationError as exc:
        return [Error(str(exc), hint=f"Use one of {', '.join(sorted(REGISTRY))}, or the dotted "
                                     "path of a django_idp_logout.providers.Provider subclass.",
                      id=_id("E005"))]
    return []


def _check_urls(merged: dict[str, Any]) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    issuer = merged.get("ISSUER")
    if issuer and not _is_url(issuer):
        errors.append(Error(f"IDP_LOGOUT['ISSUER'] {issuer!r} is not an http(s) URL.",
                            id=_id("E006")))
    elif issuer and not is_secure_url(issuer):
        errors.append(Error(
            f"IDP_LOGOUT['ISSUER'] {issuer!r} uses plain http outside loopback.",
            hint="Tokens and codes would cross the network unencrypted: use https.",
            id=_id("E006")))
    endpoints = merged.get("ENDPOINTS") or {}
    for name, url in endpoints.items():
        if name not in ENDPOINT_KEYS:
            close = difflib.get_close_matches(str(name), ENDPOINT_KEYS, n=1)
            errors.append(Error(f"IDP_LOGOUT['ENDPOINTS'] has an unknown key {name!r}.",
                                hint=f"Did you mean {close[0]!r}?" if close else
                                f"Known keys: {', '.join(ENDPOINT_KEYS)}.", id=_id("E003")))
        elif not _is_url(url) or not is_secure_url(url):
            errors.append(Warning(f"IDP_LOGOUT['ENDPOINTS'][{name!r}] is not an https URL "
                                  "(plain http is accepted only on loopback); it is ignored.",
                                  id=_id("W004")))
    if not merged.get("USE_DISCOVERY"):
        missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri")
                   if not endpoints.get(k)]
        if missing:
            errors.append(Error(
                f"USE_DISCOVERY is off but ENDPOINTS lacks {', '.join(missing)}.",
                hint="Give every endpoint explicitly, or turn discovery back on.",
                id=_id("E013")))
    return errors


def _check_algorithms(merged: dict[str, Any]) -> list[CheckMessage]:
    algorithms = list(merged["ALGORITHMS"])
    errors: list[CheckMessage] = []
    unknown = [a for a in algorithms if a not in SUPPORTED_ALGORITHMS]
    if unknown or not algorithms:
        errors.append(Error(
            f"IDP_LOGOUT['ALGORITHMS'] has unsupported values {unknown!r}" if unknown
            else "IDP_LOGOUT['ALGORITHMS'] is empty.",
            hint=f"Supported: {', '.join(sorted(SUPPORTED_ALGORITHMS))}. 'none' is never "
                 "accepted.", id=_id("E011")))
    if set(algorithms) & HMAC_ALGORITHMS and not merged.get("CLIENT_SECRET"):
        errors.append(Error("HMAC algorithms in ALGORITHMS need a CLIENT_SECRET.",
                            hint="Remove HS256/384/512, or configure the client secret.",
                            id=_id("E011")))
    return errors


def _check_client_auth(merged: dict[str, Any]) -> list[CheckMessage]:
    method = merged.get("TOKEN_AUTH_METHOD")
    if method is None:
        return []
    if method not in TOKEN_AUTH_METHODS:
        return [Error(f"IDP_LOGOUT['TOKEN_AUTH_METHOD'] {method!r} is not supported.",
                      hint=f"Use one of {', '.join(TOKEN_AUTH_METHODS)}, or leave it unset.",
                      id=_id("E012"))]
    if method != "none" and not merged.get("CLIENT_SECRET"):
        return [Error(f"TOKEN_AUTH_METHOD {method!r} needs a CLIENT_SECRET.",
                      hint="Public clients use 'none' (PKCE only).", id=_id("E012"))]
    return []


def _check_cache(merged: dict[str, Any]) -> list[CheckMessage]:
    alias = merged["CACHE_ALIAS"]
    caches = getattr(settings, "CACHES", {})
    if alias not in caches:
        return [Error(f"IDP_LOGOUT['CACHE_ALIAS'] {alias!r} is not in CACHES.",
                      id=_id("E014"))]
    backend = str(caches[alias].get("BACKEND", ""))
    if backend.endswith("DummyCache"):
        return [Error(
            "The cache used by django_idp_logout is a DummyCache: discovery and keys would be "
            "fetched on every sign-in and single-use state could not be enforced.",
            hint="Point CACHE_ALIAS at a real cache (Redis, Memcached, database, LocMem).",
            id=_id("E014"))]
    if backend.endswith("FileBasedCache"):
        return [Warning("FileBasedCache.add() is not atomic: two concurrent callbacks with the "
                        "same state could both be accepted.",
                        hint="Use Redis, Memcached or the database cache.", id=_id("W003"))]
    if backend.endswith("LocMemCache") and not settings.DEBUG:
        return [Warning("LocMemCache is per process: with several server processes, single-use "
                        "state is enforced per process only and keys are fetched by each.",
                        hint="Use Redis, Memcached or the database cache in production.",
                        id=_id("W003"))]
    return []


def _check_numbers(merged: dict[str, Any]) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for key in ("TIMEOUT", "LOGIN_ATTEMPT_TTL", "MAX_PENDING_LOGINS", "DISCOVERY_TTL",
                "JWKS_TTL", "JWKS_REFETCH_INTERVAL", "LOGOUT_STATE_TTL", "LOGOUT_TOKEN_MAX_AGE"):
        if merged[key] <= 0:
            errors.append(Error(f"IDP_LOGOUT[{key!r}] must be positive.", id=_id("E004")))
    if merged["LEEWAY"] < 0 or merged["LEEWAY"] > 600:
        errors.append(Error("IDP_LOGOUT['LEEWAY'] must be between 0 and 600 seconds.",
                            id=_id("E004")))
    if merged["TIMEOUT"] > 30:
        errors.append(Warning("IDP_LOGOUT['TIMEOUT'] above 30 s keeps workers busy while the "
                              "provider hangs.", id=_id("W005")))
    return errors


def _canonical(key: str, value: Any) -> Any:
    if key == "SCOPES":
        return parse_scopes(value)
    return tuple(value) if isinstance(value, list) else value


def _check_mozilla_settings(ours: dict[str, Any]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for name, (key, convert) in OIDC_FALLBACKS.items():
        if not hasattr(settings, name) or key.startswith("ENDPOINTS.") or key not in ours:
            continue
        if _canonical(key, convert(getattr(settings, name))) != _canonical(key, ours[key]):
            messages.append(Warning(
                f"{name} and IDP_LOGOUT[{key!r}] are both set and differ; IDP_LOGOUT wins.",
                hint=f"Remove {name} (or make them equal).", id=_id("W001")))
    for name in OIDC_IGNORED:
        if hasattr(settings, name):
            messages.append(Warning(
                f"{name} is set but ignored: django_idp_logout always verifies TLS and uses "
                "PKCE S256, state and nonce.", hint=f"Remove {name}.", id=_id("W002")))
    if getattr(settings, "SESSION_ENGINE", "") == "django.contrib.sessions.backends.signed_cookies":
        messages.append(Warning(
            "With the signed_cookies session engine the ID token and its claims travel in the "
            "session cookie (signed, not encrypted), and a session cannot be ended server-side.",
            hint="Use a server-side session engine (db, cache, cached_db, file).",
            id=_id("W006")))
    return messages


@register(Tags.compatibility)
def check_wiring(app_configs: Sequence[AppConfig] | None = None,
                 **kwargs: Any) -> list[CheckMessage]:
    """Backend, middleware and installed apps."""
    errors: list[CheckMessage] = []
    backends = list(getattr(settings, "AUTHENTICATION_BACKENDS", []))
    from django.utils.module_loading import import_string

    from .backends import OIDCBackend

    def is_ours(path: str) -> bool:
        try:
            cls = import_string(path)
        except ImportError:
            return False
        return isinstance(cls, type) and issubclass(cls, OIDCBackend)

    if not any(is_ours(b) for b in backends):
        errors.append(Error(f"{BACKEND} is not in AUTHENTICATION_BACKENDS.",
                            hint=f"Add {BACKEND!r} (or a subclass) to AUTHENTICATION_BACKENDS.",
                            id=_id("E007")))
    middleware = list(getattr(settings, "MIDDLEWARE", []))
    for needed in (SESSION_MIDDLEWARE, AUTH_MIDDLEWARE):
        if needed not in middleware:
            errors.append(Error(f"{needed} is not in MIDDLEWARE.", id=_id("E008")))
    if MIDDLEWARE not in middleware:
        errors.append(Error(f"{MIDDLEWARE} is not in MIDDLEWARE.",
                            hint="Add it after AuthenticationMiddleware.", id=_id("E009")))
    elif AUTH_MIDDLEWARE in middleware and (
        middleware.index(MIDDLEWARE) < middleware.index(AUTH_MIDDLEWARE)
    ):
        errors.append(Error(f"{MIDDLEWARE} must come after AuthenticationMiddleware.",
                            id=_id("E009")))
    from django.apps import apps

    for app in ("django.contrib.sessions", "django.contrib.auth"):
        if not apps.is_installed(app):
            errors.append(Error(f"{app} is not in INSTALLED_APPS.", id=_id("E008")))
    return errors


@register(Tags.urls)
def check_urls(app_configs: Sequence[AppConfig] | None = None,
               **kwargs: Any) -> list[CheckMessage]:
    """The URLs are included under the ``idp_logout`` namespace."""
    try:
        reverse("idp_logout:callback")
    except NoReverseMatch:
        return [Error("django_idp_logout.urls is not included in the URLconf.",
                      hint='Add path("oidc/", include("django_idp_logout.urls")) to urlpatterns.',
                      id=_id("E010"))]
    return []
