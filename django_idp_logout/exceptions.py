"""One error tree for everything that can go wrong at request time.

Each runtime error carries a stable snake_case ``code`` (used for the user's message, the log
record and the ``login_failed`` signal), an HTTP ``status`` (4xx for the user's or request's
problem, 502/503/504 for the provider's) and the ``stage`` of the flow it happened in.

:class:`ConfigurationError` stays apart, as in django-anymail: it is the integrator's mistake,
subclasses ``ImproperlyConfigured`` and is never turned into a friendly page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured


class ConfigurationError(ImproperlyConfigured):
    """The site's configuration cannot work (reported by system checks where possible)."""


class IdPLogoutError(Exception):
    """Base of all runtime errors. ``detail`` is for the log only, never for a page."""

    code = "idp_error"
    status = 400
    stage = "login"
    #: Status by error code, for errors whose status depends on the provider's code.
    status_by_code: dict[str, int] = {}

    def __init__(
        self,
        detail: str = "",
        *,
        code: str | None = None,
        stage: str | None = None,
        status: int | None = None,
        description: str | None = None,
        error_uri: str | None = None,
    ) -> None:
        super().__init__(detail or self.code)
        self.detail = detail
        if code is not None:
            self.code = code
        if stage is not None:
            self.stage = stage
        if status is not None:
            self.status = status
        elif self.code in self.status_by_code:
            self.status = self.status_by_code[self.code]
        # Provider-supplied error_description / error_uri: untrusted, sanitized when logged.
        self.description = description
        self.error_uri = error_uri


class LoginExpired(IdPLogoutError):
    """Unknown, expired or already used ``state``: the sign-in has to start again."""

    code = "login_expired"
    status = 400
    stage = "authorize"


class InvalidCallback(IdPLogoutError):
    """The callback request itself is malformed (no code, wrong ``iss`` …)."""

    code = "invalid_callback"
    status = 400
    stage = "authorize"


#: Status of an authorization error response by code; others are the request's problem (400).
#: The user's own choice (cancelled, must sign in interactively) is no client error: 200, so
#: Django's request logger does not log a "Bad Request" WARNING for it.
USER_CHOICE_CODES = frozenset({"access_denied", "login_required", "consent_required",
                               "interaction_required", "account_selection_required"})
AUTHORIZE_ERROR_STATUS = {"server_error": 502, "temporarily_unavailable": 503,
                          **dict.fromkeys(USER_CHOICE_CODES, 200)}
#: Status of a token endpoint error by code; others mean the provider refused *our server's*
#: request (client registration or configuration): a bad gateway for the user (502).
TOKEN_ERROR_STATUS = {"invalid_grant": 400}


class AuthorizationError(IdPLogoutError):
    """The provider answered the authorization request with ``error=…``."""

    status = 400
    stage = "authorize"
    status_by_code = AUTHORIZE_ERROR_STATUS


class TokenError(IdPLogoutError):
    """The token (or revocation, UserInfo) endpoint answered with an OAuth error."""

    status = 502
    stage = "token"
    status_by_code = TOKEN_ERROR_STATUS


class InvalidToken(IdPLogoutError):
    """An ID token, logout token or UserInfo response failed validation.

    The provider (or something between us and it) sent a token we must not trust: a bad
    gateway from the user's point of view, hence 502.
    """

    code = "invalid_id_token"
    status = 502
    stage = "id_token"


class ProviderUnavailable(IdPLogoutError):
    """The provider could not be reached, timed out, or answered garbage."""

    code = "provider_unavailable"
    status = 502
    stage = "discovery"


class LoginRefused(IdPLogoutError):
    """The provider vouched for the user, but this site does not let them in."""

    code = "login_refused"
    status = 403
    stage = "login"


class ReauthenticationRequired(IdPLogoutError):
    """No valid access token can be had: the user has to sign in again.

    Raised by :func:`django_idp_logout.get_access_token`. ``reason`` says why: ``not_signed_in``
    (not signed in through the provider), ``no_refresh_token`` (the token expired and there is
    nothing to renew it with; the session goes on), ``refresh_refused`` (the provider refused
    the refresh token: the session has ended), ``id_token_rejected`` (the renewed ID token
    failed validation: the session has ended), ``session_ended`` (a logout ended it meanwhile).
    The middleware turns it into a 401 JSON answer for XHR/fetch, else a page or a redirect
    to sign in again.
    """

    code = "reauthentication_required"
    status = 401
    stage = "token_renewal"

    def __init__(self, detail: str = "", *, reason: str,
                 ended: tuple[str | None, Mapping[str, Any]] | None = None) -> None:
        super().__init__(detail or reason)
        self.reason = reason
        #: ``(session key, provider session data)`` of a session this ended: the middleware
        #: ends it again outside the view's transaction, which a rollback may have undone.
        self.ended = ended
