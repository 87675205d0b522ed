"""A signed-in session's life after the sign-in, as the relying party decides it: idle and
absolute lifetimes, and the periodic check with the provider (``SESSION_CHECK_INTERVAL``).

The middleware asks :func:`check` before each view and turns the :class:`Verdict` into a
response; the callback hands a ``prompt=none`` check's answer to :func:`complete_check`.
Nothing here costs a query or a request unless something is due: the times it needs are in
the session data the request has already loaded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest

from .. import session as idp_session
from .. import token_store
from ..client import TokenResponse
from ..conf import IdPConfig, get_config
from ..errors import log_failure, new_reference
from ..exceptions import (
    AuthorizationError,
    IdPLogoutError,
    InvalidToken,
    ReauthenticationRequired,
)
from ..providers import BoundProvider, get_provider
from ..signals import tokens_renewed
from ..state import Attempt
from ..tokens import IDToken
from . import renewal
from .signin import SignInOutcome, redeem
from .signout import expire_session

logger = logging.getLogger("django_idp_logout")

#: Activity (``SESSION_IDLE_TIMEOUT``) is written at most this often (seconds).
SEEN_GRANULARITY = 60.0
#: After the provider could not be reached, the next check waits this long (seconds).
RETRY_AFTER_FAILURE = 60.0
#: A ``prompt=none`` answer that means "the provider will not vouch for this user now"
#: (Core §3.1.2.6): the session ends.
SILENT_REFUSALS = frozenset({"login_required", "interaction_required", "consent_required",
                             "account_selection_required", "access_denied"})


@dataclass(frozen=True)
class Verdict:
    """What the middleware should do with a request.

    ``action``: ``"continue"`` (to the view), ``"ended"`` (the session ended: say so),
    ``"silent_check"`` (send this navigation through a ``prompt=none`` round trip),
    ``"reauthenticate"`` (an XHR whose check needs the browser: 401, the session goes on).
    """

    action: str
    reason: str = ""


CONTINUE = Verdict("continue")


def check(request: HttpRequest, *, navigation: bool, wants_json: bool,
          activity: bool = True) -> Verdict:
    """The verdict for this request of a possibly signed-in session.

    ``navigation``: a top-level GET the browser may be redirected from; ``wants_json``: an
    XHR/fetch request, which is never redirected to the provider; ``activity``: the request
    is the user's doing (a single-page app polling ``session/`` is not: it must not keep an
    idle session alive).
    """
    config = get_config()
    data = idp_session.raw(request)
    if data is None or not request.user.is_authenticated:
        return CONTINUE
    now = time.time()
    reason = expired(data, config, now)
    if reason:
        expire_session(request, reason, sender=check, revoke=True)
        return Verdict("ended", reason)
    if activity:
        _touch(request, data, config, now)
    interval = config.session_check_interval
    due = None if interval is None else _due(data, interval, now)
    if interval is None or due is None:
        return CONTINUE
    return _check_with_provider(request, data, interval, navigation=navigation,
                                wants_json=wants_json,
                                recent=now - _last_check(data) < min(interval,
                                                                      RETRY_AFTER_FAILURE))


def expired(data: Mapping[str, Any], config: IdPConfig, now: float) -> str | None:
    """``"max_age"`` or ``"idle_timeout"`` when the session is past a lifetime, else ``None``.

    A session with no recorded activity (signed in before ``SESSION_IDLE_TIMEOUT`` was set,
    or by an older version) counts as active now: turning the setting on ends nobody.
    """
    signed_in = _number(data.get("signed_in_at"), now)
    if config.session_max_age is not None and now - signed_in >= config.session_max_age:
        return "max_age"
    seen = _number(data.get("seen_at"), now)
    if config.session_idle_timeout is not None and now - seen >= config.session_idle_timeout:
        return "idle_timeout"
    return None


def ends_at(data: Mapping[str, Any], config: IdPConfig, now: float) -> float | None:
    """When the session will end if nothing else happens (epoch seconds): the earlier of its
    ``SESSION_MAX_AGE`` and, counted from its last recorded activity,
    ``SESSION_IDLE_TIMEOUT``; ``None`` with neither set. (Django's own session expiry comes
    on top; the caller knows it.)"""
    limits = []
    if config.session_max_age is not None:
        limits.append(_number(data.get("signed_in_at"), now) + config.session_max_age)
    if config.session_idle_timeout is not None:
        limits.append(_number(data.get("seen_at"), now) + config.session_idle_timeout)
    return min(limits, default=None)


def _number(value: Any, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) else default


def _touch(request: HttpRequest, data: dict[str, Any], config: IdPConfig, now: float) -> None:
    """Record activity, at most once per :data:`SEEN_GRANULARITY` (a tenth of a short idle
    timeout): most requests write nothing."""
    idle = config.session_idle_timeout
    if idle is None:
        return
    if now - _number(data.get("seen_at"), 0.0) >= min(SEEN_GRANULARITY, idle / 10):
        request.session[idp_session.SESSION_KEY] = {**data, "seen_at": now}


def _due(data: Mapping[str, Any], interval: int, now: float) -> str | None:
    """``"interval"`` once ``interval`` has passed since the last check, ``"expired"`` when
    the access token has expired, ``None`` when no check is due — never before a postponed
    check's time (``check_after``)."""
    if now < _number(data.get("check_after"), 0.0):
        return None
    if now - _last_check(data) >= interval:
        return "interval"
    expires_at = data.get("expires_at")
    return "expired" if isinstance(expires_at, (int, float)) and expires_at <= now else None


