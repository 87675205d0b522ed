"""``bearer_token_required``: a plain Django view (sync or async) that accepts the provider's
access tokens (:mod:`.bearer_auth`).

::

    from django_idp_logout.decorators import bearer_token_required

    @bearer_token_required(scopes=["orders:read"])
    def orders(request):
        request.user   # the token's user (AnonymousUser for a client's own token)
        request.auth   # django_idp_logout.bearer.AccessToken: claims, scopes, client_id

The view is exempt from CSRF: the browser's cookies are not what authenticates it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse

View = TypeVar("View", bound=Callable[..., Any])


@overload
def bearer_token_required(view: View) -> View: ...
@overload
def bearer_token_required(*, scopes: Iterable[str] = ()) -> Callable[[View], View]: ...


def bearer_token_required(view: Any = None, *, scopes: Iterable[str] = ()) -> Any:
    """Let the view run only for a request with a valid bearer token that has ``scopes``
    (and ``API["SCOPES"]``); answer 400/401/403/503 per RFC 6750 otherwise. Without
    ``API["AUDIENCE"]`` every request raises ``ImproperlyConfigured`` (and ``manage.py
    check`` reports django_idp_logout.E035)."""
    required = tuple(scopes)

    def decorate(func: View) -> View:
        if iscoroutinefunction(func):
            @functools.wraps(func)
            async def async_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                refused = await sync_to_async(_authenticate)(request, required)
                return refused if refused is not None else await func(request, *args, **kwargs)
            wrapper: Any = async_view
        else:
            @functools.wraps(func)
            def sync_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                refused = _authenticate(request, required)
                return refused if refused is not None else func(request, *args, **kwargs)
            wrapper = sync_view
        wrapper.csrf_exempt = True
        return wrapper  # type: ignore[no-any-return]

    return decorate(view) if view is not None else decorate


def _authenticate(request: HttpRequest, scopes: tuple[str, ...]) -> HttpResponse | None:
    """Set ``request.user`` and ``request.auth``; the error response instead, if refused."""
    from .bearer_auth import BearerError, authenticate, bearer_token, require_audience

    require_audience()
    try:
        token = bearer_token(request)
        if token is None:
            raise BearerError(401)
        user, request.auth = authenticate(request, token, scopes)  # type: ignore[attr-defined]
    except BearerError as exc:
        return exc.response()
    request.user = user

    async def auser() -> Any:  # Django 5.0+: what async code (and login_required) asks
        return user
    request.auser = auser
    return None
