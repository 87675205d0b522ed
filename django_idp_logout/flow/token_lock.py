"""One token request per session at a time, in every thread and process.

A short lock in the shared store (:func:`store.claim_once`: a shared atomic cache, else a row
in the database), held while the session's tokens are renewed (:mod:`.renewal`) or an API's
own token is asked for (:mod:`.api_tokens`). Requests that find it taken poll the session's
stored tokens until the holder has stored what they need. Inside a transaction
(``ATOMIC_REQUESTS``) the lock is given back only once the request's transaction has ended
(by the middleware), so that no other request reads the old refresh token in the meantime.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import connection
from django.http import HttpRequest

from .. import store, token_store
from ..conf import IdPConfig
from ..exceptions import ProviderUnavailable
from ..token_store import TokenSet

logger = logging.getLogger("django_idp_logout")

LOCK_KIND = token_store.LOCK_KIND
DEFERRED_RELEASES = token_store.DEFERRED_RELEASES
T = TypeVar("T")


def lock_ttl(config: IdPConfig) -> float:
    """How long a renewal may hold the lock: discovery, keys and the token request, each
    bounded by twice ``TIMEOUT``, and a margin. A worker that dies holding it delays the
    session's renewals by at most this long."""
    return 6 * config.timeout + 5


def wait_limit(config: IdPConfig) -> float:
    """How long a request waits for another's renewal before answering 503: one token
    request's worth (a renewal normally needs nothing else), so that a slow provider cannot
    hold every worker thread."""
    return 2 * config.timeout + 1


def locked(request: HttpRequest, mapping: object, config: IdPConfig,
           read: Callable[[], TokenSet], meanwhile: Callable[[TokenSet], T | None],
           work: Callable[[], T]) -> T:
    """``work()`` under the session's renewal lock (one token request per session at a
    time, in every thread and process). While another request holds it, poll the stored
    tokens (``read()``) until ``meanwhile(current)`` finds what this request needs, for at most
    :func:`wait_limit` seconds (then 503)."""
    name = str(mapping)
    deadline, delay = time.monotonic() + wait_limit(config), 0.02
    while True:
        # A renewal earlier in this request may still hold it (released after the
        # transaction): this request goes on as its holder.
        held = name in getattr(request, DEFERRED_RELEASES, ())
        if held or store.claim_once(LOCK_KIND, name, lock_ttl(config), config=config):
            try:
                return work()
            finally:
                _release(request, name, config)
        found = meanwhile(read())
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            raise ProviderUnavailable("another request's renewal did not finish in time",
                                      code="provider_timeout", stage="refresh", status=503)
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def _release(request: HttpRequest, name: str, config: IdPConfig) -> None:
    """Give the lock back — after the request's transaction, when there is one (the
    middleware calls :func:`release_deferred`): until it commits, others would read the old
    refresh token."""
    if connection.in_atomic_block:
        deferred = getattr(request, DEFERRED_RELEASES, None)
        if deferred is None:
            deferred = []
            setattr(request, DEFERRED_RELEASES, deferred)
        if name not in deferred:
            deferred.append(name)
        return
    try:
        store.release(LOCK_KIND, name, config=config)
    except Exception:  # it expires by itself; the renewal's result stands
        logger.exception("stage=token_renewal could not release the renewal lock")
