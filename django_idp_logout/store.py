"""Single use, and short-lived values that every server process sees.

The login ``state``, the logout ``state`` and a logout token's ``jti`` must each be accepted
once, across threads *and processes*; the logout ``state`` also carries where to land, and
must be readable by whichever process the provider sends the user back to. Revocation
markers (cookie sessions) must be seen by every process too.

Django's default cache, ``LocMemCache``, is one per process, and ``FileBasedCache.add()`` is
not atomic, so neither can give that. Which storage is used is decided in one place,
:func:`atomic_shared_cache`:

* a cache that is shared by all processes and whose ``add()`` is atomic (Django's Redis and
  Memcached caches, django-redis) → that cache: ``add`` is the claim;
* anything else (LocMem, file-based, dummy, unknown backends) → the database, table
  :class:`~django_idp_logout.models.SharedValue`, where an INSERT under the primary key is
  the claim.

Every key the app writes (these, and the cached discovery document and JWKS) is built by
:func:`cache_key` (``idp_logout:<kind>:<sha256 hex>``): a secret never appears in a key, a
row, or a log. Database errors propagate as :class:`django.db.DatabaseError`, for the caller
to turn into a page.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.db import DatabaseError, IntegrityError, connections, router, transaction
from django.utils import timezone

from .conf import IdPConfig, get_config
from .models import SharedValue

logger = logging.getLogger("django_idp_logout")

#: Cache backends shared by every process whose ``add()`` is atomic, by class path (a
#: subclass counts). Optional packages are never imported to compare.
ATOMIC_SHARED_CACHES = frozenset({
    "django.core.cache.backends.redis.RedisCache",
    "django.core.cache.backends.memcached.PyMemcacheCache",
    "django.core.cache.backends.memcached.PyLibMCCache",
    "django_redis.cache.RedisCache",
})

#: Kind of the revocation markers written by :func:`set_markers`.
MARKER_KIND = "marker"

#: One database write in this many also deletes up to :data:`CLEANUP_BATCH` expired rows.
CLEANUP_ONE_IN = 50
CLEANUP_BATCH = 100

_KIND = re.compile(r"[a-z][a-z0-9_-]{0,39}")


def cache_key(kind: str, *parts: str) -> str:
    """The one key format: ``idp_logout:<kind>:<sha256 hex of the parts>`` (at most 116 chars).

    Every key the app writes, to the cache or the database, is built here. ``kind`` separates
    uses (a login ``state`` is never mistaken for a ``jti``); the parts, joined with NUL, are
    hashed: a secret or an identifier (issuer, client id, ``kid``) never appears in a key, a
    row or a log, and the key length is bounded. Put a part that others choose last.
    """
    if not _KIND.fullmatch(kind):
        raise ValueError(f"invalid kind {kind!r}: lowercase letters, digits, - and _")
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()
    return f"idp_logout:{kind}:{digest}"


def make_key(kind: str, value: str) -> str:
    """The key of one value: :func:`cache_key` with one part."""
    return cache_key(kind, value)


def provider_cache_key(config: IdPConfig, kind: str, *parts: str) -> str:
    """The key of ``kind`` for this provider, issuer and client (flat form: as before)."""
    named = [] if config.name == "default" else [f"provider={config.name}"]
    return cache_key(kind, *named, config.issuer, config.client_id, *parts)


def atomic_shared_cache(config: IdPConfig | None = None) -> BaseCache | None:
    """The configured cache if it is shared by all processes and its ``add()`` is atomic,
    else ``None``: use the database.

    Only the backends in :data:`ATOMIC_SHARED_CACHES` (or subclasses) qualify. ``LocMemCache``
    is per process (two workers would each accept the same ``state``, and a logout state made
    by one is unknown to the other); ``FileBasedCache.add()`` is a read then a write;
    ``DummyCache`` stores nothing; ``DatabaseCache.add()`` lets two callers through over an
