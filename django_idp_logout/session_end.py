"""How signed-in sessions end: a local logout (:func:`forget`), a logout the provider asks
for (:func:`end_sessions`, by ``sid`` or ``sub``, through whatever session engine the site
uses), and the check that ends a cookie session a logout revoked (:func:`is_revoked`).

The ``signed_cookies`` engine keeps sessions in the browser, where the server cannot delete
them: for it, revocation markers (:mod:`~django_idp_logout.store`: the shared cache when it is
shared and atomic, else the database) are written instead, and the middleware ends a marked
session on its next request. A local logout writes such a marker too, so a copy of the cookie
stops working.

Like :mod:`.session`, this imports Django and the app's storage only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone as dj_timezone

from . import store as shared_store
from .conf import stored_names, stored_provider
from .models import OIDCSession
from .session import SESSION_KEY, IdPSession, engine_can_delete, mapping, session_store_class

logger = logging.getLogger("django_idp_logout")


def forget(request: HttpRequest) -> None:
    """A session that ends here: drop its mapping, or mark a cookie session as ended.

    Never raises: logout must complete even with the database or cache down (logged).
    """
    data = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    if not isinstance(data, dict):
        return
    try:
        rid = data.get("rid")
        if not engine_can_delete() and isinstance(rid, str) and rid:
            shared_store.set_markers({_marker("rid", "", rid): time.time()},
                                     settings.SESSION_COOKIE_AGE)
        mapping(data).delete()
    except DatabaseError:
        logger.exception("stage=logout could not remove the session mapping (database error); "
                         "the local logout goes on")
    except Exception:  # a cache backend's own errors: logout must go on
        logger.exception("stage=logout could not record the local logout; it goes on")


def end_stored(session_key: str | None, data: Mapping[str, Any]) -> None:
    """End, again, a session whose ending a rolled-back transaction may have undone (a view
    under ``ATOMIC_REQUESTS`` that let ``ReauthenticationRequired`` out): its mapping row
    and tokens, its stored session (by key) or, for a cookie session, its revocation marker.
    Idempotent; never raises."""
    try:
        mapping(data).delete()
        if not engine_can_delete():
            rid = data.get("rid")
            if isinstance(rid, str) and rid:
                shared_store.set_markers({_marker("rid", "", rid): time.time()},
                                         settings.SESSION_COOKIE_AGE)
        elif session_key:
            session_store_class()(session_key=session_key).delete()
    except Exception:
        logger.exception("stage=session could not end the session outside the transaction")


# --- provider-initiated logout ----------------------------------------------------------------


def _marker(kind: str, issuer: str, value: str, provider: str = "default") -> str:
    # The flat form's provider ("default") keeps the markers it had before PROVIDERS.
    scope = issuer if provider == "default" else f"{provider}\0{issuer}"
    return f"revoked-{kind}:{scope}\0{value}"


def _as_datetime(timestamp: float) -> datetime:
    value = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return value if settings.USE_TZ else dj_timezone.make_naive(value)


def end_sessions(issuer: str, *, sid: str | None, subject: str | None,
                 issued_at: float | None = None, provider: str = "default") -> list[Any]:
    """End every session matching a logout request: by ``sid`` (and ``sub`` when both are
    given) that one session, by ``sub`` alone every session of that user at that issuer that
    started before ``issued_at`` (the logout token's ``iat``: a sign-in after the logout the
    token announces is a new session, Back-Channel Logout 1.0 §2.7).

    Only sessions signed in with ``provider`` (the one whose keys validated the request):
    a logout from one provider never ends another's sessions, even at the same issuer.

    Returns the ids of the local users whose sessions ended (one per session). Raises
    :class:`~django.db.DatabaseError` when they could not be ended, so the caller can answer
    503 and the provider retry.
    """
    rows = OIDCSession.objects.filter(issuer=issuer, provider__in=stored_names(provider))
    if sid:
        rows = rows.filter(sid=sid)
    if subject:
        rows = rows.filter(subject=subject)
    if subject and not sid and issued_at is not None:
        # ``iat`` has whole seconds: a session started within that second counts as before.
        rows = rows.filter(created__lt=_as_datetime(issued_at + 1))
    with transaction.atomic():
        found = list(rows.values_list("user_id", "session_key"))
        if not found:
            return []
        if engine_can_delete():
            _delete_sessions(rows, [key for _, key in found if key])
        else:
            markers = {}
            if sid:
                markers[_marker("sid", issuer, sid, provider)] = time.time()
            elif subject:
                # Like the rows above: sessions started before the token (or before now,
                # whichever is earlier) end; a sign-in after this logout is a new session.
                now = time.time()
                markers[_marker("sub", issuer, subject, provider)] = (
                    now if issued_at is None else min(now, issued_at + 1))
            shared_store.set_markers(markers, settings.SESSION_COOKIE_AGE)
        rows.delete()  # one DELETE by the same indexed filter, however many sessions
    return [user_id for user_id, _ in found]


def end_rows(rows: QuerySet[OIDCSession]) -> list[Any]:
    """End the sessions of these mapping rows (an operator's doing: the admin,
    ``clear_idp_sessions --user``), through whatever engine the site uses, as
    :func:`end_sessions` does. A cookie session is ended by its ``sid``'s marker, or, without
    one, by its subject's (every cookie session of that identity started before now). Returns
    the ids of their users (one per session)."""
    with transaction.atomic():
        found = list(rows.values_list("user_id", "session_key", "issuer", "subject", "sid",
                                      "provider"))
        if not found:
            return []
        if engine_can_delete():
            _delete_sessions(rows, [key for _, key, *_ in found if key])
        else:
            now = time.time()
            shared_store.set_markers({
                _marker("sid", issuer, sid, stored_provider(provider)) if sid
                else _marker("sub", issuer, subject, stored_provider(provider)): now
                for _, _, issuer, subject, sid, provider in found}, settings.SESSION_COOKIE_AGE)
        OIDCSession.objects.filter(pk__in=rows.values("pk")).delete()
    return [user_id for user_id, *_ in found]


def _delete_sessions(rows: QuerySet[OIDCSession], keys: list[str]) -> None:
    """Delete the sessions of ``rows`` through the site's own engine: for the plain ``db``
    engine one DELETE whose subquery selects them (no list of keys sent back and forth)."""
    from django.contrib.sessions.backends.cached_db import SessionStore as CachedDBStore
    from django.contrib.sessions.backends.db import SessionStore as DBStore

    session_store = session_store_class()
    if issubclass(session_store, DBStore) and not issubclass(session_store, CachedDBStore):
        session_store.get_model_class().objects.filter(
            session_key__in=rows.exclude(session_key="").values("session_key")).delete()
        return
    for key in keys:
        session_store(session_key=key).delete()


def is_revoked(data: IdPSession) -> bool:
    """Has a logout (back-channel, front-channel or local) ended this cookie session?"""
    keys = [_marker("sub", data.issuer, data.subject, data.provider)]
    if data.sid:
        keys.append(_marker("sid", data.issuer, data.sid, data.provider))
    if data.rid:
        keys.append(_marker("rid", "", data.rid))
    revoked_at = shared_store.get_markers(keys).values()
    return any(isinstance(t, (int, float)) and t >= data.signed_in_at for t in revoked_at)


def announce_signed_out(sender: Any, *, how: str, provider: str, user: Any = None,
                        user_ids: Iterable[Any] = (), request: HttpRequest | None = None
                        ) -> None:
    """Send ``signed_out`` for ``user`` and for each of ``user_ids`` (looked up only when a
    receiver is connected). Never raises: a receiver's failure is logged."""
    from django.contrib.auth import get_user_model

    from .signals import signed_out

    if not signed_out.has_listeners(sender):
        return
    users = [user] if user is not None and user.is_authenticated else []
    ids = {pk for pk in user_ids if pk is not None} - {getattr(u, "pk", None) for u in users}
    if ids:
        users += list(get_user_model()._default_manager.filter(pk__in=ids))
    for one in users:
        for _, result in signed_out.send_robust(sender=sender, request=request, user=one,
                                                how=how, provider=provider):
            if isinstance(result, Exception):
                logger.error("stage=signal a signed_out receiver failed: %r", result)
