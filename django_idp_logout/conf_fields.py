"""The building blocks of the settings' declaration (:mod:`.conf_keys`): the values some keys
may take, the parsers of the keys whose value needs converting, and :func:`setting`, which
declares a key on an :class:`~.conf_keys.IdPConfig` field. Imports nothing from the app.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
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
#: ``TIMEOUT`` when unset or unusable.
DEFAULT_TIMEOUT = 5.0
TOKEN_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
#: Values ``LOGOUT_METHOD`` may take, compared case-insensitively (system check ``E026``).
LOGOUT_METHODS = ("auto", "GET", "POST")
#: Endpoint names accepted in ``ENDPOINTS`` (the discovery document's own key names).
ENDPOINT_KEYS = ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
                 "end_session_endpoint", "revocation_endpoint", "introspection_endpoint")


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
    return float(value) if _usable_timeout(value) else DEFAULT_TIMEOUT


def _usable_timeout(value: Any) -> bool:
    return is_number(value) and 0 < value < float("inf")


def query_params(value: Any) -> dict[str, str] | None:  # query parameters: strings only
    return None if value is None else {str(k): str(v) for k, v in dict(value).items()}


@dataclass(frozen=True)
class Setting:
    """One ``IDP_LOGOUT`` key as declared on :class:`IdPConfig` (see :data:`SETTINGS`)."""

    name: str  #: the key, e.g. ``"ISSUER"``: the field's name upper-cased
    default: Any
    types: tuple[type, ...]  #: what a setting may be (``type(None)`` where ``None`` is allowed)
    doc: str  #: reStructuredText, for the configuration reference
    section: str = ""  #: starts a section of the reference (title)
    default_doc: str = ""  #: replaces "default ``…``" in the reference, e.g. "required"
    convert: Callable[[Any], Any] | None = None  #: merged setting -> field value, if special

    @property
    def attr(self) -> str:
        """The :class:`IdPConfig` field."""
        return self.name.lower()


def setting(default: Any, *types: type | None, doc: str, section: str = "",
            default_doc: str = "", convert: Callable[[Any], Any] | None = None
            ) -> dict[str, Setting]:
    """Field metadata declaring a key: ``field(metadata=setting(default, str, None, doc=…))``.

    ``None`` among ``types`` stands for ``type(None)``; the name comes from the field.
    """
    return {"setting": Setting("", default, tuple(type(None) if t is None else t for t in types),
                               inspect.cleandoc(doc), section, default_doc, convert)}
