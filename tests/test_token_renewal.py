"""``get_access_token`` and renewal with the refresh token (issue 12), against a provider
served through ``responses``: what is sent, what is stored, and how every failure ends."""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.core.cache import caches
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from django_idp_logout import store
from django_idp_logout.exceptions import ReauthenticationRequired
from django_idp_logout.flow import renewal
from django_idp_logout.models import OIDCSession
from django_idp_logout.session import SESSION_KEY
from django_idp_logout.signals import tokens_renewed
from django_idp_logout.token_store import TokenSet, encode

from .conftest import CLIENT_ID, ISSUER, FakeProvider, key, start_login

pytestmark = pytest.mark.django_db

AUTH_TIME = 1_700_000_000


def sign_in(fake_op: FakeProvider, client: Client, *, refresh_token: str | None = "rt-1",
            expires_in: int | None = 3600, sub: str = "alice") -> None:
    params = start_login(client)
    body: dict[str, Any] = {
        "id_token": fake_op.sign(fake_op.claims(params["nonce"], sub=sub, auth_time=AUTH_TIME)),
        "access_token": "at-1", "token_type": "Bearer"}
    if expires_in is not None:
        body["expires_in"] = expires_in
    if refresh_token:
        body["refresh_token"] = refresh_token
    fake_op.token_response(body)
    response = client.get("/oidc/callback/", {"code": "c", "state": params["state"]})
    assert response.status_code == 302, response.content


def row() -> OIDCSession:
    return OIDCSession.objects.get()


def row_tokens() -> dict[str, Any]:
    return dict(json.loads(row().tokens))


def expire(client: Client, remaining: float = -1) -> None:
    """Make the access token expire (or have ``remaining`` seconds left), in the row and in
    the session's copy."""
    tokens = row_tokens()
    OIDCSession.objects.update(tokens=encode(TokenSet(
        access_token=tokens["access_token"], refresh_token=tokens["refresh_token"],
        id_token=tokens["id_token"], expires_at=time.time() + remaining,
        lifetime=tokens.get("lifetime"), issued_at=tokens.get("issued_at"))))
    session = client.session
    if SESSION_KEY in session and session[SESSION_KEY].get("access_token"):
        session[SESSION_KEY] = {**session[SESSION_KEY], "expires_at": time.time() + remaining}
        session.save()


def renewed_id_token(fake_op: FakeProvider, **overrides: Any) -> str:
    claims = fake_op.claims(None, sub="alice", auth_time=AUTH_TIME)  # type: ignore[arg-type]
    claims.update(overrides)
    return fake_op.sign({k: v for k, v in claims.items() if v is not None})


def refresh_response(fake_op: FakeProvider, status: int = 200, **body: Any) -> None:
    if status == 200:
        body = {"access_token": "at-2", "token_type": "Bearer", "expires_in": 3600, **body}
    fake_op.token_response(body, status=status)


def refresh_calls(fake_op: FakeProvider) -> list[dict[str, list[str]]]:
    forms = [parse_qs(str(c.request.body)) for c in fake_op.token_calls()]
    return [f for f in forms if f.get("grant_type") == ["refresh_token"]]


def signed_in(client: Client) -> bool:
    return client.get("/home/").content != b"home anonymous"


# --- a valid token costs nothing ---------------------------------------------------------------


def test_valid_token_makes_no_request_and_no_extra_query(fake_op: FakeProvider) -> None:
    client = Client()
    sign_in(fake_op, client)
    calls = fake_op.outbound_calls()
    with CaptureQueriesContext(connection) as page:
        client.get("/home/")
    with CaptureQueriesContext(connection) as token:
        response = client.get("/token/")
    assert response.content == b"token at-1"
    assert len(token.captured_queries) == len(page.captured_queries)
    assert fake_op.outbound_calls() == calls


def test_not_signed_in_through_the_provider(fake_op: FakeProvider) -> None:
    client = Client()
    response = client.get("/token/")
    assert response.status_code == 302
    assert response["Location"] == "/oidc/login/?next=%2Ftoken%2F"
    xhr = client.get("/token/", HTTP_ACCEPT="application/json")
    assert xhr.status_code == 401
    assert xhr.json() == {"error": "reauthentication_required", "reason": "not_signed_in",
                          "login_url": "/oidc/login/?next=%2Fhome%2F", "signed_out": False}
    assert xhr["Cache-Control"] == "no-store"


# --- renewal -----------------------------------------------------------------------------------


