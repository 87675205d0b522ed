"""What a warm callback does, counted: one read of the discovery document and one of the
keys (not two of discovery, as before the flow module), and the queries the protocol needs."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from django_idp_logout import store

from .conftest import FakeProvider, start_login

pytestmark = pytest.mark.django_db


def sign_in(client: Client, fake_op: FakeProvider) -> Any:
    params = start_login(client)
    fake_op.token_response({"id_token": fake_op.sign(fake_op.claims(params["nonce"])),
                            "access_token": "a", "token_type": "Bearer"})
    return client.get("/oidc/callback/", {"code": "c", "state": params["state"]})


def test_warm_callback_reads_each_cached_document_once(fake_op: FakeProvider,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client()
    assert sign_in(client, fake_op).status_code == 302  # warms discovery and keys
    params = start_login(client)
    fake_op.token_response({"id_token": fake_op.sign(fake_op.claims(params["nonce"])),
                            "access_token": "a", "token_type": "Bearer"})
    cache = caches["default"]
    reads: Counter[str] = Counter()
    real_get = cache.get

    def counting_get(key: str, *args: Any, **kwargs: Any) -> Any:
        reads[key.split(":")[1]] += 1
        return real_get(key, *args, **kwargs)

    monkeypatch.setattr(cache, "get", counting_get)
    # The occasional purge of expired shared values (one write in 50) is not part of the count.
    monkeypatch.setattr(store, "_maybe_purge", lambda db: None)
    outbound_before = fake_op.outbound_calls()
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/oidc/callback/", {"code": "c", "state": params["state"]})
    assert response.status_code == 302
    assert reads == Counter({"discovery": 1, "jwks": 1})
    assert fake_op.outbound_calls() - outbound_before == 1  # the token request only
    statements = [q["sql"].split()[0] for q in queries.captured_queries
                  if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    # Session load, state claim, identity, its last sign-in, last_login, key cycle (Django:
    # exists, insert, select, delete), the previous sign-in's mapping (it held that sign-in's
    # tokens: a DELETE, only when signing in over a signed-in session), mapping, session save.
    assert len(statements) == 12, statements
    assert statements.count("DELETE") == 2, statements