expired row not yet culled (and the database path is as fast there); an unknown backend
promises nothing.
    """
    cache = caches[(config or get_config()).cache_alias]
    paths = {f"{cls.__module__}.{cls.__qualname__}" for cls in type(cache).__mro__}
    return cache if paths & ATOMIC_SHARED_CACHES else None


def _ttl(ttl: float) -> int:
    return max(int(ttl), 1)


def _encode(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _decode(text: str | None) -> Any:
    """The stored JSON value; ``None`` for a claim (empty) or anything unreadable."""
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _one_statement(db: str) -> AbstractContextManager[Any]:
    """Around one statement that may fail: a savepoint inside a transaction (so the outer one
    stays usable), nothing in autocommit, where the statement is atomic by itself (saves the
    BEGIN and COMMIT round trips of a sign-in's claim)."""
    return transaction.atomic(using=db) if connections[db].in_atomic_block else nullcontext()


def _db() -> str:
    # Reads too go to the write database: a replica may not have seen the claim yet.
    return router.db_for_write(SharedValue)


# --- single use ---------------------------------------------------------------------------------


def claim_once(kind: str, value: str, ttl: float, *, config: IdPConfig | None = None) -> bool:
    """Mark ``value`` as used for ``ttl`` seconds: ``True`` for exactly one caller, in any
    thread or process; ``False`` for every other caller until it expires.

    Database path: INSERT under the primary key inside a savepoint (so it works inside
    ``ATOMIC_REQUESTS`` or any outer ``atomic`` block; a concurrent INSERT of the same key
    waits for the first and then fails). A leftover row that has expired is taken over with
    one conditional UPDATE (``WHERE expires <= now``), which again only one caller can win.
    """
    cache = atomic_shared_cache(config)
    key = make_key(kind, value)
    if cache is not None:
        return bool(cache.add(key, 1, _ttl(ttl)))
    db = _db()
    now = timezone.now()
    expires = now + timedelta(seconds=_ttl(ttl))
    try:
        with _one_statement(db):
            SharedValue.objects.using(db).create(key=key, value="", expires=expires)
    except IntegrityError:
        with _one_statement(db):
            taken_over = SharedValue.objects.using(db).filter(
                key=key, expires__lte=now).update(value="", expires=expires)
        return int(taken_over) == 1
    _maybe_purge(db)
    return True


def release(kind: str, value: str, *, config: IdPConfig | None = None) -> None:
    """Undo a :func:`claim_once` (a lock taken with it is given back before its ``ttl``)."""
    cache = atomic_shared_cache(config)
    key = make_key(kind, value)
    if cache is not None:
        cache.delete(key)
        return
    db = _db()
    with _one_statement(db):
        SharedValue.objects.using(db).filter(key=key).delete()


def put(kind: str, value: str, data: Mapping[str, Any], ttl: float, *,
        config: IdPConfig | None = None) -> None:
    """Store ``data`` (JSON-serialisable) under ``value`` for ``ttl`` seconds, for one
    :func:`take`. ``value`` should be a fresh secret; putting it again replaces the data."""
    cache = atomic_shared_cache(config)
    key = make_key(kind, value)
    if cache is not None:
        cache.set(key, {"data": dict(data), "expires": time.time() + _ttl(ttl)}, _ttl(ttl))
        return
    db = _db()
    with transaction.atomic(using=db):
        SharedValue.objects.using(db).update_or_create(
            key=key, defaults={"value": _encode(dict(data)),
                               "expires": timezone.now() + timedelta(seconds=_ttl(ttl))})
    _maybe_purge(db)


def take(kind: str, value: str, *, config: IdPConfig | None = None) -> dict[str, Any] | None:
    """The data :func:`put` stored under ``value`` — to exactly one caller; ``None`` when it
    is unknown, expired or already taken.

    Reading and then deleting is not enough on its own (two callers can both read), so the
    winner is decided atomically: in the database, only the caller whose DELETE removed the
    row gets the data; in the cache, only the caller whose ``add()`` of a "taken" mark
    succeeds.
    """
    cache = atomic_shared_cache(config)
    key = make_key(kind, value)
    if cache is not None:
        entry = cache.get(key)
        if not isinstance(entry, dict) or not isinstance(entry.get("data"), dict):
            return None
        remaining = float(entry.get("expires", 0)) - time.time()
        # The mark outlives the entry (plus a margin for a slow concurrent reader).
        if not cache.add(make_key(f"{kind}-taken", value), 1, _ttl(remaining + 60)):
            return None
        cache.delete(key)
        return dict(entry["data"])
    db = _db()
    rows = SharedValue.objects.using(db).filter(key=key)
    found = _decode(rows.filter(expires__gt=timezone.now()).values_list("value", flat=True)
                    .first())
    if not isinstance(found, dict):
        return None
    with transaction.atomic(using=db):
        deleted, _ = rows.delete()
    return found if deleted == 1 else None


# --- revocation markers -------------------------------------------------------------------------


def set_markers(mapping: Mapping[str, float], ttl: float, *,
                config: IdPConfig | None = None) -> None:
    """Record ``{name: timestamp}`` for ``ttl`` seconds where every process can read it.

    ``name`` may contain identifiers (issuer, ``sid``): it is hashed into the key.
    """
    if not mapping:
        return
    cache = atomic_shared_cache(config)
    keys = {make_key(MARKER_KIND, name): float(at) for name, at in mapping.items()}
    if cache is not None:
        cache.set_many(keys, _ttl(ttl))
        return
    db = _db()
    expires = timezone.now() + timedelta(seconds=_ttl(ttl))
    with transaction.atomic(using=db):
        for key, at in keys.items():
            SharedValue.objects.using(db).update_or_create(
                key=key, defaults={"value": _encode(at), "expires": expires})
    _maybe_purge(db)


def get_markers(names: Iterable[str], *,
                config: IdPConfig | None = None) -> dict[str, float]:
    """The unexpired markers among ``names``: ``{name: timestamp}`` (one lookup)."""
    by_key = {make_key(MARKER_KIND, name): name for name in names}
    if not by_key:
        return {}
    cache = atomic_shared_cache(config)
    if cache is not None:
        found: Mapping[str, Any] = cache.get_many(list(by_key))
    else:
        found = {key: _decode(text) for key, text in SharedValue.objects.using(_db()).filter(
            key__in=list(by_key), expires__gt=timezone.now()).values_list("key", "value")}
    return {by_key[key]: float(at) for key, at in found.items()
            if isinstance(at, (int, float)) and not isinstance(at, bool)}


# --- cleanup ------------------------------------------------------------------------------------


def purge_expired(limit: int | None = None, *, using: str | None = None) -> int:
    """Delete expired rows (at most ``limit``, oldest first); returns how many.

    The ``clear_idp_sessions`` command calls it with no limit. Expired rows are already
    ignored by every read: this only keeps the table small.
    """
    db = using or _db()
    expired = SharedValue.objects.using(db).filter(expires__lte=timezone.now())
    if limit is not None:
        batch = list(expired.order_by("expires").values_list("key", flat=True)[:limit])
        if not batch:
            return 0
        expired = SharedValue.objects.using(db).filter(key__in=batch, expires__lte=timezone.now())
    with transaction.atomic(using=db):
        deleted, _ = expired.delete()
    return int(deleted)


def _maybe_purge(db: str) -> None:
    """Now and then (one write in :data:`CLEANUP_ONE_IN`) remove a bounded batch of expired
    rows, so the table stays small without a scheduled job. A failure here is not the
    caller's: the write it follows has succeeded (its savepoint keeps an outer transaction
    usable)."""
    if secrets.randbelow(CLEANUP_ONE_IN) != 0:
        return
    try:
        purge_expired(CLEANUP_BATCH, using=db)
    except DatabaseError as exc:
        # E.g. a deadlock with a concurrent purge; a later one will do it.
        logger.info("stage=cleanup expired shared values not purged: %s", type(exc).__name__)