def test_expired_token_is_renewed_once_and_stored(fake_op: FakeProvider) -> None:
    renewals: list[dict[str, Any]] = []
    tokens_renewed.connect(lambda **kw: renewals.append(kw), weak=False,
                           dispatch_uid="test-renewal")
    try:
        client = Client()
        sign_in(fake_op, client)
        expire(client)
        refresh_response(fake_op)
        assert client.get("/token/").content == b"token at-2"
        assert client.get("/token/").content == b"token at-2"  # the session's copy
    finally:
        tokens_renewed.disconnect(dispatch_uid="test-renewal")
    (call,) = refresh_calls(fake_op)
    assert call["refresh_token"] == ["rt-1"]
    assert "scope" not in call
    assert row_tokens()["access_token"] == "at-2"
    assert row_tokens()["refresh_token"] == "rt-1"  # not rotated: kept
    assert row().token_version == 1
    assert client.session[SESSION_KEY]["token_version"] == 1
    assert "refresh_token" not in client.session[SESSION_KEY]
    assert [(r["rotated"], r["id_token"]) for r in renewals] == [(False, False)]
    assert "at-2" not in repr(renewals)


def test_rotated_refresh_token_replaces_the_old_one(fake_op: FakeProvider) -> None:
    client = Client()
    sign_in(fake_op, client)
    expire(client)
    refresh_response(fake_op, refresh_token="rt-2")
    client.get("/token/")
    expire(client)
    refresh_response(fake_op, access_token="at-3", refresh_token="rt-3")
    assert client.get("/token/").content == b"token at-3"
    assert [c["refresh_token"] for c in refresh_calls(fake_op)] == [["rt-1"], ["rt-2"]]
    assert row_tokens()["refresh_token"] == "rt-3"


def test_token_within_the_margin_is_renewed(fake_op: FakeProvider, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "TOKEN_RENEW_MARGIN": 120}
    client = Client()
    sign_in(fake_op, client, expires_in=3600)
    expire(client, remaining=100)
    refresh_response(fake_op)
    assert client.get("/token/").content == b"token at-2"


def test_margin_is_at_most_half_the_tokens_lifetime(fake_op: FakeProvider,
                                                   settings: Any) -> None:
    """A margin longer than the provider's tokens live would renew on every call (and,
    without a refresh token, send the user to sign in again and again)."""
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "TOKEN_RENEW_MARGIN": 120}
    client = Client()
    sign_in(fake_op, client, expires_in=100)
    assert client.get("/token/").content == b"token at-1"
    expire(client, remaining=40)
    refresh_response(fake_op)
    assert client.get("/token/").content == b"token at-2"


def test_unknown_expiry_counts_as_valid(fake_op: FakeProvider) -> None:
    client = Client()
    sign_in(fake_op, client, expires_in=None)
    assert client.get("/token/").content == b"token at-1"
    assert refresh_calls(fake_op) == []


