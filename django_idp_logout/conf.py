"""The one reader of ``settings.IDP_LOGOUT``.

Everything else asks :func:`get_config` for a typed, immutable :class:`IdPConfig`. The value
is built on first use and rebuilt whenever a relevant setting changes (``setting_changed``
fires under ``override_settings``), so settings are effectively read at call time without
re-parsing the dict on every request.

Precedence, written once here and in ``docs/configuration.rst``:

1. a key in ``IDP_LOGOUT``;
2. otherwise the mozilla-django-oidc setting listed in :data:`OIDC_FALLBACKS`, with its
   documented meaning (so a site migrating from mozilla-django-oidc keeps working);
3. otherwise the default in :data:`DEFAULTS`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from django.conf import settings

#: Asymmetric JWS algorithms this app can verify with a key from the provider's JWKS.
ASYMMETRIC_ALGORITHMS: tuple[str, ...] = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
)
#: Accepted unless ``ALGORITHMS`` says otherwise: RS256 only, the OpenID Connect default of
#: ``id_token_signed_response_alg`` (Dynamic Client Registration 1.0 §2). A token signed with
#: another of the provider's keys and another algorithm is rejected.
DEFAULT_ALGORITHMS: tuple[str, ...] = ("RS256",)
#: HMAC (``HS256`` …) is opt-in: it needs ``CLIENT_SECRET`` and is never used with a JWKS key.
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
#: Every value ``ALGORITHMS`` may hold (the system check ``E011`` validates the setting).
SUPPORTED_ALGORITHMS = frozenset(ASYMMETRIC_ALGORITHMS) | HMAC_ALGORITHMS

TOKEN_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")

#: Endpoint names accepted in ``ENDPOINTS`` (the discovery document's own key names).
ENDPOINT_KEYS = (
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "jwks_uri",
    "end_session_endpoint",
    "revocation_endpoint",
    "introspection_endpoint",
)

DEFAULTS: dict[str, Any] = {
    "PROVIDER": "generic",
    "ISSUER": None,
    "CLIENT_ID": None,
    "CLIENT_SECRET": None,
    "TOKEN_AUTH_METHOD": None,
    "SCOPES": ("openid", "email", "profile"),
    "AUTH_PARAMS": {},
    "USE_DISCOVERY": True,
    "ENDPOINTS": {},
    "TIMEOUT": 5.0,
    "CA_BUNDLE": None,
    "LEEWAY": 60,
    "ALGORITHMS": DEFAULT_ALGORITHMS,
    "TRUSTED_AUDIENCES": (),
    "USE_USERINFO": False,
    "CLAIMS_MAPPING": {"email": "email", "first_name": "given_name", "last_name": "family_name"},
    "CREATE_USERS": True,
    "LINK_USERS_BY_EMAIL": False,
    "REDIRECT_URI": None,
    "LOGIN_REDIRECT_URL": None,
    "ALLOWED_REDIRECT_HOSTS": (),
    "LOGIN_ATTEMPT_TTL": 600,
    "MAX_PENDING_LOGINS": 5,
    "CACHE_ALIAS": "default",
    "DISCOVERY_TTL": 3600,
    "JWKS_TTL": 3600,
    "JWKS_REFETCH_INTERVAL": 60,
    "POST_LOGOUT_REDIRECT_URL": None,
    "POST_LOGOUT_REDIRECT_URI": None,
    "ALLOW_GET_LOGOUT": False,
    "REVOKE_TOKENS_ON_LOGOUT": True,
    "LOGOUT_METHOD": "auto",
    "LOGOUT_PARAMS": {},
    "LOGOUT_STATE_TTL": 600,
    "SEND_ACCESS_TOKEN_HINT": False,
    "CLEAR_SITE_DATA": ("cache", "storage"),
    "FAILURE_REDIRECT_URL": None,
    "SHOW_ERROR_DESCRIPTION": False,
    "ERROR_TEMPLATE": "django_idp_logout/error.html",
    "LOGOUT_TOKEN_MAX_AGE": 300,
    "REQUIRE_LOGOUT_TOKEN_TYP": False,
    "FRONTCHANNEL_FRAME_ANCESTORS": None,
}

#: Expected type(s) of each key, used by the system checks (``django_idp_logout.E004``).
KEY_TYPES: dict[str, tuple[type, ...]] = {
    "PROVIDER": (str,),
    "ISSUER": (str,),
    "CLIENT_ID": (str,),
    "CLIENT_SECRET": (str, type(None)),
    "TOKEN_AUTH_METHOD": (str, type(None)),
    "SCOPES": (list, tuple, str),
    "AUTH_PARAMS": (dict,),
    "USE_DISCOVERY": (bool,),
    "ENDPOINTS": (dict,),
    "TIMEOUT": (int, float),
    "CA_BUNDLE": (str, type(None)),
    "LEEWAY": (int,),
    "ALGORITHMS": (list, tuple),
    "TRUSTED_AUDIENCES": (list, tuple),
    "USE_USERINFO": (bool,),
    "CLAIMS_MAPPING": (dict,),
    "CREATE_USERS": (bool,),
    "LINK_USERS_BY_EMAIL": (bool,),
    "REDIRECT_URI": (str, type(None)),
    "LOGIN_REDIRECT_URL": (str, type(None)),
    "ALLOWED_REDIRECT_HOSTS": (list, tuple),
    "LOGIN_ATTEMPT_TTL": (int,),
    "MAX_PENDING_LOGINS": (int,),
    "CACHE_ALIAS": (str,),
    "DISCOVERY_TTL": (int,),
    "JWKS_TTL": (int,),
    "JWKS_REFETCH_INTERVAL": (int,),
    "POST_LOGOUT_REDIRECT_URL": (str, type(None)),
    "POST_LOGOUT_REDIRECT_URI": (str, type(None)),
    "ALLOW_GET_LOGOUT": (bool,),
    "REVOKE_TOKENS_ON_LOGOUT": (bool,),
    "LOGOUT_METHOD": (str,),
    "LOGOUT_PARAMS": (dict,),
    "LOGOUT_STATE_TTL": (int,),
    "SEND_ACCESS_TOKEN_HINT": (bool,),
    "CLEAR_SITE_DATA": (list, tuple),
    "FAILURE_REDIRECT_URL": (str, type(None)),
    "SHOW_ERROR_DESCRIPTION": (bool,),
    "ERROR_TEMPLATE": (str,),
    "LOGOUT_TOKEN_MAX_AGE": (int,),
    "REQUIRE_LOGOUT_TOKEN_TYP": (bool,),
    "FRONTCHANNEL_FRAME_ANCESTORS": (list, tuple, type(None)),
}
assert KEY_TYPES.keys() == DEFAULTS.keys()
# IdPConfig has one field per key (lower-cased), plus ``raw``: checked below the class.


def parse_scopes(value: Any) -> tuple[str, ...]:
    return tuple(value.split()) if isinstance(value, str) else tuple(value)


def parse_timeout(value: Any) -> float:
    """Seconds for ``TIMEOUT`` / ``OIDC_TIMEOUT``; never "wait forever".

    ``None`` (mozilla-django-oidc's default, meaning no timeout), a non-number, zero, a
    negative or a non-finite value mean the default (5.0). requests' ``(connect, read)`` pair
    becomes the larger of its usable values.
    """
    if isinstance(value, (tuple, list)):
        usable = [float(v) for v in value if _usable_timeout(v)]
        value = max(usable) if usable else None
    return float(value) if _usable_timeout(value) else float(DEFAULTS["TIMEOUT"])


def _usable_timeout(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and 0 < value < float("inf"))


def _optional_str(value: Any) -> str | None:
    """A mozilla-django-oidc setting set to ``None`` means "not set", not the string "None"."""
    return None if value is None else str(value)


#: mozilla-django-oidc settings honoured when the matching ``IDP_LOGOUT`` key is absent:
#: ``OIDC_* name -> (our key, converter)``. ``ENDPOINTS`` entries are merged one by one.
OIDC_FALLBACKS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "OIDC_RP_CLIENT_ID": ("CLIENT_ID", _optional_str),
    "OIDC_RP_CLIENT_SECRET": ("CLIENT_SECRET", _optional_str),  # None: a public client
    "OIDC_RP_SCOPES": ("SCOPES", parse_scopes),
    "OIDC_RP_SIGN_ALGO": ("ALGORITHMS", lambda v: (str(v),) if v else DEFAULT_ALGORITHMS),
    # None (theirs: no timeout) stays None here and becomes our default in effective_settings.
    "OIDC_TIMEOUT": ("TIMEOUT", lambda v: None if v is None else parse_timeout(v)),
    "OIDC_CREATE_USER": ("CREATE_USERS", bool),
    "OIDC_AUTH_REQUEST_EXTRA_PARAMS": ("AUTH_PARAMS", dict),
    "OIDC_REDIRECT_ALLOWED_HOSTS": ("ALLOWED_REDIRECT_HOSTS", tuple),
    "ALLOW_LOGOUT_GET_METHOD": ("ALLOW_GET_LOGOUT", bool),
    "OIDC_OP_AUTHORIZATION_ENDPOINT": ("ENDPOINTS.authorization_endpoint", str),
    "OIDC_OP_TOKEN_ENDPOINT": ("ENDPOINTS.token_endpoint", str),
    "OIDC_OP_USER_ENDPOINT": ("ENDPOINTS.userinfo_endpoint", str),
    "OIDC_OP_JWKS_ENDPOINT": ("ENDPOINTS.jwks_uri", str),
}

#: mozilla-django-oidc settings that would weaken what this app guarantees; a system check
#: (``django_idp_logout.W002``) reports them as ignored.
OIDC_IGNORED = ("OIDC_VERIFY_SSL", "OIDC_USE_PKCE", "OIDC_RP_IDP_SIGN_KEY", "OIDC_USE_NONCE",
                "OIDC_STATE_SIZE", "OIDC_NONCE_SIZE", "OIDC_PKCE_CODE_CHALLENGE_METHOD")


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
