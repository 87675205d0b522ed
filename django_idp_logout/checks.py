"""System checks ``django_idp_logout.E0xx`` / ``W0xx``. They never use the network.

One id names one problem, whatever key or value it is about: the message says which, the hint
says how to fix it. The ids are stable and listed, with their fixes, in ``docs/checks.rst``;
the test suite asserts the list and provokes every id.

Errors are kept for configurations that cannot work (an Error stops ``migrate`` and
``runserver``); what only some set-ups need, or what works at some cost, is a Warning.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string

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
    parse_timeout,
    user_settings,
)
from .discovery import is_secure_url

BACKEND = "django_idp_logout.backends.OIDCBackend"
MIDDLEWARE = "django_idp_logout.middleware.IdPSessionMiddleware"
SESSION_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"

#: Every check id this module can emit (asserted by the test suite and docs). Numbers are never
#: reused: a new problem gets the next free number of its level.
CHECK_IDS = (
    "E001", "E002", "E003", "E004", "E005", "E006", "E007", "E008", "E009", "E010", "E011",
    "E012", "E013", "E014", "E015", "E016", "E017", "E018", "E019", "E020", "E021", "E022",
    "E023", "E024", "E025",
    "W001", "W002", "W003", "W004", "W005", "W006", "W007", "W008", "W009", "W010", "W011",
)

#: Keys whose ``None`` means "use the default" rather than a mistake.
NONE_MEANS_DEFAULT = frozenset({"TIMEOUT"})

#: Numeric keys that must be positive (``TIMEOUT`` is W011's), and the ones with a bounded range.
POSITIVE_KEYS = ("LOGIN_ATTEMPT_TTL", "MAX_PENDING_LOGINS", "DISCOVERY_TTL",
                 "JWKS_TTL", "JWKS_REFETCH_INTERVAL", "LOGOUT_STATE_TTL",
                 "LOGOUT_TOKEN_MAX_AGE")
LEEWAY_RANGE = (0, 600)

#: Cache backends the checks name. Which caches hold single-use values and revocation markers
#: is decided by ``django_idp_logout.store`` (``ATOMIC_SHARED_CACHES``): any other backend
#: leaves them to the database.
LOCMEM_CACHE = "django.core.cache.backends.locmem.LocMemCache"
DUMMY_CACHE = "django.core.cache.backends.dummy.DummyCache"
FILE_CACHE = "django.core.cache.backends.filebased.FileBasedCache"
DATABASE_CACHE = "django.core.cache.backends.db.DatabaseCache"

SHARED_CACHE_HINT = ("Nothing is wrong; to save the query, point CACHE_ALIAS at a Redis or "
                     "Memcached cache.")


def _id(code: str) -> str:
    return f"django_idp_logout.{code}"


def _is_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@register(Tags.security, deploy=False)
def check_settings(app_configs: Sequence[AppConfig] | None = None,
                   **kwargs: Any) -> list[CheckMessage]:
    """``IDP_LOGOUT`` itself: presence, keys, types, values."""
    raw = getattr(settings, "IDP_LOGOUT", None)
    if raw is None:
        return [Error("IDP_LOGOUT is not set.",
                      hint='Add IDP_LOGOUT = {"ISSUER": "https://…", "CLIENT_ID": "…"} '
                           "to your settings.", id=_id("E001"))]
    if not isinstance(raw, Mapping):
        return [Error(f"IDP_LOGOUT must be a dict, not {type(raw).__name__}.",
                      hint='Write it as IDP_LOGOUT = {"ISSUER": "https://…", "CLIENT_ID": "…", '
                           "…}.", id=_id("E016"))]
    errors: list[CheckMessage] = []
    ours = user_settings()
    for key in ours:
        if key not in DEFAULTS:
            close = difflib.get_close_matches(str(key).upper(), list(DEFAULTS), n=1)
            hint = (f"Did you mean {close[0]!r}?" if close
                    else f"Known keys: {', '.join(sorted(DEFAULTS))}.")
            errors.append(Error(f"IDP_LOGOUT has an unknown key {key!r}.", hint=hint,
                                id=_id("E003")))
    unusable = _check_fallback_values()
    if unusable:
        return errors + unusable  # effective_settings() could not merge them
    merged = effective_settings()
    errors += _check_required(merged)
    errors += _check_types(ours, merged)
    if any(e.id == _id("E004") for e in errors):
        return errors  # the checks below assume the types are right
    errors += _check_provider(merged)
    errors += _check_urls(merged)
    errors += _check_algorithms(merged)
    errors += _check_client_auth(merged)
    errors += _check_cache(merged)
    errors += _check_numbers(merged)
    errors += _check_mozilla_settings(ours)
    errors += _check_logout(merged)
    return errors


REQUIRED_HINTS = {
    "ISSUER": "Set it to the provider's issuer URL, exactly as its discovery document "
              "(ISSUER + /.well-known/openid-configuration) states it.",
    "CLIENT_ID": "Set it to the client id this site is registered under at the provider "
                 "(mozilla-django-oidc's OIDC_RP_CLIENT_ID counts too).",
}


def _check_fallback_values() -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for name, (key, convert) in OIDC_FALLBACKS.items():
        if not hasattr(settings, name):
            continue
        try:
            convert(getattr(settings, name))
        except (TypeError, ValueError) as exc:
            ours = f"ENDPOINTS[{key.removeprefix('ENDPOINTS.')!r}]" if key.startswith(
                "ENDPOINTS.") else repr(key)
            errors.append(Error(
                f"{name} (mozilla-django-oidc), read as IDP_LOGOUT[{ours}], has a value that "
                f"cannot be used: {exc}.",
                hint=f"Give it the type mozilla-django-oidc documents, or remove it and set "
                     f"IDP_LOGOUT[{ours}] instead.", id=_id("E025")))
    return errors


def _check_required(merged: dict[str, Any]) -> list[CheckMessage]:
    return [Error(f"IDP_LOGOUT[{key!r}] is required.", hint=hint, id=_id("E002"))
            for key, hint in REQUIRED_HINTS.items() if merged.get(key) in (None, "")]


def _check_types(ours: dict[str, Any], merged: dict[str, Any]) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for key, types in KEY_TYPES.items():
        # effective_settings() drops a non-dict ENDPOINTS: look at what was written.
        value = ours.get(key) if key == "ENDPOINTS" and key in ours else merged.get(key)
        if value is None:
            # None is fine where it is allowed or means the default; a missing required key
            # is E002's business.
            wrong = not (type(None) in types or DEFAULTS.get(key) is None
                         or key in NONE_MEANS_DEFAULT or key in REQUIRED_HINTS)
        else:
            wrong = not isinstance(value, types) or (isinstance(value, bool)
                                                     and bool not in types)
        if wrong:
            expected = " or ".join(t.__name__ for t in types if t is not type(None))
            errors.append(Error(f"IDP_LOGOUT[{key!r}] must be {expected}, "
                                f"not {type(value).__name__}.",
                                hint=f"Use a value of type {expected} (the default is "
                                     f"{DEFAULTS.get(key)!r}), or remove the key.",
                                id=_id("E004")))
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
        except (ConfigurationError, TypeError, ValueError):
            return messages  # reported by E005 or E004
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
                            hint="Write the issuer as the provider states it, with its scheme: "
                                 "https://idp.example.com/….", id=_id("E019")))
    elif issuer and not is_secure_url(issuer):
        errors.append(Error(
            f"IDP_LOGOUT['ISSUER'] {issuer!r} uses plain http outside loopback.",
            hint="Tokens and codes would cross the network unencrypted: use https (plain http "
                 "is accepted for localhost, 127.0.0.1 and ::1 only).", id=_id("E006")))
    endpoints = merged.get("ENDPOINTS") or {}
    usable: set[str] = set()
    for name, url in endpoints.items():
        if name not in ENDPOINT_KEYS:
            close = difflib.get_close_matches(str(name), ENDPOINT_KEYS, n=1)
            errors.append(Error(f"IDP_LOGOUT['ENDPOINTS'] has an unknown key {name!r}.",
                                hint=f"Did you mean {close[0]!r}?" if close else
                                f"Known keys: {', '.join(ENDPOINT_KEYS)}.", id=_id("E017")))
        elif not _is_url(url):
            errors.append(Warning(f"IDP_LOGOUT['ENDPOINTS'][{name!r}] is not an http(s) URL; "
                                  "it is ignored.",
                                  hint="Write the full URL the provider documents, with its "
                                       "scheme, or remove the entry.", id=_id("W010")))
        elif not is_secure_url(url):
            errors.append(Warning(f"IDP_LOGOUT['ENDPOINTS'][{name!r}] uses plain http outside "
                                  "loopback; it is ignored.",
                                  hint="Use https (plain http is accepted for localhost, "
                                       "127.0.0.1 and ::1 only).", id=_id("W004")))
        else:
            usable.add(name)
    if not merged.get("USE_DISCOVERY"):
        missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri")
                   if k not in usable]
        if missing:
            errors.append(Error(
                f"USE_DISCOVERY is off but ENDPOINTS has no usable {', '.join(missing)}.",
                hint="Give every endpoint explicitly (https), or turn discovery back on.",
                id=_id("E013")))
    return errors


def _check_algorithms(merged: dict[str, Any]) -> list[CheckMessage]:
    algorithms = list(merged["ALGORITHMS"])
    errors: list[CheckMessage] = []
    supported = ", ".join(sorted(SUPPORTED_ALGORITHMS))
    unknown = [a for a in algorithms if a not in SUPPORTED_ALGORITHMS]
    if unknown:
        errors.append(Error(f"IDP_LOGOUT['ALGORITHMS'] has unsupported values {unknown!r}.",
                            hint=f"Supported: {supported}. 'none' is never accepted.",
                            id=_id("E011")))
    if not algorithms:
        errors.append(Error("IDP_LOGOUT['ALGORITHMS'] is empty: no ID token could be accepted.",
                            hint="Remove the key to accept the asymmetric defaults, or list the "
                                 "algorithm the provider signs with.", id=_id("E022")))
    if set(algorithms) & HMAC_ALGORITHMS and not merged.get("CLIENT_SECRET"):
        errors.append(Error("HMAC algorithms in ALGORITHMS need a CLIENT_SECRET.",
                            hint="Remove HS256/384/512, or configure the client secret.",
                            id=_id("E023")))
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
                      hint="Configure the client secret; public clients use 'none' (PKCE only).",
                      id=_id("E024"))]
    return []


def _cache_kind(backend: str) -> str:
    """``shared`` (the store keeps single-use values in it), ``database``, ``locmem``,
    ``dummy``, ``file`` or ``other``; a subclass counts as its base, as in the store."""
    from .store import ATOMIC_SHARED_CACHES

    if backend in ATOMIC_SHARED_CACHES:
        return "shared"  # without importing an optional package
    try:
        cls = import_string(backend)
    except ImportError:
        return "other"
    paths = ({f"{c.__module__}.{c.__qualname__}" for c in cls.__mro__}
             if isinstance(cls, type) else set())
    if paths & ATOMIC_SHARED_CACHES:
        return "shared"
    for path, kind in ((DATABASE_CACHE, "database"), (LOCMEM_CACHE, "locmem"),
                       (DUMMY_CACHE, "dummy"), (FILE_CACHE, "file")):
        if path in paths:
            return kind
    return "other"


def _check_cache(merged: dict[str, Any]) -> list[CheckMessage]:
    alias = merged["CACHE_ALIAS"]
    caches = getattr(settings, "CACHES", {})
    if alias not in caches:
        return [Error(f"IDP_LOGOUT['CACHE_ALIAS'] {alias!r} is not in CACHES.",
                      hint=f"Add {alias!r} to CACHES, or set CACHE_ALIAS to one of "
                           f"{', '.join(map(repr, caches)) or 'your caches'}.",
                      id=_id("E014"))]
    backend = str(caches[alias].get("BACKEND", ""))
    kind = _cache_kind(backend)
    stored = ("single-use values (login and logout state, logout-token jti) and revocation "
              "markers will be stored in the database (one extra query when each is used)")
    if kind == "dummy":
        return [Warning(
            f"The cache used by django_idp_logout is a DummyCache: discovery and signing keys "
            f"will be fetched from the provider at every sign-in, unknown key ids can trigger "
            f"a key fetch every time, and {stored}.",
            hint="Point CACHE_ALIAS at a real cache (Redis, Memcached or the database cache; "
                 "LocMemCache will do for development).", id=_id("W009"))]
    if kind == "locmem" and not settings.DEBUG:
        return [Warning(
            f"The cache used by django_idp_logout is a LocMemCache, private to each process: "
            f"{stored}, and each process fetches discovery and signing keys itself.",
            hint=SHARED_CACHE_HINT, id=_id("W003"))]
    # "database": the store uses the database, which a DatabaseCache queries anyway.
    if kind in {"file", "other"}:
        why = ("its add() is not atomic" if kind == "file"
               else "it is not known to be shared with an atomic add()")
        return [Warning(
            f"The cache used by django_idp_logout ({backend.rsplit('.', 1)[-1] or '?'}) cannot "
            f"hold single-use values, {why}: {stored}.",
            hint=SHARED_CACHE_HINT, id=_id("W008"))]
    return []


def _numbers(value: Any) -> list[float]:
    """The numbers in a value: itself, or the items of a ``(connect, read)`` pair."""
    items = value if isinstance(value, (list, tuple)) else (value,)
    return [v for v in items if _is_number(v)]


def _check_numbers(merged: dict[str, Any]) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for key in POSITIVE_KEYS:
        if any(v <= 0 for v in _numbers(merged.get(key))):
            errors.append(Error(f"IDP_LOGOUT[{key!r}] must be positive.",
                                hint=f"Use a number above 0 (the default is {DEFAULTS[key]!r}).",
                                id=_id("E018")))
    low, high = LEEWAY_RANGE
    if any(not low <= v <= high for v in _numbers(merged.get("LEEWAY"))):
        errors.append(Error(f"IDP_LOGOUT['LEEWAY'] must be between {low} and {high} seconds.",
                            hint=f"Clock skew is seconds, not minutes: the default is "
                                 f"{DEFAULTS['LEEWAY']}; fix the clocks (NTP) rather than "
                                 "widening it.", id=_id("E018")))
    # None, zero, negative or infinite: conf.parse_timeout() uses the default, never "no
    # timeout". None is the documented way to ask for the default; the others are slips.
    default = DEFAULTS["TIMEOUT"]
    timeouts = _numbers(merged.get("TIMEOUT"))
    if any(not 0 < v < math.inf for v in timeouts):
        errors.append(Warning(
            f"IDP_LOGOUT['TIMEOUT'] {merged.get('TIMEOUT')!r} is not a usable number of seconds: "
            f"the default, {default} s, is used.",
            hint=f"Use a positive number of seconds, or None for the default ({default}).",
            id=_id("W011")))
    elif any(v > 30 for v in timeouts):
        errors.append(Warning("IDP_LOGOUT['TIMEOUT'] above 30 s keeps workers busy while the "
                              "provider hangs.",
                              hint=f"A few seconds is enough (the default is {default}): a "
                                   "provider that answers later is treated as down.",
                              id=_id("W005")))
    return errors


def _canonical(key: str, value: Any) -> Any:
    if key == "SCOPES":
        return parse_scopes(value)
    if key == "TIMEOUT":  # None and mozilla-django-oidc's (connect, read) pair, as used
        return parse_timeout(value)
    return tuple(value) if isinstance(value, list) else value


def _check_mozilla_settings(ours: dict[str, Any]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for name, (key, convert) in OIDC_FALLBACKS.items():
        if not hasattr(settings, name) or key.startswith("ENDPOINTS.") or key not in ours:
            continue
        try:
            theirs = _canonical(key, convert(getattr(settings, name)))
        except (TypeError, ValueError):
            theirs = getattr(settings, name)
        if theirs != _canonical(key, ours[key]):
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
            "session cookie (signed, not encrypted), and a logout from another device or from "
            "the provider takes effect only at the session's next request.",
            hint="Use a server-side session engine (db, cache, cached_db, file), unless the "
                 "site must keep no session state.",
            id=_id("W006")))
    return messages


def _engine_uses_session_table(engine: str) -> bool:
    """Does ``SESSION_ENGINE`` keep sessions in ``django.contrib.sessions``' table?"""
    from django.contrib.sessions.backends.db import SessionStore as DBStore  # no model import

    try:
        store = import_string(f"{engine}.SessionStore")
    except ImportError:
        return False
    return isinstance(store, type) and issubclass(store, DBStore)


