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

Sync and async: under WSGI (or a sync middleware chain) it is a plain sync middleware; under
ASGI, where the next handler is a coroutine function, it runs as a coroutine and does the same
work through the same sync helpers, each one that may touch the session store, the database or
the cache in a worker thread (``sync_to_async``), so the event loop never blocks on them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.contrib.auth import logout
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.functional import SimpleLazyObject

from .conf import require_installed

logger = logging.getLogger("django_idp_logout")

GetResponse = (Callable[[HttpRequest], HttpResponseBase]
               | Callable[[HttpRequest], Awaitable[HttpResponseBase]])


class IdPSessionMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        require_installed()
        from . import session as idp_session

        self.session = idp_session
        self.get_response = get_response
        self.enforce_revocations = not idp_session.engine_can_delete()
        # Django's documented pattern: async when the next handler is, so the chain above
        # stays async under ASGI.
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.async_mode:
            return self.__acall__(request)
        self.attach(request)
        if self.enforce_revocations:
            self.end_if_revoked(request)
        response = cast(HttpResponseBase, self.get_response(request))
        self.session.follow_key_cycle(request)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        self.attach(request)
        if self.enforce_revocations:
            await sync_to_async(self.end_if_revoked)(request)
        response = await cast(Awaitable[HttpResponseBase], self.get_response(request))
        await sync_to_async(self.session.follow_key_cycle)(request)
        return response

    def attach(self, request: HttpRequest) -> None:
        """Give the request its lazy ``idp_session`` (no work until a view reads it)."""
        load = self.session.load
        request.idp_session = SimpleLazyObject(  # type: ignore[attr-defined]
            lambda: load(request))

    def end_if_revoked(self, request: HttpRequest) -> None:
        """Cookie sessions only: end this one if a logout revoked it (a store lookup)."""
        data = self.session.load(request)
        if data is not None and self.session.is_revoked(data):
            logger.info("stage=logout ended a cookie-based session that a logout revoked")
            logout(request)
