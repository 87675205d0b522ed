"""``IdPSessionMiddleware``: per-request view of the provider session. Never calls the network.

* Gives every request a lazy ``request.idp_session``
  (:class:`~django_idp_logout.session.IdPSession`, falsy when the session did not sign in
  through the provider) so templates can show the ID token's claims without touching tokens.
* On the way out, keeps the back-channel session mapping on the session's current key when
  the request cycled it (``cycle_key()``, ``update_session_auth_hash`` …): no query unless the
  key changed.
* With a cookie-based session engine, which the server cannot delete, it ends a session that a
  logout revoked: one lookup for requests whose session signed in through the provider. With
  server-side engines the logout deletes the session itself, and this adds no query at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from .conf import require_installed

logger = logging.getLogger("django_idp_logout")


class IdPSessionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        require_installed()
        from . import session as idp_session

        self.session = idp_session
        self.get_response = get_response
        self.enforce_revocations = not idp_session.engine_can_delete()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        idp_session = self.session
        if self.enforce_revocations:
            data = idp_session.load(request)
            if data is not None and idp_session.is_revoked(data):
                logger.info("stage=logout ended a cookie-based session that a logout revoked")
                logout(request)
        request.idp_session = SimpleLazyObject(  # type: ignore[attr-defined]
            lambda: idp_session.load(request))
        response = self.get_response(request)
        idp_session.follow_key_cycle(request)
        return response
