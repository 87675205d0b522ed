"""The site's API against the real provider's access tokens (oidc-provider, RFC 8707
resource indicators): JWTs (RFC 9068) for ``API``, opaque tokens for ``API + "opaque/"``
(introspection, RFC 7662), a client's own tokens (client credentials) and a user's (sign-in).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.test import Client

from django_idp_logout.session import SESSION_KEY

from .conftest import require_node
from .op_server import CALLBACK, LOGOUT_COMPLETE, Browser, OpenIDProvider

pytestmark = [pytest.mark.op, pytest.mark.django_db]

API = "https://api.example.test/"
OPAQUE_API = f"{API}opaque/"
CLIENT = {
    "client_id": "rp-api",
    "client_secret": "rp-api-secret-0123456789abcdef0123456789abcd",
    "redirect_uris": [CALLBACK],
    "post_logout_redirect_uris": [LOGOUT_COMPLETE],
    "token_endpoint_auth_method": "client_secret_basic",
    "grant_types": ["authorization_code", "client_credentials"],
    "response_types": ["code"],
}


@pytest.fixture(scope="module")
def op() -> Iterator[OpenIDProvider]:
    require_node()
    with OpenIDProvider(clients=[CLIENT], env={"OP_API_RESOURCE": API}) as provider:
        yield provider


@pytest.fixture
def site(op: OpenIDProvider, settings: Any) -> OpenIDProvider:
    settings.IDP_LOGOUT = op.settings_for("rp-api", API={
        "AUDIENCE": [API, OPAQUE_API], "INTROSPECT": True, "INTROSPECTION_CACHE_TTL": 0})
    return op


def client_token(op: OpenIDProvider, resource: str = API, scope: str = "api:read") -> str:
    """A client credentials grant: the client's own token for ``resource``."""
    response = requests.post(f"{op.issuer}/token", timeout=5, data={
        "grant_type": "client_credentials", "resource": resource, "scope": scope},
        auth=(CLIENT["client_id"], CLIENT["client_secret"]))
    response.raise_for_status()
    return str(response.json()["access_token"])


def call(path: str, token: str) -> Any:
    return Client().get(f"/api/{path}/", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_a_clients_own_jwt_is_accepted_without_a_user(site: OpenIDProvider) -> None:
    token = client_token(site)
    assert token.count(".") == 2  # a JWT, typ at+jwt
    body = call("plain", token).json()
    # Its sub is the client's id (as Okta's and Auth0's): no local identity, so no user.
    assert body == {"user": None, "subject": "rp-api", "client_id": "rp-api",
                    "scopes": ["api:read"], "provider": "default"}
    assert call("drf", token).status_code == 200
    denied = call("drf-write", token)
    assert denied.status_code == 403
    assert 'error="insufficient_scope"' in denied["WWW-Authenticate"]


def test_a_signed_in_users_token_is_that_user(site: OpenIDProvider, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "AUTH_PARAMS": {"resource": API},
                           "SCOPES": "openid api:read api:write"}
    browser = Browser()
    browser.go("/oidc/login/?next=/home/", login="olga")
    data = browser.django.session[SESSION_KEY]
    body = call("plain", data["access_token"]).json()
    assert body["subject"] == "olga"
    assert body["user"] == browser.django.get("/home/").content.decode().split()[1]
    assert body["scopes"] == ["api:read", "api:write"]
    # The same user's ID token is no access token, even for an API whose audience is the
    # client id (what W012 warns about): refused by what it is, not by its audience.
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "API": {"AUDIENCE": [API, "rp-api"]}}
    assert call("plain", data["id_token"]).status_code == 401
    assert call("plain", data["access_token"]).status_code == 200
    # A forged scope breaks the signature.
    header, payload, signature = data["access_token"].split(".")
    assert call("plain", f"{header}.{payload[:-4]}AAAA.{signature}").status_code == 401


def test_a_token_for_another_api_is_refused(site: OpenIDProvider, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "API": {"AUDIENCE": "https://other.test/"}}
    response = call("plain", client_token(site))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'


def test_opaque_tokens_are_introspected_and_a_revoked_one_refused(site: OpenIDProvider) -> None:
    token = client_token(site, OPAQUE_API, "api:read api:write")
    assert token.count(".") != 2  # opaque
    assert call("plain", token).json()["scopes"] == ["api:read", "api:write"]
    requests.post(f"{site.issuer}/token/revocation", data={"token": token}, timeout=5,
                  auth=(CLIENT["client_id"], CLIENT["client_secret"])).raise_for_status()
    assert call("plain", token).status_code == 401


def test_opaque_tokens_without_introspection_are_refused(site: OpenIDProvider,
                                                         settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "API": {"AUDIENCE": OPAQUE_API}}
    assert call("plain", client_token(site, OPAQUE_API)).status_code == 401