def _last_check(data: Mapping[str, Any]) -> float:
    return _number(data.get("checked_at"), _number(data.get("signed_in_at"), 0.0))


def postpone(request: HttpRequest) -> None:
    """The provider could not answer: check again in :data:`RETRY_AFTER_FAILURE` seconds, not
    on every request (nor sign the user out for the provider's outage)."""
    data = idp_session.raw(request)
    if data is None:
        return
    request.session[idp_session.SESSION_KEY] = {
        **data, "check_after": time.time() + RETRY_AFTER_FAILURE}


def _check_with_provider(request: HttpRequest, data: dict[str, Any], interval: int, *,
                         navigation: bool, wants_json: bool, recent: bool) -> Verdict:
    """A due check: a renewal with the refresh token when there is one (its success sets a
    new expiry, so it cannot repeat at once). Without one, a ``prompt=none`` round trip for a
    navigation — but not within :data:`RETRY_AFTER_FAILURE` of the last check (``recent``),
    whatever made it due: a navigation is never sent to the provider twice in a row."""
    try:
        current = token_store.read(data)
    except DatabaseError:
        logger.exception("stage=session could not read the session's tokens; check postponed")
        postpone(request)
        return CONTINUE
    if current is not None and current.refresh_token:
        try:
            # A set issued within the interval (another request's check or renewal) counts.
            renewal.renew(request, force=True, seen=current, fresh_within=interval)
        except ReauthenticationRequired as exc:
            return Verdict("ended", exc.reason)  # renewal has ended the session
        except IdPLogoutError as exc:
            log_failure(exc, new_reference(), level=logging.WARNING)
            postpone(request)
        return CONTINUE
    if recent:
        return CONTINUE
    if navigation:
        return Verdict("silent_check")
    if wants_json:
        return Verdict("reauthenticate", "check_required")
    return CONTINUE  # a POST is never redirected: the next navigation checks


def complete_check(request: HttpRequest, params: Mapping[str, str], attempt: Attempt, *,
                   redirect_uri: str) -> SignInOutcome:
    """The provider's answer to a ``prompt=none`` session check (the attempt is taken).

    Still signed in, as the same user: the session goes on with the new tokens. Refused
    (``login_required`` …), an invalid ID token, or another user: the session ends. The
    provider unreachable: the check is postponed and the user goes on.
    """
    data = idp_session.raw(request)
    done = SignInOutcome(redirect_to=attempt.next_url)
    if (data is None or not request.user.is_authenticated
            or idp_session.provider_of(data) != attempt.provider):
        # Signed out meanwhile (another tab), or signed in again with another provider:
        # this check is about a session that is gone.
        return done
    try:
        bound = BoundProvider.discover(get_provider(get_config()))
        tokens, id_token = redeem(bound, params, attempt, redirect_uri)
    except AuthorizationError as exc:
        if exc.code not in SILENT_REFUSALS:
            return _postponed(request, exc, done)
        return _ended(request, exc.code, next_url=attempt.next_url)
    except InvalidToken as exc:
        log_failure(exc, new_reference(), level=logging.WARNING)
        return _ended(request, "id_token_rejected", next_url=attempt.next_url)
    except IdPLogoutError as exc:
        return _postponed(request, exc, done)
    if not _same_user(id_token, data):
        logger.warning("stage=session the provider now vouches for another user: session ended")
        return _ended(request, "subject_changed", next_url=attempt.next_url)
    try:
        _store_checked(request, data, id_token, tokens)
    except DatabaseError:
        logger.exception("stage=session could not store the checked session's tokens")
        postpone(request)
    except ReauthenticationRequired:
        return SignInOutcome(ended="session_ended", next_url=attempt.next_url)
    return done


def _same_user(id_token: IDToken, data: Mapping[str, Any]) -> bool:
    return id_token.issuer == data.get("iss") and id_token.subject == data.get("sub")


def _store_checked(request: HttpRequest, data: dict[str, Any], id_token: IDToken,
                   tokens: TokenResponse) -> None:
    current = token_store.read(data)
    if current is None:  # a logout ended the session while the browser was at the provider
        expire_session(request, "session_ended", sender=complete_check, signal=False)
        raise ReauthenticationRequired(reason="session_ended")
    new = token_store.issued(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token or current.refresh_token,
        id_token=id_token.raw, expires_in=tokens.expires_in, version=current.version + 1)
    if not token_store.write(data, expected_version=current.version, tokens=new,
                             sid=id_token.sid):
        postpone(request)  # a renewal stored another set meanwhile: that one stands
        return
    token_store.adopt(request.session, idp_session.SESSION_KEY, new,
                      server_side=idp_session.engine_can_delete(),
                      claims=id_token.claims, checked_at=time.time(), sid=id_token.sid)
    tokens_renewed.send_robust(sender=complete_check, request=request, user=request.user,
                               rotated=bool(tokens.refresh_token), id_token=True)


def _ended(request: HttpRequest, reason: str, *, next_url: str) -> SignInOutcome:
    expire_session(request, reason, sender=complete_check)
    return SignInOutcome(ended=reason, next_url=next_url)


def _postponed(request: HttpRequest, exc: IdPLogoutError, done: SignInOutcome
               ) -> SignInOutcome:
    log_failure(exc, new_reference(), level=logging.WARNING)
    postpone(request)
    return done
