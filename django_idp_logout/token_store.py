"""Where a signed-in session's tokens live, and how a renewal replaces them.

The authoritative copy is on the session's mapping row (:class:`~.models.OIDCSession`,
fields ``tokens`` and ``token_version``): the refresh token lives only there. The session
keeps a copy of the access token (server-side engines only), its expiry, the newest ID token
and the version, so that a valid token costs no query at all.

A renewal reads the row, asks the provider, and writes the new set with one conditional
UPDATE (``WHERE token_version = <the version it read>``): access, refresh and ID token change
together or not at all, and a renewal that lost a race never overwrites the winner's rotated
refresh token. The row goes when the session ends (logout, back-channel), taking the tokens
with it.

This module imports Django and the app's storage only (the middleware imports it).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest

from . import store
from .models import OIDCSession

logger = logging.getLogger("django_idp_logout")

#: Kind of the renewal lock in the shared store (one per session: its mapping row id).
LOCK_KIND = "token-renewal"
#: Request attribute listing the renewal locks to give back once the request's transaction
#: has ended (a renewal inside ``ATOMIC_REQUESTS``; the middleware calls
#: :func:`release_deferred`).
DEFERRED_RELEASES = "_idp_logout_deferred_releases"


@dataclass(frozen=True)
class TokenSet:
    """The tokens of one session at one version."""

    access_token: str | None = field(repr=False)
    refresh_token: str | None = field(repr=False)
    id_token: str | None = field(repr=False)
    #: When the access token expires (epoch seconds); ``None``: the provider did not say.
    expires_at: float | None
    version: int = 0
    #: The access token's lifetime (``expires_in``), which caps the renewal margin.
    lifetime: float | None = None
    #: When the provider issued this set (epoch seconds).
    issued_at: float | None = None
    #: Access tokens of their own for APIs that need another audience or other scopes
    #: (``BFF_APIS``' ``TOKEN_PARAMS``): key → ``{"access_token", "expires_at", "lifetime"}``.
    apis: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, repr=False,
                                                  compare=False)

    def usable(self, margin: float, now: float | None = None) -> bool:
        """An access token that does not expire within ``margin`` seconds."""
        return usable(self.access_token, self.expires_at, margin, now, lifetime=self.lifetime)


def issued(*, access_token: str | None, refresh_token: str | None, id_token: str | None,
           expires_in: int | None, version: int, now: float | None = None) -> TokenSet:
    """The set a token response just gave (``expires_in`` seconds from ``now``)."""
    now = time.time() if now is None else now
    return TokenSet(access_token=access_token, refresh_token=refresh_token, id_token=id_token,
                    expires_at=now + expires_in if expires_in else None, version=version,
                    lifetime=float(expires_in) if expires_in else None, issued_at=now)


def usable(access_token: Any, expires_at: Any, margin: float, now: float | None = None, *,
           lifetime: Any = None) -> bool:
    """``access_token`` is there and does not expire within ``margin`` seconds (an unknown
    expiry counts as valid: the API's 401 is then what asks for a renewal).

    The margin is at most half the token's ``lifetime``: a margin as long as the lifetime
    would make every new token count as expired, and every call renew it.
    """
    if not isinstance(access_token, str) or not access_token:
        return False
    if expires_at is None:
        return True
    if not isinstance(expires_at, (int, float)):
        return False
    if isinstance(lifetime, (int, float)) and lifetime > 0:
        margin = min(margin, lifetime / 2)
    return float(expires_at) - margin > (time.time() if now is None else now)


def encode(tokens: TokenSet) -> str:
    """The ``tokens`` column's JSON (the version has a column of its own)."""
    return json.dumps({"access_token": tokens.access_token,
                       "refresh_token": tokens.refresh_token, "id_token": tokens.id_token,
                       "expires_at": tokens.expires_at, "lifetime": tokens.lifetime,
                       "issued_at": tokens.issued_at,
                       **({"apis": dict(tokens.apis)} if tokens.apis else {})},
                      separators=(",", ":"))


def _decode(text: str, version: int, legacy: Mapping[str, Any]) -> TokenSet:
    """The row's tokens; a row written before tokens were kept there (empty column) falls
    back to what such sessions kept in the session data."""
    try:
        value = json.loads(text) if text else dict(legacy)
    except ValueError:
        value = {}
    if not isinstance(value, dict):
        value = {}

    def text_of(key: str) -> str | None:
        item = value.get(key)
        return item if isinstance(item, str) and item else None

    def number(key: str) -> float | None:
        item = value.get(key)
        return float(item) if isinstance(item, (int, float)) else None

    apis = value.get("apis")
    return TokenSet(access_token=text_of("access_token"), refresh_token=text_of("refresh_token"),
                    id_token=text_of("id_token"), expires_at=number("expires_at"),
                    version=version, lifetime=number("lifetime"),
                    issued_at=number("issued_at"),
                    apis={key: api for key, api in apis.items() if isinstance(api, dict)
                          and isinstance(api.get("access_token"), str)}
                    if isinstance(apis, dict) else {})


def decode(text: str, version: int) -> TokenSet:
    """A mapping row's ``tokens`` column at ``version`` (a row read by the caller)."""
    return _decode(text, int(version), {})


def read(data: Mapping[str, Any]) -> TokenSet | None:
    """The authoritative tokens of the session whose data (``session.SESSION_KEY``) is
    ``data``: one query. ``None`` when its mapping row is gone (the session was ended by a
    logout) or it never had one (signed in by a version before 0.2)."""
    mapping = data.get("mapping")
    if mapping is None:
        return None
    row = OIDCSession.objects.filter(pk=mapping).values_list("tokens", "token_version").first()
    if row is None:
        return None
    text, version = row
    return _decode(text, int(version), data)


def write(data: Mapping[str, Any], *, expected_version: int, tokens: TokenSet,
          sid: str | None = None) -> bool:
    """Replace the tokens if the row still has ``expected_version``; ``True`` if it did (one
    UPDATE). ``tokens.version`` must be ``expected_version + 1``. ``sid`` (a renewed ID
    token's) moves the back-channel mapping along with it."""
    mapping = data.get("mapping")
    if mapping is None:
        return False
    changes: dict[str, Any] = {"tokens": encode(tokens), "token_version": tokens.version}
    if sid is not None:
        changes["sid"] = sid
    updated = OIDCSession.objects.filter(pk=mapping, token_version=expected_version).update(
        **changes)
    return int(updated) == 1


def adopt(session: SessionBase, key: str, tokens: TokenSet, *, server_side: bool,
          claims: Mapping[str, Any] | None = None, checked_at: float | None = None,
          sid: str | None = None) -> None:
    """Copy ``tokens`` into the session's data under ``key`` (one assignment: the session never
    holds half of a renewal). Cookie sessions get no access or refresh token. ``claims`` and
    ``sid`` come with a new ID token; ``checked_at`` records a check with the provider."""
    data = session.get(key)
    if not isinstance(data, dict):
        return
    updated = {**data, "access_token": tokens.access_token if server_side else None,
               "expires_at": tokens.expires_at, "lifetime": tokens.lifetime,
               "id_token": tokens.id_token or data.get("id_token"),
               "token_version": tokens.version}
    updated.pop("refresh_token", None)  # kept on the mapping row only
    if claims is not None:
        updated["claims"] = dict(claims)
    if sid is not None:
        updated["sid"] = sid
    if checked_at is not None:
        updated["checked_at"] = checked_at
        updated.pop("check_after", None)  # a check that was postponed has now happened
    session[key] = updated


def release_deferred(request: HttpRequest) -> None:
    """Give back the renewal locks a renewal inside the view's transaction kept (never
    raises: they expire by themselves)."""
    for name in getattr(request, DEFERRED_RELEASES, ()):
        try:
            store.release(LOCK_KIND, name)
        except Exception:
            logger.exception("stage=token_renewal could not release the renewal lock")
