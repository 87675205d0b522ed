"""``IdPSessionMiddleware``: per-request view of the provider session. Never calls the network.

* Gives every request a lazy ``request.idp_session``
  (:class:`~django_idp_logout.session.IdPSession`, falsy when the session did not sign in
  through the provider) so templates can show the ID token's claims without touching tokens.
* With a cookie-based session engine, which the server cannot delete, it ends a session that a
  back-channel logout revoked: one cache lookup for requests whose session signed in through
  the provider. With server-side engines the back-channel view deletes the session itself, and
  this middleware adds no query at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from . import session as idp_session

logger = logging.getLogger("django_idp_logout")


class IdPSessionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.enforce_revocations = not idp_session.engine_can_delete()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self.enforce_revocations:
            data = idp_session.load(request)
            if data is not None and idp_session.is_revoked(data):
                logger.info("stage=backchannel ended a cookie-based session revoked by the "
                            "provider")
                logout(request)
        request.idp_session = SimpleLazyObject(  # type: ignore[attr-defined]
            lambda: idp_session.load(request))
        return self.get_response(request)
