"""``IdPSessionMiddleware``: per-request view of the provider session, and its lifetime.

* Gives every request a lazy ``request.idp_session``
  (:class:`~django_idp_logout.session.IdPSession`, falsy when the session did not sign in
  through the provider) so templates can show the ID token's claims without touching tokens.
* On the way out, keeps the back-channel session mapping on the session's current key when
  the request cycled it (``cycle_key()``, ``update_session_auth_hash`` …): no query unless the
  key changed.
* With a cookie-based session engine, which the server cannot delete, it ends a session that a
  logout revoked: one lookup for requests whose session signed in through the provider. With
  server-side engines the logout deletes the session itself, and this adds no query at all.
* Before the view (``process_view``), only when ``SESSION_IDLE_TIMEOUT``, ``SESSION_MAX_AGE``
  or ``SESSION_CHECK_INTERVAL`` is set: ends a session past its lifetime, and checks it with
  the provider when a check is due (:mod:`~django_idp_logout.flow.lifecycle`). This is the
  only network access here: at most one request per interval per session.
* A view whose ``get_access_token`` raises ``ReauthenticationRequired`` gets the right
  answer for its caller (``process_exception``): 401 JSON for XHR/fetch, a redirect to sign
  in for a navigation, a page for a POST.

Sync and async: under WSGI (or a sync middleware chain) it is a plain sync middleware; under
ASGI, where the next handler is a coroutine function, it runs as a coroutine and does the same
work through the same sync helpers, each one that may touch the session store, the database or
the cache in a worker thread (``sync_to_async``), so the event loop never blocks on them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.contrib.auth import logout
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.functional import SimpleLazyObject

from .conf import get_config, require_installed, using_provider

logger = logging.getLogger("django_idp_logout")

GetResponse = (Callable[[HttpRequest], HttpResponseBase]
               | Callable[[HttpRequest], Awaitable[HttpResponseBase]])


class IdPSessionMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        require_installed()
        from . import session as idp_session
        from . import session_end, token_store

        self.session = idp_session
        self.session_end = session_end
        self.token_store = token_store
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
        with using_provider(self.session_provider(request)):
            if self.enforce_revocations:
                self.end_if_revoked(request)
            response = cast(HttpResponseBase, self.get_response(request))
        self.after_response(request)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        self.attach(request)
        with using_provider(self.session_provider(request)):
            if self.enforce_revocations:
                await sync_to_async(self.end_if_revoked)(request)
            response = await cast(Awaitable[HttpResponseBase], self.get_response(request))
        await sync_to_async(self.after_response)(request)
        return response

    def session_provider(self, request: HttpRequest) -> Callable[[], str | None]:
        """With several providers, the request works with the one its session signed in
        with (``get_config()`` without a name): read from the session when first needed,
        then remembered for the request (a logout flushes the session half way)."""
        found: list[str | None] = []

        def resolve() -> str | None:
            if not found:
                found.append(self.session.request_provider(request))
            return found[0]
        return resolve

    def after_response(self, request: HttpRequest) -> None:
        """The view and its transaction are over: follow a key cycle, and give back the
        renewal locks a renewal inside the transaction kept."""
        self.session.follow_key_cycle(request)
        self.token_store.release_deferred(request)

    def attach(self, request: HttpRequest) -> None:
        """Give the request its lazy ``idp_session`` (no work until a view reads it)."""
        load = self.session.load
        request.idp_session = SimpleLazyObject(  # type: ignore[attr-defined]
            lambda: load(request))

    def process_view(self, request: HttpRequest, view_func: Callable[..., Any],
                     view_args: Any, view_kwargs: Any) -> HttpResponseBase | None:
        """Lifetimes and the session check (``SESSION_IDLE_TIMEOUT``, ``SESSION_MAX_AGE``,
        ``SESSION_CHECK_INTERVAL``) before the view; nothing when none is set. The app's own
        views (sign-in, callback, logout …) are exempt: a check must not check itself."""
        config = get_config()
        if (config.session_check_interval is None and config.session_idle_timeout is None
                and config.session_max_age is None) or _is_own_view(request):
            return None  # the common case: no import of the network layer, no work
        from . import session_views
        from .flow import lifecycle

        verdict = lifecycle.check(request, navigation=session_views.is_navigation(request),
                                  wants_json=session_views.wants_json(request),
                                  activity=_own_view(request) != "session")
        if verdict.action == "silent_check":
            return session_views.silent_check_response(request)
        if verdict.action in {"ended", "reauthenticate"}:
            return session_views.reauthentication_response(request, verdict.reason)
        return None

    def process_exception(self, request: HttpRequest, exception: Exception
                          ) -> HttpResponseBase | None:
        """A view's ``get_access_token`` found no token to be had: 401 JSON for XHR/fetch,
        else a sign-in (or the "signed out" page if the session ended). The provider down
        while renewing: a 502/503/504 page (JSON for XHR), never a 500."""
        from .exceptions import IdPLogoutError, ReauthenticationRequired

        if not isinstance(exception, IdPLogoutError):
            return None
        from . import session_views

        if isinstance(exception, ReauthenticationRequired):
            if exception.ended is not None:
                # Outside the view's transaction now: end it again in case a rollback
                # (ATOMIC_REQUESTS) undid the ending.
                self.session_end.end_stored(*exception.ended)
            return session_views.reauthentication_response(request, exception.reason)
        return session_views.failure_response(request, exception)

    def end_if_revoked(self, request: HttpRequest) -> None:
        """Cookie sessions only: end this one if a logout revoked it (a store lookup)."""
        # Whatever its provider, configured or not: a logged-out copy of a cookie must stop.
        data = self.session.load(request, any_provider=True)
        if data is not None and self.session_end.is_revoked(data):
            logger.info("stage=logout ended a cookie-based session that a logout revoked")
            logout(request)


#: The app's views that answer only JSON: a single-page app's ``session/`` and ``api/``.
#: Unlike the app's other views, the lifetime rules and the session check apply to them.
JSON_VIEWS = frozenset({"session", "api"})


def _own_view(request: HttpRequest) -> str | None:
    match = getattr(request, "resolver_match", None)
    if match is None or "idp_logout" not in match.app_names:
        return None
    return str(match.url_name)


def is_json_view(request: HttpRequest) -> bool:
    """One of :data:`JSON_VIEWS`: every answer, errors included, is JSON."""
    return _own_view(request) in JSON_VIEWS


def _is_own_view(request: HttpRequest) -> bool:
    """The app's sign-in, callback, logout… views: a check must not check itself."""
    name = _own_view(request)
    return name is not None and name not in JSON_VIEWS
