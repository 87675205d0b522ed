"""An API's own access token through the backend-for-frontend proxy (``BFF_APIS``'
``TOKEN_PARAMS``, issue 15): asked for once with the refresh token and the API's parameters,
kept with the session's tokens, renewed, revoked; and the session's own renewal unaffected."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs

import pytest
import responses
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import Client, RequestFactory

from django_idp_logout import store
from django_idp_logout.flow import renewal, token_lock
from django_idp_logout.middleware import IdPSessionMiddleware
from django_idp_logout.models import OIDCSession

from .bff_upstream import Upstream
from .conftest import ISSUER, FakeProvider
from .test_bff import CSRF, body
from .test_token_renewal import refresh_calls, refresh_response, row, sign_in

pytestmark = pytest.mark.django_db


# --- an API's own access token (TOKEN_PARAMS) -------------------------------------------------


@pytest.fixture
def own_token_api(upstream: Upstream, settings: Any) -> dict[str, str]:
    params = {"scope": "api://orders/.default"}
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "BFF_APIS": {"orders": {
        "URL": f"{upstream.url}/base/", "TOKEN_PARAMS": params}}}
    return params


def test_an_api_with_token_params_gets_its_own_token_once(
        bff_client: Client, upstream: Upstream, fake_op: FakeProvider,
        own_token_api: dict[str, str]) -> None:
    refresh_response(fake_op, access_token="at-orders", refresh_token="rt-2", expires_in=600)
    for _ in range(3):
        assert bff_client.get("/oidc/api/orders/items", **CSRF).status_code == 200
    calls = refresh_calls(fake_op)
    assert len(calls) == 1
    assert calls[0]["scope"] == ["api://orders/.default"]
    assert calls[0]["refresh_token"] == ["rt-1"]
    assert [r["headers"]["Authorization"] for r in upstream.requests] == [
        "Bearer at-orders"] * 3
    # The session's own token is untouched; the rotated refresh token is the one kept.
    assert bff_client.get("/token/").content == b"token at-1"
    stored = OIDCSession.objects.get()
    assert json.loads(stored.tokens)["refresh_token"] == "rt-2"
    assert "at-orders" not in bff_client.get("/oidc/session/").content.decode()


def test_an_apis_own_token_is_renewed_when_it_expires_or_is_refused(
        bff_client: Client, upstream: Upstream, fake_op: FakeProvider,
        own_token_api: dict[str, str]) -> None:
    refresh_response(fake_op, access_token="at-orders-1", expires_in=600)
    bff_client.get("/oidc/api/orders/items", **CSRF)
    upstream.refuse_tokens = {"at-orders-1"}
    fake_op.mock.replace(responses.POST, f"{ISSUER}/token", json={
        "access_token": "at-orders-2", "token_type": "Bearer", "expires_in": 600})
    assert bff_client.get("/oidc/api/orders/items", **CSRF).status_code == 200
    assert [r["headers"]["Authorization"] for r in upstream.requests] == [
        "Bearer at-orders-1", "Bearer at-orders-1", "Bearer at-orders-2"]
    assert len(refresh_calls(fake_op)) == 2


def test_changed_token_params_get_another_token(bff_client: Client, upstream: Upstream,
                                                fake_op: FakeProvider, settings: Any,
                                                own_token_api: dict[str, str]) -> None:
    refresh_response(fake_op, access_token="at-orders", expires_in=600)
    bff_client.get("/oidc/api/orders/items", **CSRF)
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "BFF_APIS": {"orders": {
        "URL": f"{upstream.url}/base/", "TOKEN_PARAMS": {"resource": "https://o.test/"}}}}
    bff_client.get("/oidc/api/orders/items", **CSRF)
    calls = refresh_calls(fake_op)
    assert len(calls) == 2
    assert calls[1]["resource"] == ["https://o.test/"]
    assert "scope" not in calls[1]


def test_a_refused_refresh_for_an_api_ends_the_session(bff_client: Client, upstream: Upstream,
                                                       fake_op: FakeProvider,
                                                       own_token_api: dict[str, str]) -> None:
    refresh_response(fake_op, status=400, error="invalid_grant")
    response = bff_client.get("/oidc/api/orders/items", **CSRF)
    assert response.status_code == 401
    assert body(response)["signed_out"] is True
    assert upstream.requests == []


def test_an_api_scope_the_provider_refuses_is_json_and_the_session_goes_on(
        bff_client: Client, upstream: Upstream, fake_op: FakeProvider,
        own_token_api: dict[str, str]) -> None:
    refresh_response(fake_op, status=400, error="invalid_scope")
    response = bff_client.get("/oidc/api/orders/items", **CSRF)
    assert response.status_code >= 400
    assert body(response)["error"] == "invalid_scope"
    assert upstream.requests == []
    assert bff_client.get("/oidc/session/").status_code == 200


def test_logout_revokes_the_apis_own_tokens(upstream: Upstream, fake_op: FakeProvider,
                                            own_token_api: dict[str, str]) -> None:
    fake_op.discovery["revocation_endpoint"] = f"{ISSUER}/revoke"
    fake_op.mock.add(responses.POST, f"{ISSUER}/revoke", status=200)
    client = Client()
    sign_in(fake_op, client, sub="alice")
    refresh_response(fake_op, access_token="at-orders", expires_in=600)
    client.get("/oidc/api/orders/items", **CSRF)
    client.post("/oidc/logout/", **CSRF)
    revoked = [parse_qs(str(c.request.body))["token"][0] for c in fake_op.mock.calls
               if c.request.url == f"{ISSUER}/revoke"]
    assert revoked == ["rt-1", "at-1", "at-orders"]


def test_token_params_cannot_set_the_grants_own(upstream: Upstream, settings: Any) -> None:
    from django_idp_logout.bff_settings import problems

    assert problems({"o": {"URL": "https://a.test/", "TOKEN_PARAMS": {"refresh_token": "x"}}})
    assert problems({"o": {"URL": "https://a.test/", "TOKEN_PARAMS": {"scope": 3}}})
    assert not problems({"o": {"URL": "https://a.test/", "TOKEN_PARAMS": {"scope": "a b"}}})


def test_a_waiting_renewal_does_not_take_an_api_tokens_write_for_a_renewal(
        fake_op: FakeProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    """While one request holds the lock to store an API's own token (a new version, the
    same session token), another that must renew the refused session token waits for a new
    session token, not for any new version."""
    client = Client()
    sign_in(fake_op, client)
    assert store.claim_once(renewal.LOCK_KIND, str(row().pk), 30)  # the other request
    sleeps: list[float] = []

    def the_other_request(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 1:  # stores an API's token: version 1, the session token unchanged
            stored = json.loads(row().tokens)
            stored["apis"] = {"orders:x": {"access_token": "api-at",
                                           "expires_at": time.time() + 3600}}
            OIDCSession.objects.update(token_version=1, tokens=json.dumps(stored))
        elif len(sleeps) == 2:
            store.release(renewal.LOCK_KIND, str(row().pk))

    monkeypatch.setattr(token_lock.time, "sleep", the_other_request)
    refresh_response(fake_op, refresh_token="rt-2")
    request = RequestFactory().get("/x/")
    request.COOKIES = {k: v.value for k, v in client.cookies.items()}
    SessionMiddleware(lambda r: None).process_request(request)  # type: ignore[arg-type,return-value]
    AuthenticationMiddleware(lambda r: None).process_request(request)  # type: ignore[arg-type,return-value]
    IdPSessionMiddleware(lambda r: None).attach(request)  # type: ignore[arg-type,return-value]
    assert renewal.access_token(request, rejected="at-1") == "at-2"
    assert len(refresh_calls(fake_op)) == 1
    assert json.loads(row().tokens)["apis"]["orders:x"]["access_token"] == "api-at"  # kept
