"""Provider-initiated logout, as the relying party decides it: which sessions a logout token
(Back-Channel Logout 1.0) or a front-channel request (Front-Channel Logout 1.0) ends.

Both find the sessions *server-side* by ``(iss, sid)`` (or ``sub``) through the mapping that
sign-in records: browsers block third-party cookies in the provider's front-channel iframe,
so the session whose cookie arrives cannot be relied on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.utils.crypto import constant_time_compare

from .. import routing, session_end, store
from .. import session as idp_session
from ..conf import get_config, using_provider
from ..exceptions import InvalidToken
from ..tokens import jti_claim_ttl, validate_logout_token
from .signout import local_logout

logger = logging.getLogger("django_idp_logout")

#: Longest ``sid`` looked up (the mapping's column).
MAX_SID_LENGTH = 255


@dataclass(frozen=True)
class EndedSessions:
    """What a logout request ended: the local users, one entry per session."""

    issuer: str
    sid: str | None
    subject: str | None
    user_ids: list[Any]
    #: The provider (its key in ``PROVIDERS``) whose keys validated the token.
    provider: str = "default"


def end_sessions_for_token(raw: str) -> EndedSessions:
    """Validate a logout token and end every session it names.

    The ``jti`` is claimed only once the sessions have really ended, so the provider's retry
    of a token that failed with a database error works. Raises
    :class:`~django_idp_logout.exceptions.ProviderUnavailable` (keys unavailable),
    :class:`~django_idp_logout.exceptions.InvalidToken` (invalid, or ``replayed_token``) and
    :class:`~django.db.DatabaseError` (the sessions could not be ended).

    With several providers, the token is validated with each provider that may have issued
    it (:func:`routing.token_candidates`; one, unless several share an issuer) until
    one accepts it; it ends only that provider's sessions.
    """
    return routing.first_accepting(routing.token_candidates(raw),
                                   lambda: _end_sessions_for_token(raw),
                                   final=frozenset({"replayed_token"}))


def _end_sessions_for_token(raw: str) -> EndedSessions:
    config = get_config()
    token = validate_logout_token(raw)
    user_ids = session_end.end_sessions(token.issuer, sid=token.sid, subject=token.subject,
                                        issued_at=token.iat, provider=config.name)
    if not store.claim_once("jti", f"{token.issuer}\0{token.jti}", jti_claim_ttl(config),
                            config=config):
        raise InvalidToken("the logout token was sent again (its sessions are ended)",
                           code="replayed_token", stage="backchannel")
    logger.info("stage=backchannel provider=%s ended %d session(s) (sid given: %s, sub given: "
                "%s)", config.provider, len(user_ids), token.sid is not None,
                token.subject is not None)
    return EndedSessions(token.issuer, token.sid, token.subject, user_ids, config.name)


@dataclass(frozen=True)
class FrontchannelOutcome:
    """What a front-channel request did: sessions ended server-side, and this browser's own
    signed-in user when its session was one of them (``None`` otherwise)."""

    sessions: int = 0
    user: Any = None
    database_error: bool = False
    #: The local users of the sessions ended (one entry per session).
    user_ids: tuple[Any, ...] = ()

    @property
    def ended(self) -> bool:
        return bool(self.sessions) or self.user is not None


def end_sessions_for_frontchannel(request: HttpRequest, iss: str | None,
                                  sid: str | None) -> FrontchannelOutcome:
    """End the sessions of ``(iss, sid)``: only for a configured issuer and a plausible
    ``sid`` (with several providers, the sessions of the providers with that ``ISSUER``);
    this browser's own session too when its ``sid`` matches (constant time). Anything else
    changes nothing."""
    names = routing.providers_for_issuer(iss)
    if not names or not isinstance(sid, str) or not 0 < len(sid) <= MAX_SID_LENGTH:
        logger.info("stage=frontchannel request without a configured provider's iss and a "
                    "sid; nothing changed")
        return FrontchannelOutcome()
    assert isinstance(iss, str)
    data = idp_session.load(request)
    own = (data is not None and data.issuer == iss and data.provider in names
           and bool(data.sid) and constant_time_compare(sid, data.sid or ""))
    user = request.user if own else None
    user_ids: list[Any] = []
    database_error = False
    try:
        for name in names:
            user_ids += session_end.end_sessions(iss, sid=sid, subject=None, provider=name)
    except Exception:  # the database or a cache backend: this browser still signs out
        logger.exception("stage=frontchannel could not end the sessions")
        database_error = True
    if own:
        with using_provider(data.provider if data is not None else None):
            local_logout(request)
    if not user_ids and not own:
        logger.info("stage=frontchannel provider=%s request matched no session; nothing "
                    "changed", ",".join(get_config(n).provider for n in names))
    return FrontchannelOutcome(sessions=len(user_ids), user=user,
                               database_error=database_error, user_ids=tuple(user_ids))
