"""mozilla-django-oidc compatibility: its ``OIDC_*`` settings that ``IDP_LOGOUT`` falls back
to, with their converters, and the ones it ignores.

The precedence (``IDP_LOGOUT`` key, then the setting below, then the default) is applied in
:func:`django_idp_logout.conf.effective_settings`; the system checks report conflicts
(``W001``), unusable values (``E025``) and ignored settings (``W002``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .conf_fields import DEFAULT_ALGORITHMS, parse_scopes, parse_timeout


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
