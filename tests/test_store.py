"""Single use and shared short-lived values (``django_idp_logout.store``) on both paths.

The database path is what Django's default ``LocMemCache`` (and ``FileBasedCache``,
``DummyCache``) get; the cache path is for caches shared by all processes with an atomic
``add()``. Redis is not available to unit tests: the cache path is exercised with LocMem
forced through the decision function. ``DatabaseCache`` takes the database path: its
``add()`` lets two callers through over an expired row not yet culled. The cross-process
proof is in ``test_multiprocess.py``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.management import call_command
from django.db import DatabaseError, OperationalError, connection, transaction
from django.db.models import QuerySet
from django.test import override_settings
from django.utils import timezone

from django_idp_logout import state, store
from django_idp_logout.models import SharedValue

pytestmark = pytest.mark.django_db

SECRET = "a-very-secret-state-value"


def _expire(key: str) -> None:
    SharedValue.objects.filter(key=key).update(expires=timezone.now() - timedelta(seconds=1))


# --- keys and the storage decision -----------------------------------------------------------


def test_key_is_kind_and_digest_never_the_value() -> None:
    key = store.make_key("state", SECRET)
    assert key == f"idp_logout:state:{hashlib.sha256(SECRET.encode()).hexdigest()}"
    assert SECRET not in key
    assert store.make_key("jti", SECRET) != key


@pytest.mark.parametrize("kind", ["", "State", "a:b", "x" * 41, "-x"])
def test_kind_is_validated(kind: str) -> None:
    with pytest.raises(ValueError, match="invalid kind"):
        store.make_key(kind, SECRET)


class FakeDjangoRedis(LocMemCache):
    """Named like ``django_redis.cache.RedisCache`` without importing django-redis."""


FakeDjangoRedis.__module__ = "django_redis.cache"
FakeDjangoRedis.__qualname__ = "RedisCache"


class SiteRedis(FakeDjangoRedis):
    """A site's own subclass of a qualifying backend."""


@pytest.mark.parametrize(("backend", "shared"), [
    ("django.core.cache.backends.locmem.LocMemCache", False),
    ("django.core.cache.backends.filebased.FileBasedCache", False),
    ("django.core.cache.backends.dummy.DummyCache", False),
    ("django.core.cache.backends.db.DatabaseCache", False),
    ("django.core.cache.backends.redis.RedisCache", True),
    ("tests.test_store.SiteRedis", True),
])
def test_storage_decision(backend: str, shared: bool, tmp_path: Any) -> None:
    location = {"django.core.cache.backends.filebased.FileBasedCache": str(tmp_path),
                "django.core.cache.backends.db.DatabaseCache": "idp_cache_table",
                "django.core.cache.backends.redis.RedisCache": "redis://127.0.0.1:1/0",
                }.get(backend, "")
    with override_settings(CACHES={"default": {"BACKEND": backend, "LOCATION": location}}):
        chosen = store.atomic_shared_cache()
        assert (chosen is caches["default"]) if shared else (chosen is None)


def test_cache_alias_is_honoured(settings: Any) -> None:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "shared": {"BACKEND": "tests.test_store.SiteRedis"},
    }
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "CACHE_ALIAS": "shared"}
    assert store.atomic_shared_cache() is caches["shared"]


# --- database path (the default LocMemCache) ---------------------------------------------------


def test_claim_once_in_the_database() -> None:
    assert store.atomic_shared_cache() is None  # tests.settings: LocMemCache
    assert store.claim_once("state", SECRET, 60)
    assert not store.claim_once("state", SECRET, 60)
    assert store.claim_once("jti", SECRET, 60)  # another kind, another key
    row = SharedValue.objects.get(key=store.make_key("state", SECRET))
    assert row.value == ""  # a claim carries no payload
    assert timezone.now() + timedelta(seconds=55) < row.expires
    assert not SharedValue.objects.filter(key__contains=SECRET).exists()
    assert caches["default"].get(store.make_key("state", SECRET)) is None  # not the cache


def test_claim_inside_an_outer_transaction() -> None:
    """ATOMIC_REQUESTS: the refused INSERT rolls back its savepoint only."""
    with transaction.atomic():
        assert store.claim_once("state", SECRET, 60)
        assert not store.claim_once("state", SECRET, 60)
        assert SharedValue.objects.count() == 1  # the outer transaction is still usable
    assert not store.claim_once("state", SECRET, 60)


