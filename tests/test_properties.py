"""Property-based: whatever arrives at the callback or the logout return, never a 500 and
never a signed-in session that should not be."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
import responses
from django.contrib.auth import SESSION_KEY
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import ISSUER, FakeProvider, start_login

pytestmark = pytest.mark.django_db

FIXTURES_OK = settings(max_examples=150, deadline=None,
                       suppress_health_check=[HealthCheck.function_scoped_fixture])

keys = st.sampled_from(["state", "code", "error", "error_description", "error_uri", "iss",
                        "session_state", "next", "logout", "x"]) | st.text(max_size=10)
values = st.text(max_size=300) | st.sampled_from(["", "access_denied", ISSUER, "a" * 5000])
query_strings = st.lists(st.tuples(keys, values), max_size=8).map(
    lambda pairs: urlencode(pairs)) | st.text(max_size=400)


@FIXTURES_OK
@given(query=query_strings, with_pending=st.booleans())
def test_callback_never_500_never_signed_in(fake_op: FakeProvider, query: str,
                                            with_pending: bool) -> None:
    client = Client(raise_request_exception=True)
    if with_pending:
        start_login(client)
    response = client.get(f"/oidc/callback/?{query}")
    assert response.status_code < 500 or response.status_code in (502, 503, 504)
    assert SESSION_KEY not in client.session
    assert fake_op.token_calls() == []  # no valid state: never reaches the token endpoint


@FIXTURES_OK
@given(query=query_strings)
def test_logout_complete_never_500(query: str) -> None:
    client = Client(raise_request_exception=True)
    response = client.get(f"/oidc/logout/complete/?{query}")
    assert response.status_code == 302
    assert response["Location"] == "/"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.text(max_size=10), children, max_size=3),
    max_leaves=10)
token_bodies = st.one_of(
    st.dictionaries(st.sampled_from(["id_token", "access_token", "token_type", "expires_in",
                                     "refresh_token", "error", "error_description", "scope"]),
                    json_values, max_size=6).map(json.dumps),
    json_values.map(json.dumps),
    st.text(max_size=200),
    st.binary(max_size=200),
)


@FIXTURES_OK
@given(body=token_bodies, status=st.sampled_from([200, 201, 400, 401, 403, 500, 502, 503]),
       content_type=st.sampled_from(["application/json", "text/html", "application/jwt", ""]))
def test_arbitrary_token_responses_never_500_never_signed_in(
    fake_op: FakeProvider, body: Any, status: int, content_type: str
) -> None:
    client = Client(raise_request_exception=True)
    params = start_login(client)
    fake_op.mock.add(responses.POST, f"{ISSUER}/token", body=body, status=status,
                     content_type=content_type or None)
    response = client.get("/oidc/callback/", {"code": "c", "state": params["state"]})
    assert response.status_code in (400, 502, 503, 504)
    assert SESSION_KEY not in client.session


@FIXTURES_OK
@given(claims=st.dictionaries(
    st.sampled_from(["iss", "sub", "aud", "exp", "iat", "nbf", "nonce", "azp", "auth_time",
                     "at_hash", "sid", "events", "email"]), json_values, max_size=12),
    header=st.dictionaries(st.sampled_from(["kid", "typ", "crit", "cty"]), json_values,
                           max_size=3))
def test_arbitrary_id_tokens_never_500(fake_op: FakeProvider, claims: dict[str, Any],
                                       header: dict[str, Any]) -> None:
    client = Client(raise_request_exception=True)
    params = start_login(client)
    try:
        token = fake_op.sign(claims, headers=header)
    except (TypeError, ValueError, jwt.PyJWTError):
        return  # PyJWT refuses to encode this header; nothing to send
    fake_op.token_response({"id_token": token, "access_token": "a", "token_type": "Bearer"})
    response = client.get("/oidc/callback/", {"code": "c", "state": params["state"]})
    assert response.status_code in (302, 400, 403, 502)
    if response.status_code != 302:
        assert SESSION_KEY not in client.session
