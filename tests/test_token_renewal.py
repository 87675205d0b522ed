"""``get_access_token`` and renewal with the refresh token (issue 12), against a provider
served through ``responses``: what is sent, what is stored, and how every failure ends."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from django_idp_logout.models import OIDCSession
from django_idp_logout.session import SESSION_KEY
from django_idp_logout.signals import tokens_renewed
from django_idp_logout.token_store import TokenSet, encode

from .conftest import FakeProvider, start_login

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
                          "login_url": "/oidc/login/?next=%2Fhome%2F", "signed_out": False,
                          "authenticated": False}
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
                                            "%2F%3Fq%3D1", "signed_out": True,
                               "authenticated": False}
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
