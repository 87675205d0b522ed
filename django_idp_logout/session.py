"""What a signed-in session remembers about the provider, and how such sessions end.

The ID token (needed as ``id_token_hint`` at logout), the access and refresh tokens (needed
to revoke them), ``sid`` and the ID token's claims live in ``request.session`` under one key.
They are never put in a cookie by this app; with the ``signed_cookies`` session engine Django
itself would, which a system check reports.

For provider-initiated logout, each sign-in is also recorded in :class:`OIDCSession`
(``sid``/``sub`` → session key, indexed) so a back-channel logout can delete exactly the
matching sessions from whatever session engine the site uses. The ``signed_cookies`` engine
keeps sessions in the browser, where the server cannot delete them: for it, a revocation
marker goes into the shared cache and :class:`~django_idp_logout.middleware.IdPSessionMiddleware`
ends the session on its next request.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.cache import caches
from django.db import transaction
from django.http import HttpRequest

from .client import TokenResponse
from .conf import get_config
from .models import OIDCSession
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
    access_token: str | None = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: float | None
    signed_in_at: float = 0.0


def store(request: HttpRequest, id_token: IDToken, tokens: TokenResponse) -> None:
    """Record the provider session; call right after ``django.contrib.auth.login()``."""
    request.session[SESSION_KEY] = {
        "iss": id_token.issuer,
        "sub": id_token.subject,
        "sid": id_token.sid,
        "claims": dict(id_token.claims),
        "id_token": id_token.raw,
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "expires_at": time.time() + tokens.expires_in if tokens.expires_in else None,
        "signed_in_at": time.time(),
    }
    record(request, id_token)


def load(request: HttpRequest) -> IdPSession | None:
    """The provider session of this request's session, or ``None`` (not an OIDC sign-in)."""
    data = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    if not isinstance(data, dict):
        return None
    try:
        return IdPSession(
            issuer=str(data["iss"]), subject=str(data["sub"]), sid=data.get("sid"),
            claims=dict(data.get("claims") or {}), id_token=data.get("id_token"),
            access_token=data.get("access_token"), refresh_token=data.get("refresh_token"),
            expires_at=data.get("expires_at"), signed_in_at=float(data.get("signed_in_at", 0)),
        )
    except (KeyError, TypeError, ValueError):
        return None


# --- provider-initiated logout ----------------------------------------------------------------


def session_store_class() -> type[SessionBase]:
    return import_module(settings.SESSION_ENGINE).SessionStore  # type: ignore[no-any-return]


def engine_can_delete() -> bool:
    """``False`` for cookie-based engines, whose sessions live in the browser only."""
    from django.contrib.sessions.backends.signed_cookies import SessionStore as CookieStore

    return not issubclass(session_store_class(), CookieStore)


def record(request: HttpRequest, id_token: IDToken) -> None:
    """Map the provider session to this Django session (called at sign-in)."""
    key = request.session.session_key if engine_can_delete() else None
    user = request.user if request.user.is_authenticated else None
    OIDCSession.objects.create(
        issuer=id_token.issuer, subject=id_token.subject, sid=id_token.sid or "",
        session_key=key or "", user=user, expires=request.session.get_expiry_date())


def forget(session_key: str | None) -> None:
    """Drop the mapping of a session that ended here (local logout)."""
    if session_key and engine_can_delete():
        OIDCSession.objects.filter(session_key=session_key).delete()


def _marker(kind: str, issuer: str, value: str) -> str:
    digest = hashlib.sha256(f"{issuer}\0{value}".encode()).hexdigest()[:40]
    return f"idp_logout:revoked:{kind}:{digest}"


def end_sessions(issuer: str, *, sid: str | None, subject: str | None) -> list[Any]:
    """End every session matching a logout token: by ``sid`` (and ``sub`` when both are
    given) that one session, by ``sub`` alone every session of that user at that issuer.

    Returns the ids of the local users whose sessions ended (one per session). Also writes
    revocation markers, which the middleware enforces for cookie-based sessions.
    """
    rows = OIDCSession.objects.filter(issuer=issuer)
    if sid:
        rows = rows.filter(sid=sid)
    if subject:
        rows = rows.filter(subject=subject)
    with transaction.atomic():
        found = list(rows.values_list("pk", "session_key", "user_id"))
        if engine_can_delete():
            _delete_sessions([key for _, key, _ in found if key])
        else:
            markers = {}
            if sid:
                markers[_marker("sid", issuer, sid)] = time.time()
            if subject and not sid:
                markers[_marker("sub", issuer, subject)] = time.time()
            caches[get_config().cache_alias].set_many(markers,
                                                      timeout=settings.SESSION_COOKIE_AGE)
        OIDCSession.objects.filter(pk__in=[pk for pk, _, _ in found]).delete()
    return [user_id for _, _, user_id in found]


def _delete_sessions(keys: list[str]) -> None:
    """Delete sessions through the site's own engine; one query for the plain ``db`` engine."""
    from django.contrib.sessions.backends.cached_db import SessionStore as CachedDBStore
    from django.contrib.sessions.backends.db import SessionStore as DBStore

    store = session_store_class()
    if issubclass(store, DBStore) and not issubclass(store, CachedDBStore):
        store.get_model_class().objects.filter(session_key__in=keys).delete()
        return
    for key in keys:
        store(session_key=key).delete()


def is_revoked(data: IdPSession) -> bool:
    """Has a back-channel logout ended this (cookie-based) session since it signed in?"""
    keys = [_marker("sub", data.issuer, data.subject)]
    if data.sid:
        keys.append(_marker("sid", data.issuer, data.sid))
    revoked_at = caches[get_config().cache_alias].get_many(keys).values()
    return any(isinstance(t, (int, float)) and t >= data.signed_in_at for t in revoked_at)
