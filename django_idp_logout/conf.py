"""The one reader of ``settings.IDP_LOGOUT``.

Everything else asks :func:`get_config` for a typed, immutable :class:`IdPConfig`. The value
is built on first use and rebuilt whenever a relevant setting changes (``setting_changed``
fires under ``override_settings``), so settings are effectively read at call time without
re-parsing the dict on every request.

Precedence, written once here and in ``docs/configuration.rst``:

1. a key in ``IDP_LOGOUT``;
2. otherwise the mozilla-django-oidc setting listed in :data:`OIDC_FALLBACKS` (module
   ``conf_oidc``), with its documented meaning (so a site migrating from mozilla-django-oidc
   keeps working);
3. otherwise the default in :data:`DEFAULTS`, derived (with the keys' types and docs) from
   the one declaration of each key: the fields of :class:`IdPConfig` (module ``conf_keys``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from .conf_fields import (
    ASYMMETRIC_ALGORITHMS,
    DEFAULT_ALGORITHMS,
    ENDPOINT_KEYS,
    HMAC_ALGORITHMS,
    LOGOUT_METHODS,
    SUPPORTED_ALGORITHMS,
    TOKEN_AUTH_METHODS,
    Setting,
    is_number,
    parse_scopes,
    parse_timeout,
)
from .conf_keys import DEFAULTS, KEY_TYPES, SETTINGS, IdPConfig
from .conf_oidc import OIDC_FALLBACKS, OIDC_IGNORED

#: Names other modules import from here; the data lives in ``conf_fields``,
#: ``conf_keys`` and ``conf_oidc``.
__all__ = [
    "ASYMMETRIC_ALGORITHMS", "DEFAULTS", "DEFAULT_ALGORITHMS", "ENDPOINT_KEYS", "HMAC_ALGORITHMS",
    "KEY_TYPES", "LOGOUT_METHODS", "NOT_INSTALLED_ID", "NOT_INSTALLED_MESSAGE", "OIDC_FALLBACKS",
    "OIDC_IGNORED", "SETTINGS", "SUPPORTED_ALGORITHMS", "TOKEN_AUTH_METHODS", "IdPConfig",
    "Setting", "effective_settings", "get_config", "is_number", "parse_scopes", "parse_timeout",
    "require_installed", "reset_config", "user_settings",
]


def user_settings() -> dict[str, Any]:
    """The integrator's ``IDP_LOGOUT`` dict (empty when unset or not a dict)."""
    value = getattr(settings, "IDP_LOGOUT", None)
    return dict(value) if isinstance(value, Mapping) else {}


def effective_settings() -> dict[str, Any]:
    """Merge defaults, mozilla-django-oidc fallbacks and ``IDP_LOGOUT`` (in rising order)."""
    ours = user_settings()
    merged: dict[str, Any] = {key: ours.get(key, default) for key, default in DEFAULTS.items()}
    endpoints = dict(merged["ENDPOINTS"]) if isinstance(merged["ENDPOINTS"], Mapping) else {}
    for oidc_name, (key, convert) in OIDC_FALLBACKS.items():
        if not hasattr(settings, oidc_name):
            continue
        value = convert(getattr(settings, oidc_name))
        if key.startswith("ENDPOINTS."):
            endpoints.setdefault(key.removeprefix("ENDPOINTS."), value)
        elif key not in ours:
            merged[key] = value
    merged["ENDPOINTS"] = endpoints
    if merged["TIMEOUT"] is None:  # None never means "wait forever"
        merged["TIMEOUT"] = DEFAULTS["TIMEOUT"]
    if merged["LOGIN_REDIRECT_URL"] is None:
        merged["LOGIN_REDIRECT_URL"] = str(getattr(settings, "LOGIN_REDIRECT_URL", "/"))
    if merged["POST_LOGOUT_REDIRECT_URL"] is None:
        merged["POST_LOGOUT_REDIRECT_URL"] = str(getattr(settings, "LOGOUT_REDIRECT_URL", None)
                                                 or "/")
    return merged


def _typed(key: Setting, value: Any) -> Any:
    """Convert one merged value to its ``IdPConfig`` type, as ``key`` declares it."""
    if key.convert is not None:
        return key.convert(value)
    if value is None:
        return None
    types = key.types
    if dict in types:
        return dict(value)
    if tuple in types:
        return tuple(value)
    if bool in types:
        return bool(value)
    if float in types:
        return float(value)
    if int in types:
        return int(value)
    return str(value)


@functools.lru_cache(maxsize=1)
def get_config() -> IdPConfig:
    """Return the effective configuration, one typed field per key of :data:`SETTINGS`.

    Does not validate: the system checks (:mod:`django_idp_logout.checks`) report mistakes at
    start-up with ids and hints, so runtime code can assume a configuration that passed them.
    """
    s = effective_settings()
    # An empty secret means a public client; the identifiers are strings even when missing.
    # TIMEOUT None (or unusable) is the default, never "no timeout".
    s = {**s, "CLIENT_SECRET": s["CLIENT_SECRET"] or None,
         "ISSUER": s["ISSUER"] or "", "CLIENT_ID": s["CLIENT_ID"] or "",
         "TIMEOUT": parse_timeout(s["TIMEOUT"])}
    return IdPConfig(**{key.attr: _typed(key, s[key.name]) for key in SETTINGS}, raw=s)


def reset_config(*, setting: str, **kwargs: Any) -> None:
    """``setting_changed`` receiver (connected in ``apps.py``): drop the cached config."""
    if setting == "IDP_LOGOUT" or setting in OIDC_FALLBACKS or setting in {
        "LOGIN_REDIRECT_URL", "LOGOUT_REDIRECT_URL", "CACHES",
    }:
        get_config.cache_clear()


#: Check id for "the app is not in INSTALLED_APPS" (raised at request time, reported by the
#: URLconf check; the app's own checks cannot run when the app is not installed).
NOT_INSTALLED_ID = "django_idp_logout.E030"
NOT_INSTALLED_MESSAGE = (
    f"{NOT_INSTALLED_ID}: 'django_idp_logout' is not in INSTALLED_APPS. Add it (after "
    "'django.contrib.auth' and 'django.contrib.sessions') and run migrate.")


def require_installed() -> None:
    """Raise a clear :class:`ConfigurationError` unless the app is in ``INSTALLED_APPS``.

    Without it, importing the models fails with Django's generic "doesn't declare an explicit
    app_label" traceback; callers that would import them check this first.
    """
    from django.apps import apps

    from .exceptions import ConfigurationError

    if not apps.is_installed("django_idp_logout"):
        raise ConfigurationError(NOT_INSTALLED_MESSAGE)
