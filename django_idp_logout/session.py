"""What a signed-in session remembers about the provider, and how such sessions end.

The ID token (needed as ``id_token_hint`` at logout), ``sid``, the ID token's claims and a
copy of the access token live in ``request.session`` under one key; the refresh token, and
the authoritative copy of all three tokens, on the session's mapping row
(:mod:`~django_idp_logout.token_store`). With the ``signed_cookies`` engine the session *is*
a cookie the browser can read, so no access or refresh token is ever stored there (the ID
token, which describes the user to the user, is).

For provider-initiated logout, each sign-in is also recorded in :class:`OIDCSession`
(``sid``/``sub`` → session key, indexed) so a logout token can delete exactly the matching
sessions from whatever session engine the site uses (:mod:`.session_end`). The session key
changes over a session's life (``cycle_key()`` on every sign-in, ``update_session_auth_hash``
…), so the session data remembers its mapping row and :func:`follow_key_cycle` (called by the
middleware) moves the row to the new key.

This module imports Django and the app's storage only: the middleware imports it on every
request, so it must not pull in the network or token layers.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import import_module
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db.models import QuerySet
from django.http import HttpRequest

from . import token_store
from .conf import DEFAULT_NAME, active_provider, provider_names, stored_provider
from .models import OIDCSession

if TYPE_CHECKING:
    from .client import TokenResponse
    from .tokens import IDToken

logger = logging.getLogger("django_idp_logout")

SESSION_KEY = "_idp_logout_session"


@dataclass(frozen=True)
class IdPSession:
    """Read-only view of the provider session data of a signed-in user."""

    issuer: str
    subject: str
    sid: str | None
    claims: Mapping[str, Any]
    id_token: str | None = field(repr=False)
    #: A copy (server-side engines only); the authoritative tokens, with the refresh token,
    #: are on the mapping row (:func:`token_store.read`).
    access_token: str | None = field(repr=False)
    expires_at: float | None
    signed_in_at: float = 0.0
    #: Random id of this sign-in (cookie sessions: the key of its local-logout marker).
    rid: str = ""
    #: The provider it signed in with: its key in ``PROVIDERS`` (``"default"``: flat form).
    provider: str = DEFAULT_NAME


def session_store_class() -> type[SessionBase]:
    return import_module(settings.SESSION_ENGINE).SessionStore  # type: ignore[no-any-return]


def engine_can_delete() -> bool:
    """``False`` for cookie-based engines, whose sessions live in the browser only."""
    from django.contrib.sessions.backends.signed_cookies import SessionStore as CookieStore

    return not issubclass(session_store_class(), CookieStore)


def store(request: HttpRequest, id_token: IDToken, tokens: TokenResponse, *,
          replaces: Mapping[str, Any] | None = None) -> None:
    """Record the provider session; call right after ``django.contrib.auth.login()``.

    ``replaces``: the provider session data this session had before (a second sign-in, or
    another account's): its mapping row, and the tokens on it, go.

    The tokens go to the mapping row (:mod:`.token_store`, in the same INSERT); the session
    keeps a copy of the access token (server-side engines only: a signed cookie is readable
    by anyone holding it) and never the refresh token.
    """
    server_side = engine_can_delete()
    now = time.time()
    token_set = token_store.issued(
        access_token=tokens.access_token, refresh_token=tokens.refresh_token,
        id_token=id_token.raw, expires_in=tokens.expires_in, version=0, now=now)
    data: dict[str, Any] = {
        "provider": active_provider(),
        "iss": id_token.issuer,
        "sub": id_token.subject,
        "sid": id_token.sid,
        "claims": dict(id_token.claims),
        "id_token": id_token.raw,
        "access_token": tokens.access_token if server_side else None,
        "expires_at": token_set.expires_at,
        "lifetime": token_set.lifetime,
        "token_version": 0,
        "signed_in_at": now,
        "checked_at": now,
        "seen_at": now,
        "rid": secrets.token_urlsafe(16),
    }
    if replaces is not None:
        mapping(replaces).delete()
    data["mapping"], data["key"] = record(request, id_token, token_set)
    request.session[SESSION_KEY] = data


def record(request: HttpRequest, id_token: IDToken,
           tokens: token_store.TokenSet | None = None) -> tuple[int, str | None]:
    """Map the provider session to this Django session; ``(row id, session key)``."""
    server_side = engine_can_delete()
    if server_side and request.session.session_key is None:
        # login() flushed a previous user's session (account switch): the new key only
        # exists once saved, and the mapping needs it now.
        request.session.save()
    key = request.session.session_key if server_side else None
    user = request.user if request.user.is_authenticated else None
    row = OIDCSession.objects.create(
        provider=active_provider(), issuer=id_token.issuer, subject=id_token.subject,
        sid=id_token.sid or "", session_key=key or "", user=user,
        expires=request.session.get_expiry_date(),
        tokens=token_store.encode(tokens) if tokens else "")
    return row.pk, key


def raw(request: HttpRequest, *, any_provider: bool = False) -> dict[str, Any] | None:
    """This request's provider session data as stored (``None``: not an OIDC sign-in; unless
    ``any_provider``, also when its provider is no longer in ``PROVIDERS``)."""
    data = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    if not isinstance(data, dict):
        return None
    return data if any_provider or provider_of(data) in provider_names() else None


def provider_of(data: Mapping[str, Any] | None) -> str:
    """The provider a session's data says it signed in with; the default provider for data
    written before ``PROVIDERS`` existed (a name no longer configured is returned as is:
    callers treat it as gone)."""
    return stored_provider(data.get("provider") if data is not None else None)


def request_provider(request: HttpRequest) -> str | None:
    """The provider of this request's session, for :func:`conf.using_provider` (``None``:
    not an OIDC sign-in)."""
    data = raw(request, any_provider=True)
    return provider_of(data) if data is not None else None


def load(request: HttpRequest, *, any_provider: bool = False) -> IdPSession | None:
    """The provider session of this request's session, or ``None`` (not an OIDC sign-in, or
    signed in with a provider no longer in ``PROVIDERS``: it can be neither renewed nor
    ended there, so a logout is local only; ``any_provider`` includes those)."""
    data = raw(request, any_provider=any_provider)
    if data is None:
        return None
    try:
        return IdPSession(
            issuer=str(data["iss"]), subject=str(data["sub"]), sid=data.get("sid"),
            claims=dict(data.get("claims") or {}), id_token=data.get("id_token"),
            access_token=data.get("access_token"), expires_at=data.get("expires_at"),
            signed_in_at=float(data.get("signed_in_at", 0)),
            rid=str(data.get("rid") or ""), provider=provider_of(data),
        )
    except (KeyError, TypeError, ValueError):
        return None


def follow_key_cycle(request: HttpRequest) -> None:
    """Move this session's mapping to its current key if the key changed during the request.

    Called by the middleware on the way out. Costs nothing unless the request touched the
    session (a view that did not access it cannot have cycled its key), and one UPDATE when
    the key did change.
    """
    session = getattr(request, "session", None)
    if session is None or not session.accessed or not engine_can_delete():
        return
    data = session.get(SESSION_KEY)
    key = session.session_key
    if not isinstance(data, dict) or not key or data.get("key") == key:
        return
    moved = mapping(data).update(session_key=key)
    if data.get("mapping") is not None and not moved:
        # A logout removed the mapping while this request cycled the key: the session it
        # ended lives on under the new key unless it ends here.
        logger.info("stage=logout a session ended by a logout while its key cycled: ended")
        session.flush()
        return
    session[SESSION_KEY] = {**data, "key": key}


def mapping(data: Mapping[str, Any]) -> QuerySet[OIDCSession]:
    """This session's mapping row, by the id it remembers (none for a session signed in by an
    older version, whose row ``clear_idp_sessions`` removes once the session is gone)."""
    rows: QuerySet[OIDCSession] = OIDCSession.objects.filter(pk=data.get("mapping"))
    return rows if data.get("mapping") is not None else rows.none()
