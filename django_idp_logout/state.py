"""Pending sign-in attempts (:class:`PendingAttempts`) and logout states: created by
``login/`` and ``logout/``, consumed exactly once by ``callback/`` and ``logout/complete/``.

An attempt (``state``, ``nonce``, PKCE ``code_verifier``, ``next``, creation time) lives in the
browser's session, so it is bound to the browser that started it. Several may be pending at
once (several tabs); they are bounded in number and expire.

Removing a key from a session is not atomic — two concurrent callbacks load the same session —
so "single use" is enforced by :func:`store.claim_once`: an atomic
``cache.add`` when the cache is shared and atomic (Redis, Memcached), else
an INSERT under a unique key in the database. Exactly one request, in any process, wins and
exchanges the code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.http import HttpRequest

from . import store
from .conf import IdPConfig, get_config, stored_provider
from .exceptions import InvalidCallback, LoginExpired

ATTEMPTS_KEY = "_idp_logout_attempts"
#: ``{state digest: next}`` of attempts that signed this session in (double-submit detection).
COMPLETED_KEY = "_idp_logout_completed"
MAX_COMPLETED = 5


@dataclass(frozen=True)
class Attempt:
    state: str
    nonce: str
    code_verifier: str
    next_url: str
    created: float
    #: A ``prompt=none`` session check (``SESSION_CHECK_INTERVAL``), not a sign-in.
    silent: bool = False
    #: The provider it was sent to (its key in ``PROVIDERS``): only its callback completes it.
    provider: str = "default"


def new_secret() -> str:
    """256 bits from the OS CSPRNG, URL-safe (also a valid PKCE verifier: 43 characters)."""
    return secrets.token_urlsafe(32)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def claim_once(kind: str, value: str, ttl: int, config: IdPConfig | None = None) -> bool:
    """Atomically mark ``value`` as used; ``True`` only for the first caller, in any process.

    Kept here (same signature) for existing callers; see :func:`store.claim_once`. Raises
    :class:`django.db.DatabaseError` when the database it uses fails.
    """
    return store.claim_once(kind, value, ttl, config=config)


class AttemptUnavailable(LoginExpired):
    """No attempt can be taken for this ``state``: unknown, expired, or taken already.

    ``next_url`` is the attempt's landing page when it existed (a retry keeps it).
    """

    def __init__(self, detail: str, next_url: str | None = None) -> None:
        super().__init__(detail)
        self.next_url = next_url


class WrongProvider(InvalidCallback):
    """An authorization response at one provider's callback for an attempt sent to another:
    a mix-up attack, or a redirect URI registered at the wrong provider. The attempt (not
    used up) says where "try again" should go."""

    code = "wrong_provider"

    def __init__(self, detail: str, attempt: Attempt) -> None:
        super().__init__(detail)
        self.attempt = attempt


class PendingAttempts:
    """The sign-in attempts pending in one browser session.

    ``create()`` at ``login/``; ``take()`` at ``callback/`` — find, claim and forget in one
    call, so an attempt is used once across requests and processes; ``complete()`` after the
    sign-in, so that a reload of the callback goes on to ``next`` instead of failing.
    """

    def __init__(self, request: HttpRequest, config: IdPConfig | None = None) -> None:
        self.session = request.session
        self.config = config or get_config()

    def _pending(self) -> dict[str, dict[str, Any]]:
        value = self.session.get(ATTEMPTS_KEY)
        return dict(value) if isinstance(value, dict) else {}

    def create(self, next_url: str, *, silent: bool = False) -> Attempt:
        """A new attempt, stored; expired ones and the oldest past the cap are dropped."""
        now, ttl = time.time(), self.config.login_attempt_ttl
        attempt = Attempt(state=new_secret(), nonce=new_secret(), code_verifier=new_secret(),
                          next_url=next_url, created=now, silent=silent,
                          provider=self.config.name)
        pending = {state: data for state, data in self._pending().items()
                   if isinstance(data, dict) and now - float(data.get("created", 0)) < ttl}
        pending[attempt.state] = {"nonce": attempt.nonce, "code_verifier": attempt.code_verifier,
                                  "next": next_url, "created": now, "silent": silent,
                                  "provider": attempt.provider}
        while len(pending) > max(self.config.max_pending_logins, 1):
            oldest = min(pending, key=lambda s: float(pending[s].get("created", 0)))
            del pending[oldest]
        self.session[ATTEMPTS_KEY] = pending
        return attempt

    def take(self, state: str, provider: str | None = None) -> Attempt:
        """The attempt for ``state``, now used up; :class:`AttemptUnavailable` otherwise.

        ``provider``: the provider whose redirect URI the response arrived at; an attempt sent
        to another provider is refused without being used (mix-up defence, RFC 9700 §4.4).
        The claim is atomic across processes (:func:`store.claim_once`): of two concurrent
        callbacks with one ``state``, exactly one gets the attempt. The loser does not write
        the session (the winner may be cycling its key). ``DatabaseError`` propagates.
        """
        attempt = self._find(state)
        if attempt is None:
            raise AttemptUnavailable("state unknown, expired or missing")
        if provider is not None and attempt.provider != provider:
            raise WrongProvider(
                f"the response arrived at provider {provider!r}'s redirect URI for an attempt "
                f"sent to {attempt.provider!r}", attempt)
        if not store.claim_once("state", attempt.state, self.config.login_attempt_ttl,
                                config=self.config):
            raise AttemptUnavailable("state already used", attempt.next_url)
        pending = self._pending()
        pending.pop(attempt.state, None)
        self.session[ATTEMPTS_KEY] = pending
        return attempt

    def provider_of(self, state: str) -> str | None:
        """The provider the pending attempt for ``state`` was sent to (nothing is used up)."""
        attempt = self._find(state[:2048])
        return attempt.provider if attempt is not None else None

    def _find(self, state: str) -> Attempt | None:
        """The pending, unexpired attempt for ``state``, compared in constant time."""
        found = None
        for candidate, data in self._pending().items():
            if isinstance(data, dict) and hmac.compare_digest(candidate.encode(),
                                                              state.encode()):
                found = (candidate, data)
        if found is None:
            return None
        candidate, data = found
        try:
            attempt = Attempt(state=candidate, nonce=str(data["nonce"]),
                              code_verifier=str(data["code_verifier"]),
                              next_url=str(data["next"]), created=float(data["created"]),
                              silent=data.get("silent") is True,
                              provider=stored_provider(data.get("provider")))
        except (KeyError, TypeError, ValueError):
            return None
        if time.time() - attempt.created >= self.config.login_attempt_ttl:
            return None
        return attempt

    def complete(self, attempt: Attempt) -> None:
        """Record that ``attempt`` signed this session in (call after ``login()``)."""
        completed = self.session.get(COMPLETED_KEY)
        completed = dict(completed) if isinstance(completed, dict) else {}
        completed[digest(attempt.state)] = attempt.next_url
        self.session[COMPLETED_KEY] = dict(list(completed.items())[-MAX_COMPLETED:])

    def completed_next_url(self, state: str) -> str | None:
        """Where a reloaded callback should go, if this session finished that attempt."""
        completed = self.session.get(COMPLETED_KEY)
        if not isinstance(completed, dict):
            return None
        next_url = completed.get(digest(state))
        return next_url if isinstance(next_url, str) else None


# --- logout state ---------------------------------------------------------------------------
# The logout request's ``state`` must survive the session flush that logout performs, and the
# provider may send the user back to any server process: it lives in the shared store
# (:mod:`~django_idp_logout.store`: a shared atomic cache, else the database), keyed by a
# digest of its value, not in the session or a cookie (``Clear-Site-Data: "cookies"``
# therefore cannot defeat the check).

LOGOUT_STATE_KIND = "logout-state"


class LogoutReturn(NamedTuple):
    """What a verified logout ``state`` vouches for: where to land, and which provider the
    user was signed out of (its name in ``PROVIDERS``; ``None`` for states of older
    versions)."""

    next_url: str
    provider: str | None
    #: The sign-out came from a script (a single-page app's JSON logout): the app shows
    #: its own feedback, so no message is queued for a page that may never display it.
    quiet: bool = False


def create_logout_state(next_url: str, provider: str | None = None, *,
                        quiet: bool = False) -> str:
    """A fresh single-use logout ``state`` remembering where the user should land and the
    provider they are signing out of.

    Raises :class:`django.db.DatabaseError` when the database it uses fails.
    """
    config = get_config()
    state = new_secret()
    store.put(LOGOUT_STATE_KIND, state, {"next": next_url, "provider": provider,
                                         "quiet": quiet},
              config.logout_state_ttl, config=config)
    return state


def consume_logout_state(state: str) -> LogoutReturn | None:
    """What was stored for ``state`` — once; ``None`` if unknown, expired or reused.

    Raises :class:`django.db.DatabaseError` when the database it uses fails.
    """
    data = store.take(LOGOUT_STATE_KIND, state) or {}
    next_url, provider = data.get("next"), data.get("provider")
    if not isinstance(next_url, str):
        return None
    return LogoutReturn(next_url, provider if isinstance(provider, str) else None,
                        data.get("quiet") is True)


LOGOUT_HANDOFF_KIND = "logout-handoff"
#: Seconds a single-page app has to navigate to its logout handoff URL.
LOGOUT_HANDOFF_TTL = 120


def create_logout_handoff(request: Mapping[str, Any]) -> str:
    """Keep an end-session request (``method``, ``endpoint``, ``params``: it may hold the ID
    token) for a single-page app's navigation; returns its single-use key.

    Raises :class:`django.db.DatabaseError` when the database it uses fails.
    """
    config = get_config()
    key = new_secret()
    store.put(LOGOUT_HANDOFF_KIND, key, dict(request), LOGOUT_HANDOFF_TTL, config=config)
    return key


def take_logout_handoff(key: str) -> dict[str, Any] | None:
    """The end-session request kept under ``key`` — once; ``None`` if unknown, expired or
    taken.

    Raises :class:`django.db.DatabaseError` when the database it uses fails.
    """
    return store.take(LOGOUT_HANDOFF_KIND, key)