def test_claim_rolled_back_with_the_outer_transaction() -> None:
    """A claim made in a transaction that fails is not kept: a retry may claim again."""
    def guarded_work() -> None:
        with transaction.atomic():
            assert store.claim_once("state", SECRET, 60)
            raise RuntimeError("the work the claim guards failed")

    with pytest.raises(RuntimeError):
        guarded_work()
    assert store.claim_once("state", SECRET, 60)


def test_expired_claim_can_be_claimed_again_once() -> None:
    assert store.claim_once("state", SECRET, 60)
    _expire(store.make_key("state", SECRET))
    assert store.claim_once("state", SECRET, 60)
    assert not store.claim_once("state", SECRET, 60)
    assert SharedValue.objects.count() == 1


def test_put_and_take_once() -> None:
    store.put("logout-state", SECRET, {"next": "/bye/"}, 60)
    assert not SharedValue.objects.filter(value__icontains=SECRET).exists()
    assert store.take("logout-state", SECRET) == {"next": "/bye/"}
    assert store.take("logout-state", SECRET) is None
    assert store.take("logout-state", "unknown") is None
    assert store.take("state", SECRET) is None  # kinds do not mix
    assert SharedValue.objects.count() == 0


def test_take_expired_is_none() -> None:
    store.put("logout-state", SECRET, {"next": "/bye/"}, 60)
    _expire(store.make_key("logout-state", SECRET))
    assert store.take("logout-state", SECRET) is None


