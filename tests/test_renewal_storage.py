"""``get_access_token``'s storage and concurrency (issue 12): cookie sessions, a logout
during a renewal, the renewal lock (waiting, a dead holder, giving up), sessions of an older
version, ``ATOMIC_REQUESTS``, and the ``requests`` helper."""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import parse_qs

import pytest
import responses
from django.core.cache import caches
from django.db import connection
from django.test import Client

from django_idp_logout import store
from django_idp_logout.exceptions import ReauthenticationRequired
from django_idp_logout.flow import renewal, token_lock
from django_idp_logout.models import OIDCSession
from django_idp_logout.session import SESSION_KEY
from django_idp_logout.token_store import TokenSet, encode

from .conftest import ISSUER, FakeProvider
from .test_token_renewal import (
    expire,
    refresh_calls,
    refresh_response,
    row,
    row_tokens,
    sign_in,
    signed_in,
)

pytestmark = pytest.mark.django_db


# --- the session's tokens ----------------------------------------------------------------------


def test_a_logout_during_the_renewal_ends_the_session(fake_op: FakeProvider,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client()
    sign_in(fake_op, client)
    expire(client)
    refresh_response(fake_op, refresh_token="rt-2")
    fake_op.discovery["revocation_endpoint"] = f"{ISSUER}/revoke"
    fake_op.mock.add(responses.POST, f"{ISSUER}/revoke", status=200)
    caches["default"].clear()  # discovery again, with the revocation endpoint
    original = renewal.BoundProvider.refresh

    def refresh_then_logout(self: Any, **kwargs: Any) -> Any:
        result = original(self, **kwargs)
        OIDCSession.objects.all().delete()  # a back-channel logout lands meanwhile
        return result

    monkeypatch.setattr(renewal.BoundProvider, "refresh", refresh_then_logout)
    response = client.get("/token/")
    assert response.status_code == 302
    assert "reason=session_ended" in response["Location"]
    assert not signed_in(client)
    revoked = [parse_qs(str(c.request.body))["token"] for c in fake_op.mock.calls
               if c.request.url == f"{ISSUER}/revoke"]
    assert revoked == [["rt-2"], ["at-2"]]  # the orphaned new tokens


def test_waiting_request_uses_the_token_another_request_renewed(
        fake_op: FakeProvider, monkeypatch: pytest.MonkeyPatch, rf: Any) -> None:
    """The lock is held elsewhere: this request waits, then adopts the stored result."""
    client = Client()
    sign_in(fake_op, client)
    expire(client)
    mapping = row().pk
    assert store.claim_once(renewal.LOCK_KIND, str(mapping), 30)  # another request renews
    sleeps: list[float] = []

    def other_request_finishes(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            OIDCSession.objects.update(token_version=1, tokens=encode(TokenSet(
                access_token="at-other", refresh_token="rt-other", id_token=None,
                expires_at=time.time() + 3600, version=1)))

    monkeypatch.setattr(renewal.time, "sleep", other_request_finishes)
    assert client.get("/token/").content == b"token at-other"
    assert refresh_calls(fake_op) == []
    assert len(sleeps) == 2
    assert client.session[SESSION_KEY]["access_token"] == "at-other"


def test_a_lock_left_by_a_dead_worker_is_taken_over_when_it_expires(
        fake_op: FakeProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    client = Client()
    sign_in(fake_op, client)
    expire(client)
    assert store.claim_once(renewal.LOCK_KIND, str(row().pk), 1)
    real_sleep = time.sleep
    monkeypatch.setattr(renewal.time, "sleep", lambda s: real_sleep(0.3))
    refresh_response(fake_op)
    assert client.get("/token/").content == b"token at-2"
    assert len(refresh_calls(fake_op)) == 1


def test_waiting_gives_up_with_a_503(fake_op: FakeProvider, monkeypatch: pytest.MonkeyPatch,
                                     settings: Any) -> None:
    client = Client()
    sign_in(fake_op, client)
    expire(client)
    assert store.claim_once(renewal.LOCK_KIND, str(row().pk), 60)
    monkeypatch.setattr(token_lock, "wait_limit", lambda config: 0.05)
    real_sleep = time.sleep
    monkeypatch.setattr(renewal.time, "sleep", lambda s: real_sleep(0.03))
    assert client.get("/token/").status_code == 503
    assert signed_in(client)


def test_session_signed_in_before_tokens_were_kept(fake_op: FakeProvider) -> None:
    """A session of an older version: the row's column is empty, the session had the tokens."""
    client = Client()
    sign_in(fake_op, client)
    OIDCSession.objects.update(tokens="")
    session = client.session
    session[SESSION_KEY] = {**session[SESSION_KEY], "refresh_token": "rt-legacy",
                            "expires_at": time.time() - 1}
    session.save()
    refresh_response(fake_op)
    assert client.get("/token/").content == b"token at-2"
    assert refresh_calls(fake_op)[0]["refresh_token"] == ["rt-legacy"]
    assert row_tokens()["refresh_token"] == "rt-legacy"


def test_reauthentication_required_is_an_idp_error_with_a_reason() -> None:
    exc = ReauthenticationRequired(reason="no_refresh_token")
    assert (exc.code, exc.status, exc.reason) == ("reauthentication_required", 401,
                                                  "no_refresh_token")


def test_post_needing_a_new_sign_in_is_answered_in_place(fake_op: FakeProvider) -> None:
    client = Client()
    sign_in(fake_op, client, refresh_token=None)
    expire(client)
    response = client.post("/token/", {"a": "1"}, HTTP_REFERER="http://testserver/form/")
    assert response.status_code == 401
    assert b"Please sign in again" in response.content
    assert b'href="/oidc/login/?next=http%3A%2F%2Ftestserver%2Fform%2F"' in response.content
    assert signed_in(client)


# --- the requests helper -----------------------------------------------------------------------

API = "https://api.example.test/data"


def test_api_helper_sends_the_token(fake_op: FakeProvider) -> None:
    client = Client()
    sign_in(fake_op, client)
    fake_op.mock.add(responses.GET, API, body="ok")
    assert client.get("/call-api/", {"url": API}).content == b"api 200 ok"
    (call,) = [c for c in fake_op.mock.calls if c.request.url == API]
    assert call.request.headers["Authorization"] == "Bearer at-1"


def test_api_helper_renews_once_on_401(fake_op: FakeProvider,
                                       caplog: pytest.LogCaptureFixture) -> None:
    client = Client()
    sign_in(fake_op, client)
    fake_op.mock.add(responses.GET, API, status=401)
    fake_op.mock.add(responses.GET, API, body="fresh")
    refresh_response(fake_op)
    with caplog.at_level(logging.DEBUG):
        assert client.get("/call-api/", {"url": API}).content == b"api 200 fresh"
    sent = [c.request.headers["Authorization"] for c in fake_op.mock.calls
            if c.request.url == API]
    assert sent == ["Bearer at-1", "Bearer at-2"]
    assert len(refresh_calls(fake_op)) == 1
    assert "at-1" not in caplog.text
    assert "at-2" not in caplog.text


def test_api_helper_gives_up_after_one_retry(fake_op: FakeProvider) -> None:
    client = Client()
    sign_in(fake_op, client)
    fake_op.mock.add(responses.GET, API, status=401)
    refresh_response(fake_op)
    assert client.get("/call-api/", {"url": API}).content == b"api 401 "
    assert len([c for c in fake_op.mock.calls if c.request.url == API]) == 2
    assert len(refresh_calls(fake_op)) == 1


def test_api_helper_sets_a_default_timeout(fake_op: FakeProvider,
                                           monkeypatch: pytest.MonkeyPatch, rf: Any) -> None:
    from django_idp_logout.apiclient import UserTokenSession

    seen: dict[str, Any] = {}

    def fake_request(self: Any, method: str, url: str, **kwargs: Any) -> Any:
        seen.update(kwargs)
        raise RuntimeError("stop")

    monkeypatch.setattr("requests.Session.request", fake_request)
    with pytest.raises(RuntimeError):
        UserTokenSession(rf.get("/"), timeout=3).get(API)
    assert seen["timeout"] == 3


def test_a_second_sign_in_drops_the_previous_sessions_tokens(fake_op: FakeProvider) -> None:
    client = Client()
    sign_in(fake_op, client, sub="alice")
    first = row().pk
    sign_in(fake_op, client, sub="bob")
    assert list(OIDCSession.objects.values_list("subject", flat=True)) == ["bob"]
    assert row().pk != first


def test_atomic_requests_end_the_session_for_good(fake_op: FakeProvider,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Under ATOMIC_REQUESTS the view's transaction rolls back when ReauthenticationRequired
    leaves it, undoing the sign-out's deletes: the middleware ends the session again."""
    from django.contrib.sessions.models import Session

    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    client = Client()
    sign_in(fake_op, client)
    key = client.cookies["sessionid"].value
    expire(client)
    refresh_response(fake_op, status=400, error="invalid_grant")
    response = client.get("/token/")
    assert "reason=refresh_refused" in response["Location"]
    assert not OIDCSession.objects.exists()
    assert not Session.objects.filter(session_key=key).exists()


def test_two_renewals_in_one_transaction(fake_op: FakeProvider,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The first renewal's lock is kept until the transaction ends; a second renewal in the
    same request (the API refused the new token) goes on as its holder."""
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    client = Client()
    sign_in(fake_op, client)
    expire(client)
    refresh_response(fake_op)
    fake_op.mock.add(responses.GET, API, status=401)
    fake_op.mock.add(responses.GET, API, body="ok")
    refresh_response(fake_op, access_token="at-3")
    assert client.get("/call-api/", {"url": API}).content == b"api 200 ok"
    assert len(refresh_calls(fake_op)) == 2
    # Released after the request: the next renewal does not wait.
    assert store.claim_once(renewal.LOCK_KIND, str(row().pk), 30)




def test_renewal_on_every_session_engine(fake_op: FakeProvider, engine: str) -> None:
    """Renewed once, stored, and the next request uses the new token without asking again —
    whichever engine keeps the session (cookie sessions read the token from the server)."""
    client = Client()
    sign_in(fake_op, client)
    assert client.get("/token/").content == b"token at-1"
    expire(client)
    refresh_response(fake_op, refresh_token="rt-2")
    assert client.get("/token/").content == b"token at-2"
    assert client.get("/token/").content == b"token at-2"
    assert len(refresh_calls(fake_op)) == 1
    assert row_tokens()["refresh_token"] == "rt-2"
    if engine == "signed_cookies":  # the cookie never holds an access or refresh token
        for cookie in client.cookies.values():
            assert "at-2" not in cookie.value
            assert "rt-" not in cookie.value
