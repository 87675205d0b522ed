"""What ``IDP_LOGOUT`` may hold: its keys, their defaults and types, and the value parsers.

Data only, read by :mod:`django_idp_logout.conf` (which merges and types the settings), by
:mod:`django_idp_logout.conf_oidc` (mozilla-django-oidc's names for some keys) and by the
system checks. Import these names from ``conf``; this module exists to keep ``conf`` short.
"""

from __future__ import annotations

from typing import Any, TypeGuard

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

#: Values ``LOGOUT_METHOD`` may take, compared case-insensitively (system check ``E026``).
LOGOUT_METHODS = ("auto", "GET", "POST")

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
# conf.IdPConfig has one field per key (lower-cased), plus ``raw``: checked below the class.


def is_number(value: Any) -> TypeGuard[int | float]:
    """An int or a float, not a bool (``True`` is an ``int`` to Python, not to a setting)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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
    return is_number(value) and 0 < value < float("inf")
