"""``IdPSessionMiddleware``: per-request view of the provider session. Never calls the network.

It gives every request a lazy ``request.idp_session``
(:class:`~django_idp_logout.session.IdPSession` or ``None``) so templates and views can show
the ID token's claims without touching the raw tokens. It reads only the session that
``SessionMiddleware`` already loads for ``request.user``: no extra query, no outbound call.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from . import session as idp_session


class IdPSessionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.idp_session = SimpleLazyObject(lambda: idp_session.load(request))  # type: ignore[attr-defined]
        return self.get_response(request)
