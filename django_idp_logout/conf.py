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

Several providers: ``IDP_LOGOUT["PROVIDERS"] = {"<name>": {<keys>}, …}``. Each provider's
keys win over the keys outside ``PROVIDERS`` (shared defaults), which win over the two levels
above. The flat form is one provider named ``default``. Which provider a request works with is
*activated* like a language (:func:`using_provider`): the views activate the one a request
names (``login/?provider=``, ``callback/<name>/``, a logout token's ``iss``) and the middleware
the one the session signed in with; :func:`get_config` without a name returns the active one.
"""

from __future__ import annotations

import contextvars
import functools
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
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
    "Setting", "active_provider", "chosen_provider", "effective_settings", "get_config",
    "is_number", "parse_scopes", "parse_timeout", "provider_names", "require_installed",
    "reset_config", "stored_names", "stored_provider", "user_settings", "uses_provider_list",
    "using_provider",
]

#: The key that holds several providers, and the name of the flat form's one provider.
PROVIDERS_KEY = "PROVIDERS"
DEFAULT_NAME = "default"
#: Keys that only make sense once per site (one shared store for states and claims).
SITE_WIDE_KEYS = frozenset({"CACHE_ALIAS"})
#: A provider's name: it appears in ``callback/<name>/`` and in the session.
PROVIDER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")

_ACTIVE: contextvars.ContextVar[str | Callable[[], str | None] | None] = (
    contextvars.ContextVar("idp_logout_provider", default=None))


def _site_settings() -> dict[str, Any]:
    value = getattr(settings, "IDP_LOGOUT", None)
    return dict(value) if isinstance(value, Mapping) else {}


def uses_provider_list() -> bool:
    """``True`` when ``IDP_LOGOUT`` has ``PROVIDERS`` (each provider gets ``callback/<name>/``)."""
    return isinstance(_site_settings().get(PROVIDERS_KEY), Mapping)


def _provider_list() -> dict[str, Mapping[str, Any]]:
    value = _site_settings().get(PROVIDERS_KEY)
    if not isinstance(value, Mapping):
        return {}
    # Names the checks refuse (E029) never reach the views: they could not be routed.
    return {k: v for k, v in value.items()
            if isinstance(k, str) and PROVIDER_NAME.fullmatch(k) and isinstance(v, Mapping)}


@functools.lru_cache(maxsize=1)
def provider_names() -> tuple[str, ...]:
    """The configured providers, in settings order; the first is the default (used where
    nothing names one, e.g. by management commands). Never empty."""
    return tuple(_provider_list()) or (DEFAULT_NAME,)


def stored_provider(value: Any) -> str:
    """The provider a stored name (session data, attempt, mapping row) stands for: itself; an
    absent name or ``"default"`` not configured by that name is the default provider (data
    written by the flat form, or before ``PROVIDERS`` existed); any other name no longer
    configured is returned as is (callers treat it as gone)."""
    names = provider_names()
    if isinstance(value, str) and value and (value in names or value != DEFAULT_NAME):
        return value
    return names[0]


def stored_names(name: str) -> tuple[str, ...]:
    """The names rows of provider ``name`` may be stored under (:func:`stored_provider`)."""
    if name == provider_names()[0] and DEFAULT_NAME not in provider_names():
        return (name, DEFAULT_NAME)
    return (name,)


def user_settings(name: str | None = None) -> dict[str, Any]:
    """The integrator's keys for one provider (default: the active one): the keys outside
    ``PROVIDERS`` overlaid with that provider's own; empty when ``IDP_LOGOUT`` is unset."""
    ours = {k: v for k, v in _site_settings().items() if k != PROVIDERS_KEY}
    own = _provider_list().get(name or active_provider())
    return {**ours, **own} if own is not None else ours


def active_provider() -> str:
    """The provider this request works with (:func:`using_provider`); else the default."""
    names = provider_names()
    if len(names) == 1:
        return names[0]  # the common case: the session is not even looked at
    return chosen_provider() or names[0]


def chosen_provider() -> str | None:
    """The provider activated for this request (named by it, or its session's), if any."""
    value = _ACTIVE.get()
    if callable(value):
        value = value()
    return value if value in provider_names() else None


@contextmanager
def using_provider(name: str | Callable[[], str | None] | None) -> Iterator[None]:
    """Make ``name`` (or what a callable returns when first needed) the active provider.

    An unknown name activates the default; callers check names from requests with
    :func:`provider_names` first.
    """
    token = _ACTIVE.set(name)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def effective_settings(name: str | None = None) -> dict[str, Any]:
    """Merge defaults, mozilla-django-oidc fallbacks and ``IDP_LOGOUT`` (in rising order)
    for one provider (default: the active one)."""
    ours = user_settings(name)
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


def get_config(name: str | None = None) -> IdPConfig:
    """Return the effective configuration of provider ``name`` (default: the active one,
    :func:`active_provider`), one typed field per key of :data:`SETTINGS`.

    Does not validate: the system checks (:mod:`django_idp_logout.checks`) report mistakes at
    start-up with ids and hints, so runtime code can assume a configuration that passed them.
    """
    return _build(name if name in provider_names() else active_provider())


@functools.lru_cache(maxsize=64)
def _build(name: str) -> IdPConfig:
    s = effective_settings(name)
    # An empty secret means a public client; the identifiers are strings even when missing.
    # TIMEOUT None (or unusable) is the default, never "no timeout".
    s = {**s, "CLIENT_SECRET": s["CLIENT_SECRET"] or None,
         "ISSUER": s["ISSUER"] or "", "CLIENT_ID": s["CLIENT_ID"] or "",
         "TIMEOUT": parse_timeout(s["TIMEOUT"])}
    return IdPConfig(**{key.attr: _typed(key, s[key.name]) for key in SETTINGS}, raw=s,
                     name=name)


def reset_config(*, setting: str, **kwargs: Any) -> None:
    """``setting_changed`` receiver (connected in ``apps.py``): drop the cached config."""
    if setting == "IDP_LOGOUT" or setting in OIDC_FALLBACKS or setting in {
        "LOGIN_REDIRECT_URL", "LOGOUT_REDIRECT_URL", "CACHES",
    }:
        _build.cache_clear()
        provider_names.cache_clear()


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
