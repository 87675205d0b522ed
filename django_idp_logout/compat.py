"""What mozilla-django-oidc's backend does that :class:`~django_idp_logout.backends.OIDCBackend`
does elsewhere, and the errors that say where.

mozilla-django-oidc's ``OIDCAuthenticationBackend`` runs the whole callback: token request,
signature check, UserInfo, token storage. Here the callback does all that before the backend
runs, and the backend only turns validated claims into a user. So the methods listed in
:data:`NOT_HERE` cannot apply:

* calling one raises :class:`NotImplementedError` saying where that step lives now;
* a subclass (or a mixin) that overrides one is refused when the class is created, with a
  :class:`~django_idp_logout.exceptions.ConfigurationError` naming the methods — an override
  that would never run must not be lost silently;
* mozilla-django-oidc's callback view calling ``authenticate(request, nonce=…,
  code_verifier=…)`` gets ``None`` (Django's contract, so its own backend may still sign the
  user in during a migration) and a warning: its URLs are still routed.

The hooks that *do* apply (``verify_claims``, ``filter_users_by_claims``, ``create_user``,
``update_user``, ``get_username``) are :class:`~django_idp_logout.backends.OIDCBackend`'s.

The second half is the settings' side, for ``manage.py idp_migrate_settings``: the
mozilla-django-oidc defaults a site may depend on, the settings with an ``IDP_LOGOUT`` key that
the fallbacks (``conf.OIDC_FALLBACKS``) do not read, and what becomes of each of the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from .conf import OIDC_FALLBACKS
from .exceptions import ConfigurationError

_CODE_EXCHANGE = ("the callback (django_idp_logout's 'callback' view) makes the token request "
                  "before the backend runs; TOKEN_AUTH_METHOD chooses the client "
                  "authentication")
_VALIDATION = ("the callback validates the ID token (signature with the provider's cached "
               "JWKS, ALGORITHMS, iss, aud, exp, nonce, at_hash) before the backend runs: the "
               "backend receives its claims in a VerifiedIdentity")

#: mozilla-django-oidc backend method -> where its job is done in this app.
NOT_HERE: dict[str, str] = {
    "get_token": _CODE_EXCHANGE,
    "raise_token_response_error": _CODE_EXCHANGE,
    "verify_token": _VALIDATION,
    "get_payload_data": _VALIDATION,
    "_verify_jws": _VALIDATION,
    "retrieve_matching_jwk": ("signing keys come from the provider's JWKS, cached and "
                              "refetched on key rotation (django_idp_logout.jwks)"),
    "get_userinfo": ("the callback calls UserInfo when IDP_LOGOUT['USE_USERINFO'] is true and "
                     "merges its claims into those verify_claims, filter_users_by_claims, "
                     "create_user and update_user receive"),
    "store_tokens": ("tokens are kept server-side for every sign-in (OIDC_STORE_ACCESS_TOKEN "
                     "and OIDC_STORE_ID_TOKEN are not needed); request.idp_session describes "
                     "the provider session"),
    "get_or_create_user": ("the backend takes a VerifiedIdentity: authenticate(request, "
                           "idp_identity=...), called by the callback. Bearer tokens for an "
                           "API (mozilla_django_oidc.contrib.drf.OIDCAuthentication) are not "
                           "provided yet: meanwhile set OIDC_DRF_AUTH_BACKEND = "
                           "'mozilla_django_oidc.auth.OIDCAuthenticationBackend'"),
}

#: Keyword arguments only mozilla-django-oidc's callback view passes to ``authenticate()``.
logger = logging.getLogger("django_idp_logout")

MOZILLA_CALLBACK_KWARGS = frozenset({"nonce", "code_verifier"})

GUIDE = "See 'Upgrading from mozilla-django-oidc' (docs/migration.rst)."


def _not_here(name: str, where: str) -> Callable[..., NoReturn]:
    def method(self: Any, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError(
            f"{type(self).__name__}.{name}() is mozilla-django-oidc's and does not apply in "
            f"django_idp_logout: {where}. {GUIDE}")

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"Not used here: {where}. Raises :class:`NotImplementedError`."
    return method


class MozillaCompat:
    """Mixin placed before mozilla-django-oidc's backend in ``OIDCBackend``'s bases: its
    methods in :data:`NOT_HERE` raise, and subclasses may not override them."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        lost = [name for name in NOT_HERE if getattr(cls, name) is not getattr(MozillaCompat, name)]
        if lost:
            where = "; ".join(f"{name}(): {NOT_HERE[name]}" for name in lost)
            raise ConfigurationError(
                f"{cls.__module__}.{cls.__qualname__} overrides mozilla-django-oidc backend "
                f"method(s) that django_idp_logout never calls, so the override would be lost "
                f"silently. {where}. Move what they do to verify_claims, "
                f"filter_users_by_claims, create_user or update_user, or remove them. {GUIDE}")


