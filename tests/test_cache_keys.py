"""Every key the app writes, in the cache or the database, is built by ``store.cache_key``:
``idp_logout:<kind>:<sha256 hex>``, with no issuer, client id, state, ``kid`` or ``jti`` in it."""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.cache import caches
from django.test import Client

from django_idp_logout import store
from django_idp_logout.models import SharedValue

from .conftest import CLIENT_ID, ISSUER, FakeProvider, key, start_login

pytestmark = pytest.mark.django_db

KEY = re.compile(r"idp_logout:([a-z][a-z0-9_-]*):[0-9a-f]{64}")
EVENT = "http://schemas.openid.net/event/backchannel-logout"


def test_cache_key_hashes_the_parts() -> None:
    parts = (ISSUER, CLIENT_ID, "trusted", "kid-1")
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()
    assert store.cache_key("jwks-kid", *parts) == f"idp_logout:jwks-kid:{digest}"
    assert store.cache_key("state", "s") == store.make_key("state", "s")
    assert store.cache_key("jwks", "a", "b") != store.cache_key("jwks", "a\0b", "")
    with pytest.raises(ValueError, match="invalid kind"):
        store.cache_key("Bad Kind", "x")


def sign_in(client: Client, fake_op: FakeProvider, signing_key: Any = None) -> dict[str, Any]:
    params = start_login(client)
    id_token = fake_op.sign(fake_op.claims(params["nonce"]), signing_key)
    fake_op.token_response({"id_token": id_token, "access_token": "at", "token_type": "Bearer"})
    response = client.get("/oidc/callback/", {"code": "c", "state": params["state"]})
    return {**params, "status": response.status_code}


def written_keys() -> list[str]:
    """The keys in the default cache (LocMem stores ``<prefix>:<version>:<key>``) and the
    shared-value table."""
    cached = [k.split(":", 2)[2] for k in caches["default"]._cache]  # type: ignore[attr-defined]
    return cached + list(SharedValue.objects.values_list("key", flat=True))


@pytest.mark.parametrize("shared", ["cache", "database"])
def test_every_key_written_is_hashed_and_namespaced(
        shared: str, client: Client, fake_op: FakeProvider, settings: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"  # markers too
    if shared == "cache":  # single-use values in the cache, as with Redis or Memcached
        cache = caches["default"]
        monkeypatch.setattr(store, "atomic_shared_cache", lambda config=None: cache)
    first = sign_in(client, fake_op)
    assert first["status"] == 302
    # A token signed with a key the provider does not publish: rate-limited JWKS refetch.
    second = sign_in(Client(), fake_op, key("unpublished-kid"))
    assert second["status"] != 302
    now = int(time.time())
    logout_token = fake_op.sign({
        "iss": ISSUER, "aud": CLIENT_ID, "iat": now, "exp": now + 120, "jti": str(uuid.uuid4()),
        "sid": "sid-1", "sub": "user-1", "events": {EVENT: {}}}, headers={"typ": "logout+jwt"})
    response = Client().post("/oidc/backchannel-logout/",
                             urlencode({"logout_token": logout_token}),
                             content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    sign_in(client, fake_op)
    assert client.post("/oidc/logout/").status_code == 302

    keys = written_keys()
    kinds = {match.group(1) for k in keys if (match := KEY.fullmatch(k))}
    assert [k for k in keys if not KEY.fullmatch(k)] == []
    assert {"discovery", "jwks", "jwks-kid", "jwks-refetches", "state", "jti", "marker",
            "logout-state"} <= kinds
    text = "\n".join(keys)
    for secret in (ISSUER, CLIENT_ID, first["state"], first["nonce"], second["state"],
                   "unpublished-kid", "k1", "user-1", "sid-1", "example.test"):
        assert secret not in text
