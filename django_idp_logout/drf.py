"""Django REST framework: :class:`BearerTokenAuthentication` and :class:`HasScope`.

DRF is an optional extra (``pip install django-idp-logout[drf]``)::

    REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": [
            "django_idp_logout.drf.BearerTokenAuthentication"],
    }

    class Orders(APIView):
        permission_classes = [HasScope("orders:read")]

``request.user`` is the token's user (``AnonymousUser`` for a client's own token) and
``request.auth`` a :class:`~django_idp_logout.bearer.AccessToken`. Unlike
mozilla-django-oidc's ``OIDCAuthentication``, a JWT access token is checked with the cached
keys (no request to the provider) and its audience is checked.
"""

from __future__ import annotations

from typing import Any

try:
    from rest_framework import exceptions
    from rest_framework.authentication import BaseAuthentication
    from rest_framework.permissions import BasePermission
except ImportError as exc:  # pragma: no cover - exercised without the extra only
    raise ImportError("django_idp_logout.drf needs Django REST framework: "
                      "pip install 'django-idp-logout[drf]'") from exc

from .bearer_auth import BearerError, authenticate, bearer_token, require_audience

_ERROR = "_idp_logout_bearer_error"


class BearerTokenAuthentication(BaseAuthentication):  # type: ignore[misc]
    """RFC 6750 bearer tokens issued by the configured provider(s) (see :mod:`.bearer`).

    A request without a bearer token is left to the next authentication class; a refused
    token is 401 ``invalid_token``, a provider that cannot be asked 503.
    """

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        require_audience()
        try:
            token = bearer_token(request._request)
            if token is None:
                return None
            return authenticate(request._request, token)
        except BearerError as exc:
            setattr(request, _ERROR, exc)
            raise _drf_error(exc) from None

    def authenticate_header(self, request: Any) -> str:
        """The ``WWW-Authenticate`` of a 401 (DRF asks the first authentication class)."""
        error = getattr(request, _ERROR, None)
        return (error if isinstance(error, BearerError) else BearerError(401)).www_authenticate()


class _ServiceUnavailable(exceptions.APIException):  # type: ignore[misc]
    status_code = 503
    default_detail = "temporarily_unavailable"
    default_code = "temporarily_unavailable"
    wait = 30  # DRF's exception handler sends it as Retry-After


class _InsufficientScope(exceptions.PermissionDenied):  # type: ignore[misc]
    default_code = "insufficient_scope"


def _drf_error(error: BearerError) -> Any:
    if error.status == 400:
        return exceptions.ParseError("invalid_request")
    if error.status == 503:
        return _ServiceUnavailable()
    if error.status == 403:  # API["SCOPES"]: 403, with its header (DRF keeps auth_header)
        denied = _InsufficientScope("insufficient_scope")
        denied.auth_header = error.www_authenticate()
        return denied
    return exceptions.AuthenticationFailed("invalid_token", code="invalid_token")


def HasScope(*scopes: str) -> type[BasePermission]:
    """A permission class requiring every one of ``scopes`` in the request's access token:
    ``permission_classes = [HasScope("orders:read")]``. Without a bearer token it is
    "not authenticated" (401); without the scope 403 ``insufficient_scope``."""
    required = tuple(scopes)

    class _HasScope(BasePermission):  # type: ignore[misc]
        def has_permission(self, request: Any, view: Any) -> bool:
            from .bearer import AccessToken

            token = request.auth
            if not isinstance(token, AccessToken):
                raise exceptions.NotAuthenticated()
            if token.missing_scopes(required):
                raise _drf_error(BearerError(403, "insufficient_scope", " ".join(required)))
            return True

    _HasScope.__name__ = _HasScope.__qualname__ = f"HasScope({', '.join(map(repr, required))})"
    return _HasScope


__all__ = ["BearerTokenAuthentication", "HasScope"]