for _name, _where in NOT_HERE.items():
    setattr(MozillaCompat, _name, _not_here(_name, _where))


def warn_mozilla_callback(kwargs: Mapping[str, Any]) -> None:
    """Log when ``authenticate()`` is called the way mozilla-django-oidc's callback view calls
    it: its URLs are still routed. The backend then returns ``None`` (Django's contract for
    credentials it does not handle), so mozilla-django-oidc's own backend, if still listed,
    signs the user in — both can run side by side while a site migrates."""
    if MOZILLA_CALLBACK_KWARGS & kwargs.keys():
        logger.warning(
            "stage=configuration mozilla-django-oidc's callback view called "
            "django_idp_logout's OIDCBackend, which does not handle its flow. Route "
            "path('oidc/', include('django_idp_logout.urls')) instead of "
            "include('mozilla_django_oidc.urls'), and link to {%% url 'idp_logout:login' %%}. "
            "%s", GUIDE)


# --- settings: what `manage.py idp_migrate_settings` translates and explains --------------------

#: mozilla-django-oidc's defaults that differ from this app's: a site that left these unset
#: depends on them (its provider signs with HS256; it sends the secret in the POST body).
MOZILLA_DEFAULTS: dict[str, Any] = {"OIDC_RP_SIGN_ALGO": "HS256",
                                    "OIDC_TOKEN_USE_BASIC_AUTH": False}


def _token_auth_method(use_basic_auth: Any) -> str:
    return "client_secret_basic" if use_basic_auth else "client_secret_post"


def _ca_bundle(verify: Any) -> str | None:
    """``OIDC_VERIFY_SSL`` is passed to requests as ``verify``: a string is a CA bundle path."""
    return verify if isinstance(verify, str) else None


#: Settings the fallbacks (``conf.OIDC_FALLBACKS``) do not read that have an ``IDP_LOGOUT``
#: key all the same: ``name -> (key, converter)``; a converter's ``None`` means "no key".
TRANSLATED: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "OIDC_TOKEN_USE_BASIC_AUTH": ("TOKEN_AUTH_METHOD", _token_auth_method),
    "OIDC_MAX_STATES": ("MAX_PENDING_LOGINS", int),
    "LOGIN_REDIRECT_URL_FAILURE": ("FAILURE_REDIRECT_URL", str),
    "OIDC_VERIFY_SSL": ("CA_BUNDLE", _ca_bundle),
    # SessionRefresh re-checked sessions this often: the session check does it without
    # breaking XHR or POSTs (and with the refresh token when there is one).
    "OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS": ("SESSION_CHECK_INTERVAL", int),
}

#: mozilla-django-oidc's URL names and ours (namespace ``idp_logout``).
URL_NAMES = {"oidc_authentication_init": "login", "oidc_authentication_callback": "callback",
             "oidc_logout": "logout"}

SESSION_REFRESH = "mozilla_django_oidc.middleware.SessionRefresh"
#: What replaces mozilla-django-oidc's ``SessionRefresh`` middleware.
SESSION_CHECKS = ("IdPSessionMiddleware re-checks sessions with the provider when "
                  "SESSION_CHECK_INTERVAL is set (with the refresh token, else prompt=none for "
                  "page navigations only: XHR gets a 401 JSON answer and POSTs are never "
                  "redirected), and back-channel logout ends the sessions the provider ends")
_SESSION_REFRESH = f"SessionRefresh's; remove that middleware: {SESSION_CHECKS}"
_TOKENS_KEPT = ("tokens are kept server-side for every sign-in, not in session['oidc_*']; "
                "request.idp_session describes the provider session")
