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
3. otherwise the default in :data:`DEFAULTS` (module ``conf_keys``, with the keys' types).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from django.conf import settings

from .conf_keys import (
    ASYMMETRIC_ALGORITHMS,
    DEFAULT_ALGORITHMS,
    DEFAULTS,
    ENDPOINT_KEYS,
    HMAC_ALGORITHMS,
    KEY_TYPES,
    LOGOUT_METHODS,
    SUPPORTED_ALGORITHMS,
    TOKEN_AUTH_METHODS,
    is_number,
    parse_scopes,
    parse_timeout,
)
from .conf_oidc import OIDC_FALLBACKS, OIDC_IGNORED

#: Names other modules import from here; the data lives in ``conf_keys`` and ``conf_oidc``.
__all__ = [
    "ASYMMETRIC_ALGORITHMS", "DEFAULTS", "DEFAULT_ALGORITHMS", "ENDPOINT_KEYS", "HMAC_ALGORITHMS",
    "KEY_TYPES", "LOGOUT_METHODS", "NOT_INSTALLED_ID", "NOT_INSTALLED_MESSAGE", "OIDC_FALLBACKS",
    "OIDC_IGNORED", "SUPPORTED_ALGORITHMS", "TOKEN_AUTH_METHODS", "IdPConfig",
    "effective_settings", "get_config", "is_number", "parse_scopes", "parse_timeout",
    "require_installed", "reset_config", "user_settings",
]


@dataclass(frozen=True)
class IdPConfig:
    """Typed view of the effective configuration. Build it with :func:`get_config`."""

    provider: str
    issuer: str
    client_id: str
    client_secret: str | None
    token_auth_method: str | None
    scopes: tuple[str, ...]
    auth_params: Mapping[str, str]
    use_discovery: bool
    endpoints: Mapping[str, str]
    timeout: float
    ca_bundle: str | None
    leeway: int
    algorithms: tuple[str, ...]
    trusted_audiences: tuple[str, ...]
    use_userinfo: bool
    claims_mapping: Mapping[str, str]
    create_users: bool
    link_users_by_email: bool
    redirect_uri: str | None
    login_redirect_url: str
    allowed_redirect_hosts: tuple[str, ...]
    login_attempt_ttl: int
    max_pending_logins: int
    cache_alias: str
    discovery_ttl: int
    jwks_ttl: int
    jwks_refetch_interval: int
    post_logout_redirect_url: str
    post_logout_redirect_uri: str | None
    allow_get_logout: bool
    revoke_tokens_on_logout: bool
    logout_method: str
    logout_params: Mapping[str, str]
    logout_state_ttl: int
    send_access_token_hint: bool
    clear_site_data: tuple[str, ...]
    failure_redirect_url: str | None
    show_error_description: bool
    error_template: str
    logout_token_max_age: int
    require_logout_token_typ: bool
    frontchannel_frame_ancestors: tuple[str, ...] | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def is_public_client(self) -> bool:
        return not self.client_secret


assert {f.name for f in fields(IdPConfig)} == {k.lower() for k in DEFAULTS} | {"raw"}


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


def _typed(key: str, value: Any) -> Any:
    """Convert one merged value to its ``IdPConfig`` type, as ``KEY_TYPES`` declares it."""
    types = KEY_TYPES[key]
    if key == "SCOPES":
        return parse_scopes(value)
    if value is None:
        return None
    if key in {"AUTH_PARAMS", "LOGOUT_PARAMS"}:  # query parameters: strings only
        return {str(k): str(v) for k, v in dict(value).items()}
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
    """Return the effective configuration, one typed field per key of :data:`DEFAULTS`.

    Does not validate: the system checks (:mod:`django_idp_logout.checks`) report mistakes at
    start-up with ids and hints, so runtime code can assume a configuration that passed them.
    """
    s = effective_settings()
    # An empty secret means a public client; the identifiers are strings even when missing.
    # TIMEOUT None (or unusable) is the default, never "no timeout".
    s = {**s, "CLIENT_SECRET": s["CLIENT_SECRET"] or None,
         "ISSUER": s["ISSUER"] or "", "CLIENT_ID": s["CLIENT_ID"] or "",
         "TIMEOUT": parse_timeout(s["TIMEOUT"])}
    return IdPConfig(**{key.lower(): _typed(key, s[key]) for key in DEFAULTS}, raw=s)


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
