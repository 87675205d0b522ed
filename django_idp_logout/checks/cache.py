"""Checks of the cache behind ``CACHE_ALIAS``.

Which caches hold single-use values and revocation markers is decided by
:mod:`django_idp_logout.store` (``ATOMIC_SHARED_CACHES``: Redis and Memcached): any other
backend leaves them to the database. These checks only say what that costs.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.utils.module_loading import import_string

from .common import check_id

#: Cache backends the checks name.
LOCMEM_CACHE = "django.core.cache.backends.locmem.LocMemCache"
DUMMY_CACHE = "django.core.cache.backends.dummy.DummyCache"
FILE_CACHE = "django.core.cache.backends.filebased.FileBasedCache"
DATABASE_CACHE = "django.core.cache.backends.db.DatabaseCache"

SHARED_CACHE_HINT = ("Nothing is wrong; to save the query, point CACHE_ALIAS at a Redis or "
                     "Memcached cache.")


def cache_kind(backend: str) -> str:
    """``shared`` (the store keeps single-use values in it), ``database``, ``locmem``,
    ``dummy``, ``file`` or ``other``; a subclass counts as its base, as in the store."""
    from ..store import ATOMIC_SHARED_CACHES

    if backend in ATOMIC_SHARED_CACHES:
        return "shared"  # without importing an optional package
    try:
        cls = import_string(backend)
    except ImportError:
        return "other"
    paths = ({f"{c.__module__}.{c.__qualname__}" for c in cls.__mro__}
             if isinstance(cls, type) else set())
    if paths & ATOMIC_SHARED_CACHES:
        return "shared"
    for path, kind in ((DATABASE_CACHE, "database"), (LOCMEM_CACHE, "locmem"),
                       (DUMMY_CACHE, "dummy"), (FILE_CACHE, "file")):
        if path in paths:
            return kind
    return "other"


def check_cache(merged: dict[str, Any]) -> list[CheckMessage]:
    alias = merged["CACHE_ALIAS"]
    caches = getattr(settings, "CACHES", {})
    if alias not in caches:
        return [Error(f"IDP_LOGOUT['CACHE_ALIAS'] {alias!r} is not in CACHES.",
                      hint=f"Add {alias!r} to CACHES, or set CACHE_ALIAS to one of "
                           f"{', '.join(map(repr, caches)) or 'your caches'}.",
                      id=check_id("E014"))]
    backend = str(caches[alias].get("BACKEND", ""))
    kind = cache_kind(backend)
    stored = ("single-use values (login and logout state, logout-token jti) and revocation "
              "markers will be stored in the database (one extra query when each is used)")
    if kind == "dummy":
        return [Warning(
            f"The cache used by django_idp_logout is a DummyCache: discovery and signing keys "
            f"will be fetched from the provider at every sign-in, unknown key ids can trigger "
            f"a key fetch every time, and {stored}.",
            hint="Point CACHE_ALIAS at a real cache: Redis or Memcached (which also hold the "
                 "single-use values), or the database cache (they stay in the database); "
                 "LocMemCache will do for development.", id=check_id("W009"))]
    if kind == "locmem" and not settings.DEBUG:
        return [Warning(
            f"The cache used by django_idp_logout is a LocMemCache, private to each process: "
            f"{stored}, and each process fetches discovery and signing keys itself.",
            hint=SHARED_CACHE_HINT, id=check_id("W003"))]
    # "database": the store uses the database, which a DatabaseCache queries anyway (its add()
    # is not atomic over an expired row, so it never holds single-use values itself).
    if kind in {"file", "other"}:
        why = ("its add() is not atomic" if kind == "file"
               else "it is not known to be shared with an atomic add()")
        return [Warning(
            f"The cache used by django_idp_logout ({backend.rsplit('.', 1)[-1] or '?'}) cannot "
            f"hold single-use values, {why}: {stored}.",
            hint=SHARED_CACHE_HINT, id=check_id("W008"))]
    return []