_VIEWS = ("the views are not replaceable: customise the backend hooks, AUTH_PARAMS or a "
          "provider profile instead")
_ALWAYS_VERIFIED = ("ignored: ID tokens are always verified (signature with a JWKS key, kid, "
                    "alg in ALGORITHMS, iss, aud, exp, nonce); alg 'none' never")
_ALWAYS_PKCE = "ignored: state, nonce and PKCE S256 are always used, with fixed strong sizes"

#: What becomes of each mozilla-django-oidc setting that has no ``IDP_LOGOUT`` key.
SETTING_NOTES: dict[str, str] = {
    "OIDC_OP_LOGOUT_URL_METHOD": (
        "replaced by a provider profile: PROVIDER names one, and it builds the end-session URL "
        "from the provider's end_session_endpoint (discovery, or "
        "ENDPOINTS['end_session_endpoint']) with id_token_hint, post_logout_redirect_uri and "
        "state; an unusual URL shape gets a Provider subclass (docs: providers/custom)"),
    "OIDC_EXEMPT_URLS": (f"not needed: the session check never redirects XHR/fetch requests, "
                         f"POSTs or this app's own views; {_SESSION_REFRESH}"),
    "OIDC_STORE_ACCESS_TOKEN": _TOKENS_KEPT,
    "OIDC_STORE_ID_TOKEN": _TOKENS_KEPT,
    "OIDC_USERNAME_ALGO": "still read, same meaning (OIDCBackend.get_username): keep it",
    "OIDC_AUTHENTICATION_CALLBACK_URL": (
        "the callback is the URL named 'idp_logout:callback'; REDIRECT_URI fixes the full URL "
        "when it must be"),
    "OIDC_CALLBACK_CLASS": _VIEWS,
    "OIDC_AUTHENTICATE_CLASS": _VIEWS,
    "OIDC_REDIRECT_FIELD_NAME": "the parameter is always 'next'",
    "OIDC_REDIRECT_REQUIRE_HTTPS": (
        "'next' must point to this site or ALLOWED_REDIRECT_HOSTS, over https when the request "
        "is https"),
    "OIDC_PROXY": "set HTTPS_PROXY / NO_PROXY in the environment instead: requests reads them",
    "OIDC_VERIFY_JWT": _ALWAYS_VERIFIED,
    "OIDC_VERIFY_KID": _ALWAYS_VERIFIED,
    "OIDC_ALLOW_UNSECURED_JWT": _ALWAYS_VERIFIED,
    "OIDC_RP_IDP_SIGN_KEY": ("ignored: keys come from the provider's JWKS (jwks_uri), cached and "
                             "refetched when it rotates them"),
    "OIDC_VERIFY_SSL": "ignored: TLS is always verified; a CA bundle path becomes CA_BUNDLE",
    "OIDC_USE_PKCE": _ALWAYS_PKCE,
    "OIDC_PKCE_CODE_CHALLENGE_METHOD": _ALWAYS_PKCE,
    "OIDC_PKCE_CODE_VERIFIER_SIZE": _ALWAYS_PKCE,
    "OIDC_USE_NONCE": _ALWAYS_PKCE,
    "OIDC_STATE_SIZE": _ALWAYS_PKCE,
    "OIDC_NONCE_SIZE": _ALWAYS_PKCE,
    "OIDC_DRF_AUTH_BACKEND": (
        "DRF bearer tokens are not provided by this app yet: keep "
        "mozilla_django_oidc.contrib.drf.OIDCAuthentication with this setting pointing to "
        "mozilla-django-oidc's backend (it reads the OIDC_* settings it needs)"),
}


def setting_note(name: str) -> str:
    """What becomes of mozilla-django-oidc's setting ``name`` here, in one sentence."""
    if name in SETTING_NOTES:
        return f"{SETTING_NOTES[name]}."
    key = {**OIDC_FALLBACKS, **TRANSLATED}.get(name, ("", None))[0]
    if not key:
        return "not read by django_idp_logout."
    where = (f"['ENDPOINTS'][{key.removeprefix('ENDPOINTS.')!r}]" if key.startswith("ENDPOINTS.")
             else f"[{key!r}]")
    return f"now IDP_LOGOUT{where}: remove it."