@register(Tags.compatibility)
def check_wiring(app_configs: Sequence[AppConfig] | None = None,
                 **kwargs: Any) -> list[CheckMessage]:
    """Backend, middleware and installed apps."""
    errors: list[CheckMessage] = []
    backends = list(getattr(settings, "AUTHENTICATION_BACKENDS", []))
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
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    for needed in (SESSION_MIDDLEWARE, AUTH_MIDDLEWARE):
        if needed not in middleware:
            errors.append(Error(f"{needed} is not in MIDDLEWARE.",
                                hint="Sign-in keeps its state in the session and logout needs "
                                     f"request.user: add {needed!r} to MIDDLEWARE.",
                                id=_id("E008")))
    if MIDDLEWARE not in middleware:
        errors.append(Error(f"{MIDDLEWARE} is not in MIDDLEWARE.",
                            hint="It keeps the back-channel logout mapping on the session's "
                                 "current key and ends revoked cookie sessions: add it after "
                                 "AuthenticationMiddleware.", id=_id("E009")))
    else:
        before = [m for m in (SESSION_MIDDLEWARE, AUTH_MIDDLEWARE)
                  if m in middleware and middleware.index(MIDDLEWARE) < middleware.index(m)]
        if before:
            errors.append(Error(f"{MIDDLEWARE} must come after {' and '.join(before)}.",
                                hint="Move it below them in MIDDLEWARE.", id=_id("E021")))
    from django.apps import apps

    engine = str(getattr(settings, "SESSION_ENGINE", ""))
    if not apps.is_installed("django.contrib.auth"):
        errors.append(Error("django.contrib.auth is not in INSTALLED_APPS.",
                            hint="Users and their provider identities live in its models: add "
                                 "'django.contrib.auth' (and 'django.contrib.contenttypes').",
                            id=_id("E020")))
    if not apps.is_installed("django.contrib.sessions") and _engine_uses_session_table(engine):
        errors.append(Error(f"django.contrib.sessions is not in INSTALLED_APPS, but "
                            f"SESSION_ENGINE {engine!r} stores sessions in its table.",
                            hint="Add 'django.contrib.sessions' to INSTALLED_APPS and run "
                                 "migrate (the cache, file and signed_cookies engines do "
                                 "without it).", id=_id("E020")))
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