def test_take_loses_when_another_caller_deleted_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both callers read the row; only the one whose DELETE removed it gets the data."""
    store.put("logout-state", SECRET, {"next": "/bye/"}, 60)
    real_first = QuerySet.first

    def read_then_lose(self: QuerySet[Any, Any]) -> Any:
        value = real_first(self)
        SharedValue.objects.filter(key=store.make_key("logout-state", SECRET)).delete()
        return value

    monkeypatch.setattr(QuerySet, "first", read_then_lose)
    assert store.take("logout-state", SECRET) is None


def test_markers_in_the_database() -> None:
    store.set_markers({"revoked-sid:iss\0sid-1": 100.5, "revoked-sub:iss\0u": 7.0}, 60)
    assert store.get_markers(["revoked-sid:iss\0sid-1", "missing"]) == {
        "revoked-sid:iss\0sid-1": 100.5}
    store.set_markers({"revoked-sid:iss\0sid-1": 200.0}, 60)  # overwritten
    assert store.get_markers(["revoked-sid:iss\0sid-1"]) == {"revoked-sid:iss\0sid-1": 200.0}
    _expire(store.make_key(store.MARKER_KIND, "revoked-sub:iss\0u"))
    assert store.get_markers(["revoked-sub:iss\0u"]) == {}
    assert store.get_markers([]) == {}
    assert not SharedValue.objects.filter(key__contains="sid-1").exists()


@pytest.mark.parametrize("backend", ["django.core.cache.backends.filebased.FileBasedCache",
                                     "django.core.cache.backends.dummy.DummyCache"])
def test_non_atomic_caches_use_the_database(backend: str, tmp_path: Any) -> None:
    with override_settings(CACHES={"default": {"BACKEND": backend, "LOCATION": str(tmp_path)}}):
        assert store.claim_once("state", SECRET, 60)
        assert not store.claim_once("state", SECRET, 60)
        store.put("logout-state", SECRET, {"next": "/x/"}, 60)
        assert store.take("logout-state", SECRET) == {"next": "/x/"}
        assert store.take("logout-state", SECRET) is None
    assert SharedValue.objects.count() == 1


# --- cache path ---------------------------------------------------------------------------------


@pytest.fixture
def forced_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    cache = caches["default"]
    monkeypatch.setattr(store, "atomic_shared_cache", lambda config=None: cache)
    yield cache
    assert SharedValue.objects.count() == 0  # nothing went to the database


def test_cache_path(forced_cache: Any) -> None:
    assert store.claim_once("state", SECRET, 60)
    assert not store.claim_once("state", SECRET, 60)
    assert forced_cache.get(store.make_key("state", SECRET)) == 1
    store.put("logout-state", SECRET, {"next": "/bye/"}, 60)
    assert store.take("logout-state", SECRET) == {"next": "/bye/"}
    assert store.take("logout-state", SECRET) is None
    assert store.take("logout-state", "unknown") is None
    store.set_markers({"m": 1.5}, 60)
    assert store.get_markers(["m", "n"]) == {"m": 1.5}


def test_cache_path_take_is_decided_by_add(forced_cache: Any) -> None:
    """Two callers that both read the entry: the 'taken' mark lets only one through."""
    store.put("logout-state", SECRET, {"next": "/bye/"}, 60)
    forced_cache.add(store.make_key("logout-state-taken", SECRET), 1, 60)  # the other one
    assert store.take("logout-state", SECRET) is None


@pytest.fixture
def database_cache(settings: Any) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache",
                                   "LOCATION": "idp_test_cache"}}
    call_command("createcachetable", verbosity=0)


def test_database_cache_takes_the_database_path(database_cache: None) -> None:
    assert store.atomic_shared_cache() is None
    assert store.claim_once("jti", SECRET, 60)
    assert not store.claim_once("jti", SECRET, 60)
    store.put("logout-state", SECRET, {"next": "/bye/"}, 60)
    assert store.take("logout-state", SECRET) == {"next": "/bye/"}
    assert store.take("logout-state", SECRET) is None
    assert SharedValue.objects.count() == 1  # the claimed jti


# --- cleanup ------------------------------------------------------------------------------------


def test_purge_expired() -> None:
    for n in range(5):
        store.claim_once("state", f"v{n}", 60)
    keys = [store.make_key("state", f"v{n}") for n in range(4)]
    SharedValue.objects.filter(key__in=keys).update(
        expires=timezone.now() - timedelta(seconds=1))
    assert store.purge_expired(limit=3) == 3
    assert store.purge_expired() == 1
    assert store.purge_expired() == 0
    assert SharedValue.objects.count() == 1


def test_writes_purge_a_batch_now_and_then(monkeypatch: pytest.MonkeyPatch) -> None:
    store.claim_once("state", "old", 60)
    _expire(store.make_key("state", "old"))
    monkeypatch.setattr(store, "CLEANUP_ONE_IN", 1)
    store.claim_once("state", "new", 60)
    assert list(SharedValue.objects.values_list("key", flat=True)) == [
        store.make_key("state", "new")]


def test_failed_opportunistic_purge_does_not_fail_the_write(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> int:
        raise OperationalError("deadlock detected")

    monkeypatch.setattr(store, "CLEANUP_ONE_IN", 1)
    monkeypatch.setattr(store, "purge_expired", broken)
    assert store.claim_once("state", SECRET, 60)


def test_clear_idp_sessions_purges_expired_values() -> None:
    from io import StringIO

    store.claim_once("state", "old", 60)
    store.claim_once("state", "alive", 60)
    _expire(store.make_key("state", "old"))
    out = StringIO()
    call_command("clear_idp_sessions", stdout=out)
    assert "removed 1 expired shared value(s)" in out.getvalue()
    assert SharedValue.objects.count() == 1


# --- state.py on top of it ----------------------------------------------------------------------


def test_state_functions_use_the_store() -> None:
    from django_idp_logout.conf import get_config

    assert state.claim_once("state", SECRET, 60, get_config())  # old positional signature
    assert not state.claim_once("state", SECRET, 60)
    logout_state = state.create_logout_state("/after/")
    assert SharedValue.objects.filter(key=store.make_key("logout-state", logout_state)).exists()
    assert state.consume_logout_state(logout_state) == ("/after/", None, False)
    assert state.consume_logout_state(logout_state) is None


def test_database_errors_propagate(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("no such table: django_idp_logout_sharedvalue")

    monkeypatch.setattr(type(SharedValue.objects), "using", broken)
    with pytest.raises(DatabaseError):
        state.claim_once("state", SECRET, 60)
    with pytest.raises(DatabaseError):
        state.create_logout_state("/after/")
    with pytest.raises(DatabaseError):
        state.consume_logout_state(SECRET)


# --- concurrency --------------------------------------------------------------------------------


def _race(n: int, call: Any) -> list[Any]:
    """Run ``call`` in ``n`` threads released together; a thread retries while SQLite reports
    its lock (a retry of a claim that did not happen is the same claim)."""
    barrier = threading.Barrier(n)
    results: list[Any] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            for _ in range(1000):
                try:
                    results.append(call())
                    return
                except OperationalError as exc:
                    if "locked" not in str(exc):
                        raise
                    time.sleep(0.005)  # SQLite's shared-memory lock does not wait by itself
            raise AssertionError("database stayed locked")
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert len(results) == n
    return results


@pytest.mark.django_db(transaction=True)
def test_threads_race_to_claim() -> None:
    results = _race(8, lambda: store.claim_once("state", SECRET, 60))
    assert sorted(results) == [False] * 7 + [True]


@pytest.mark.django_db(transaction=True)
def test_threads_race_to_take() -> None:
    store.put("logout-state", SECRET, {"next": "/bye/"}, 60)
    results = _race(8, lambda: store.take("logout-state", SECRET))
    assert [r for r in results if r is not None] == [{"next": "/bye/"}]
