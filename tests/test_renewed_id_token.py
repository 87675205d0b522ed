"""A renewed ID token (OpenID Connect Core §12.2, issue 12): kept and used at logout when
valid; any rejection ends the session with a WARNING."""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.core.cache import caches
from django.test import Client

from django_idp_logout.models import OIDCSession
from django_idp_logout.session import SESSION_KEY

from .conftest import CLIENT_ID, ISSUER, FakeProvider, key
from .test_token_renewal import (
    AUTH_TIME,
    expire,
    refresh_response,
    renewed_id_token,
    sign_in,
    signed_in,
)

pytestmark = pytest.mark.django_db


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
