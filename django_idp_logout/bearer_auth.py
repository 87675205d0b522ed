"""Bearer authentication of an API request (RFC 6750), shared by the DRF class
(:mod:`.drf`) and the view decorator (:mod:`.decorators`): the ``Authorization`` header, the
token's user, the required scopes, and the errors with their ``WWW-Authenticate`` header.

A refused token gets ``401`` with ``error="invalid_token"`` and nothing that would help an
attacker (the reason is logged, never the token); a token without a required scope gets
``403`` with ``error="insufficient_scope"`` naming the scopes; a provider that cannot be
asked gets ``503``. Never a 500.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, JsonResponse

from .api_settings import api_settings
from .bearer import AccessToken, validate_access_token
from .conf import get_config, using_provider
from .exceptions import IdPLogoutError, InvalidToken

logger = logging.getLogger("django_idp_logout")

#: RFC 6750 §2.1: ``Bearer`` (any case), one space or more, a b64token.
_BEARER = re.compile(r"bearer +([A-Za-z0-9\-._~+/]+=*) *", re.IGNORECASE)
REALM = "api"


@dataclass
class BearerError(Exception):
    """A request the API refuses: ``status``, the RFC 6750 ``error`` (``None``: no token at
    all), and for ``insufficient_scope`` the scopes needed."""

    status: int
    error: str | None = None
    scope: str | None = None

    def www_authenticate(self) -> str:
        params = [f'realm="{REALM}"']
        if self.error:
            params.append(f'error="{self.error}"')
        if self.scope:
            params.append(f'scope="{self.scope}"')
        return "Bearer " + ", ".join(params)

    def response(self) -> JsonResponse:
        body = {"error": self.error or "unauthorized"}
        if self.scope:
            body["scope"] = self.scope
        response = JsonResponse(body, status=self.status)
        if self.status in {401, 403}:
            response["WWW-Authenticate"] = self.www_authenticate()
        if self.status == 503:
            response["Retry-After"] = "30"
        response["Cache-Control"] = "no-store"
        return response


def bearer_token(request: HttpRequest) -> str | None:
    """The request's bearer token; ``None`` when it has none (or another scheme). A malformed
    ``Bearer`` header is a :class:`BearerError` 400 ``invalid_request``."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header[:7].lower().startswith("bearer"):
        return None
    match = _BEARER.fullmatch(header)
    if match is None:
        raise BearerError(400, "invalid_request")
    return match.group(1)


def authenticate(request: HttpRequest, token: str,
                 scopes: Iterable[str] = ()) -> tuple[Any, AccessToken]:
    """``(user, access token)`` for a request bearing ``token`` that may use a view needing
    ``scopes`` (and the provider's ``API["SCOPES"]``); raises :class:`BearerError`."""
    try:
        access = validate_access_token(token)
    except InvalidToken as exc:
        logger.info("stage=api refused a bearer token: code=%s", exc.code)
        raise BearerError(401, "invalid_token") from None
    except IdPLogoutError as exc:
        # The provider down, or refusing our client at introspection (a rotated secret):
        # nothing the caller can fix, and no reason to call the token invalid.
        logger.log(logging.ERROR if exc.code in {"invalid_client", "unauthorized_client"}
                   else logging.WARNING,
                   "stage=api could not check a bearer token: code=%s", exc.code)
        raise BearerError(503, "temporarily_unavailable") from None
    with using_provider(access.provider):
        required = [*api_settings(get_config()).scopes, *scopes]
        missing = access.missing_scopes(required)
        if missing:
            logger.info("stage=api a bearer token lacks scope(s): %s", " ".join(missing)[:200])
            raise BearerError(403, "insufficient_scope", " ".join(dict.fromkeys(required)))
        return user_for(access), access


def is_client_token(access: AccessToken) -> bool:
    """A client's own token (client credentials): no ``sub``, or one that names the client
    (oidc-provider, Okta: the client id; Auth0: ``<client id>@clients``), or Entra ID's
    ``idtyp`` ``app``. It never stands for a user, whatever ``CREATE_USERS`` says."""
    sub = access.subject
    return (sub is None or sub == access.client_id or sub.endswith("@clients")
            or access.claims.get("idtyp") == "app")


def user_for(access: AccessToken) -> Any:
    """The local user of the token's ``(iss, sub)``, as sign-in matches them; anonymous for
    a client's own token or an unknown identity (unless ``API["CREATE_USERS"]``: then created
    by the site's backend as at sign-in, ``verify_claims`` included). An inactive user's
    token is refused."""
    from .models import OIDCIdentity

    if is_client_token(access):
        return AnonymousUser()
    found = (OIDCIdentity.objects.select_related("user")
             .filter(issuer=access.issuer, subject=access.subject).first())
    user = found.user if found is not None else None
    if user is None and api_settings(get_config()).create_users:
        user = _created_user(access)
    if user is None:
        return AnonymousUser()
    if not getattr(user, "is_active", True):
        logger.info("stage=api refused a bearer token of an inactive user")
        raise BearerError(401, "invalid_token")
    return user


def _created_user(access: AccessToken) -> Any:
    """``API["CREATE_USERS"]``: the site's own backend (a subclass of ``OIDCBackend`` in
    ``AUTHENTICATION_BACKENDS``), its hooks applied as at sign-in."""
    from django.contrib.auth import get_backends

    from .backends import OIDCBackend, VerifiedIdentity

    backend = next((b for b in get_backends() if isinstance(b, OIDCBackend)), OIDCBackend())
    claims = dict(access.claims)
    if not backend.verify_claims(claims):
        logger.info("stage=api verify_claims() refused the token's user")
        raise BearerError(401, "invalid_token")
    assert access.subject is not None
    return backend.get_or_create_identity_user(
        VerifiedIdentity(issuer=access.issuer, subject=access.subject, claims=claims), claims,
        create_users=True)


def require_audience() -> None:
    """The API cannot work without ``API["AUDIENCE"]`` (any token the provider signs would
    do): raised where the API is declared, so a site never starts without one."""
    from django.core.exceptions import ImproperlyConfigured

    from .conf import provider_names

    if not any(api_settings(get_config(name)).audiences for name in provider_names()):
        raise ImproperlyConfigured(
            "IDP_LOGOUT['API']['AUDIENCE'] is not set: bearer token authentication would "
            "accept a token issued for any API. Set it to your API's identifier "
            "(django_idp_logout.E035).")


__all__ = ["BearerError", "authenticate", "bearer_token", "is_client_token", "require_audience",
           "user_for"]