def test_no_refresh_token_asks_for_a_new_sign_in_and_keeps_the_session(
        fake_op: FakeProvider) -> None:
    client = Client()
    sign_in(fake_op, client, refresh_token=None)
    expire(client)
    response = client.get("/token/?a=1")
    assert response.status_code == 302
    assert response["Location"] == "/oidc/login/?next=%2Ftoken%2F%3Fa%3D1"
    assert signed_in(client)
    xhr = client.get("/token/", HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    assert (xhr.status_code, xhr.json()["reason"]) == (401, "no_refresh_token")
    assert refresh_calls(fake_op) == []


@pytest.mark.parametrize("status", [400, 401])
def test_refused_refresh_signs_out(fake_op: FakeProvider, status: int,
                                   expired_sessions: list[dict[str, Any]]) -> None:
    client = Client()
    sign_in(fake_op, client)
    expire(client)
    code = "invalid_grant"
    refresh_response(fake_op, status=status, error=code, error_description="<b>gone</b>")
    response = client.get("/token/?x=1")
    assert response.status_code == 302
    assert response["Location"] == ("/oidc/session-ended/?reason=refresh_refused"
                                    "&next=%2Ftoken%2F%3Fx%3D1")
    assert not signed_in(client)
    assert not OIDCSession.objects.exists()
    assert [e["reason"] for e in expired_sessions] == ["refresh_refused"]
    assert expired_sessions[0]["user"].is_authenticated
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert b"has ended" in page.content
    assert b'href="/oidc/login/?next=%2Ftoken%2F%3Fx%3D1"' in page.content


def test_refused_refresh_answers_xhr_with_json(fake_op: FakeProvider) -> None:
    client = Client()
    sign_in(fake_op, client)
    expire(client)
    refresh_response(fake_op, status=400, error="invalid_grant")
    response = client.get("/token/", HTTP_ACCEPT="application/json",
                          HTTP_REFERER="http://testserver/page/?q=1")
    assert response.status_code == 401
    assert response.json() == {"error": "reauthentication_required", "reason": "refresh_refused",
                               "login_url": "/oidc/login/?next=http%3A%2F%2Ftestserver%2Fpage"
                                            "%2F%3Fq%3D1", "signed_out": True}
    assert not signed_in(client)


def test_refused_refresh_on_post_shows_the_page_without_redirect(fake_op: FakeProvider) -> None:
    client = Client()
    sign_in(fake_op, client)
    expire(client)
    refresh_response(fake_op, status=400, error="invalid_grant")
    response = client.post("/token/", {"field": "kept by the browser"})
    assert response.status_code == 401
    assert b"Sign in again" in response.content


@pytest.mark.parametrize(("status", "expected"), [(500, 502), (503, 503)])
def test_provider_down_keeps_the_session(fake_op: FakeProvider, status: int,
                                         expected: int) -> None:
    client = Client()
    sign_in(fake_op, client)
    expire(client)
    refresh_response(fake_op, status=status)
    response = client.get("/token/")
    assert response.status_code == expected
    assert b"Reference:" in response.content
    assert signed_in(client)
    xhr = client.get("/token/", HTTP_ACCEPT="application/json")
    assert xhr.status_code == expected
    assert xhr.json()["error"] == "provider_unavailable"


def test_invalid_client_is_an_error_page_not_a_sign_out(fake_op: FakeProvider) -> None:
    client = Client()
    sign_in(fake_op, client)
    expire(client)
    refresh_response(fake_op, status=401, error="invalid_client")
    assert client.get("/token/").status_code == 502
    assert signed_in(client)


def test_refresh_response_without_access_token_changes_nothing(fake_op: FakeProvider) -> None:
    client = Client()
    sign_in(fake_op, client)
    expire(client)
    fake_op.token_response({"token_type": "Bearer", "refresh_token": "rt-2"})
    assert client.get("/token/").status_code == 502
    assert row_tokens()["refresh_token"] == "rt-1"
    assert row().token_version == 0


# --- the renewed ID token (Core 12.2) ----------------------------------------------------------


def test_renewed_id_token_is_kept_and_used_at_logout(fake_op: FakeProvider) -> None:
    client = Client()
    sign_in(fake_op, client)
    expire(client)
    new_id_token = renewed_id_token(fake_op, name="Alice Renewed")
    refresh_response(fake_op, id_token=new_id_token, refresh_token="rt-2")
    assert client.get("/token/").content == b"token at-2"
    data = client.session[SESSION_KEY]
    assert data["id_token"] == new_id_token
    assert data["claims"]["name"] == "Alice Renewed"
    fake_op.mock.add(responses.POST, f"{ISSUER}/revoke", status=200)
    fake_op.discovery["revocation_endpoint"] = f"{ISSUER}/revoke"
    caches["default"].clear()
    csrf_client = Client()
    csrf_client.cookies = client.cookies
    response = csrf_client.post("/oidc/logout/")
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["id_token_hint"] == [new_id_token]
    revoked = [parse_qs(str(c.request.body)) for c in fake_op.mock.calls
               if c.request.url == f"{ISSUER}/revoke"]
    assert [r["token"] for r in revoked] == [["rt-2"], ["at-2"]]


@pytest.mark.parametrize("overrides", [
    {"iss": "https://other.example.test"},
    {"sub": "mallory"},
    {"aud": "another-client"},
    {"aud": [CLIENT_ID, "another-client"], "azp": CLIENT_ID},
    {"azp": "another-client"},
    {"auth_time": AUTH_TIME + 10},
    {"nonce": "not-the-original"},
    {"exp": int(time.time()) - 3600},
    "bad-signature",
    "not-a-jwt",
], ids=["iss", "sub", "aud", "extra-aud", "azp", "auth_time", "nonce", "expired",
        "signature", "garbage"])
def test_rejected_renewed_id_token_ends_the_session(
        fake_op: FakeProvider, overrides: Any, caplog: pytest.LogCaptureFixture,
        expired_sessions: list[dict[str, Any]]) -> None:
    client = Client()
    sign_in(fake_op, client)
    expire(client)
    if overrides == "bad-signature":
        id_token = fake_op.sign(fake_op.claims(None, sub="alice",  # type: ignore[arg-type]
                                               auth_time=AUTH_TIME), key("other", kid="k1"))
    elif overrides == "not-a-jwt":
        id_token = "not.a.jwt"
    else:
        id_token = renewed_id_token(fake_op, **overrides)
    refresh_response(fake_op, id_token=id_token, refresh_token="rt-2")
    with caplog.at_level(logging.INFO, logger="django_idp_logout"):
        response = client.get("/token/")
    assert response.status_code == 302
    assert "reason=id_token_rejected" in response["Location"]
    assert not signed_in(client)
    assert not OIDCSession.objects.exists()
    assert [e["reason"] for e in expired_sessions] == ["id_token_rejected"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("stage=token_renewal" in r.getMessage() for r in warnings), caplog.text
    assert "at-2" not in caplog.text
    assert "rt-2" not in caplog.text


# --- the session's tokens ----------------------------------------------------------------------


def test_signed_cookie_sessions_get_tokens_from_the_server(fake_op: FakeProvider,
                                                          settings: Any) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    client = Client()
    sign_in(fake_op, client)
    assert client.get("/token/").content == b"token at-1"
    expire(client)
    refresh_response(fake_op, refresh_token="rt-2")
    assert client.get("/token/").content == b"token at-2"
    for cookie in client.cookies.values():
        assert "at-2" not in cookie.value
        assert "rt-" not in cookie.value


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
    monkeypatch.setattr(renewal, "wait_limit", lambda config: 0.05)
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


