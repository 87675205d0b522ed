"""Calling an API with the signed-in user's access token, with ``requests``.

``requests.get(url, auth=UserTokenAuth(request), timeout=10)`` — or
``UserTokenSession(request)``, which also sets a default timeout — sends
``Authorization: Bearer <the user's current access token>``
(:func:`~django_idp_logout.get_access_token`, renewed first when it is about to expire). If the
API still answers 401 (the token was revoked, or expired early), the token is renewed once
and the request sent again, once. Tokens are never logged.
"""

from __future__ import annotations

from typing import Any

import requests
from django.http import HttpRequest
from requests.auth import AuthBase

from .flow.renewal import access_token

__all__ = ["UserTokenAuth", "UserTokenSession"]

_RETRIED = "_idp_logout_retried"


class UserTokenAuth(AuthBase):
    """A ``requests`` auth object for the user of ``request`` (a Django request)."""

    def __init__(self, request: HttpRequest) -> None:
        self.request = request

    def __call__(self, prepared: requests.PreparedRequest) -> requests.PreparedRequest:
        prepared.headers["Authorization"] = f"Bearer {access_token(self.request)}"
        prepared.register_hook("response", self._renew_once)  # type: ignore[no-untyped-call]
        return prepared

    def _renew_once(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        """On a 401, renew the token unless another request already did, and resend once.
        A body that was a stream cannot be sent again: that response is returned as is."""
        sent = response.request
        if response.status_code != 401 or getattr(sent, _RETRIED, False):
            return response
        if sent.body is not None and not isinstance(sent.body, (bytes, str)):
            return response
        rejected = str(sent.headers.get("Authorization", "")).removeprefix("Bearer ")
        token = access_token(self.request, rejected=rejected or None)
        response.content  # noqa: B018 - read the body so the connection can be reused
        response.close()
        retry = sent.copy()
        retry.headers["Authorization"] = f"Bearer {token}"
        setattr(retry, _RETRIED, True)
        again = response.connection.send(retry, **kwargs)
        again.history.append(response)
        again.request = retry
        return again


class UserTokenSession(requests.Session):
    """A ``requests.Session`` that authenticates as the user of ``request`` and never waits
    forever: ``timeout`` (seconds) applies to every request that does not give its own."""

    def __init__(self, request: HttpRequest, *, timeout: float = 10.0) -> None:
        super().__init__()
        self.auth = UserTokenAuth(request)
        self.timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
                ) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)
