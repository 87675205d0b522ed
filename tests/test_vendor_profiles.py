"""The profiles of issue 13 (Keycloak, Entra ID, Auth0, Okta, Cognito, Google, ZITADEL,
authentik): golden end-session URLs from each vendor's documentation
(``notes/vendor-research/``, read 2026-12-01), compared with ``urlsplit``/``parse_qs``; what
each revokes and asks for refresh tokens; Entra ID's multi-tenant issuers."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.test import Client

from django_idp_logout.conf import get_config
from django_idp_logout.discovery import ProviderMetadata
from django_idp_logout.providers import BoundProvider, get_provider
from django_idp_logout.providers.base import LogoutContext

from .conftest import CLIENT_SECRET, FakeProvider, start_login

pytestmark = pytest.mark.django_db

RETURN = "https://rp.example/oidc/logout/complete/"
CONTEXT = LogoutContext(post_logout_redirect_uri=RETURN, state="st-1", id_token="the.id.token",
                        access_token="the-access-token",
                        claims={"login_hint": "O.aHint", "sub": "s"})

#: name -> (settings, discovery document, expected end-session URL, expected parameters);
#: ``None`` for a profile that sends no end-session request.
VENDOR_GOLDEN: dict[str, Any] = {
    # keycloak.md [S8][S11]: <realm>/protocol/openid-connect/logout with id_token_hint,
    # post_logout_redirect_uri, client_id (19+), state.
    "keycloak": (
        {"ISSUER": "https://kc.example.com/realms/demo"},
        {"end_session_endpoint":
         "https://kc.example.com/realms/demo/protocol/openid-connect/logout"},
        "https://kc.example.com/realms/demo/protocol/openid-connect/logout",
        {"id_token_hint": ["the.id.token"], "client_id": ["cid"], "state": ["st-1"],
         "post_logout_redirect_uri": [RETURN]},
    ),
    # entra-id.md [M1]: .../oauth2/v2.0/logout?post_logout_redirect_uri=…, logout_hint = the
    # login_hint claim; no id_token_hint (B2C only).
    "entra": (
        {"ISSUER": "https://login.microsoftonline.com/8eaef023-2b34-4da1-9baa-8bc8c9d6a490/v2.0"},
        {"end_session_endpoint": "https://login.microsoftonline.com/"
                                 "8eaef023-2b34-4da1-9baa-8bc8c9d6a490/oauth2/v2.0/logout"},
        "https://login.microsoftonline.com/8eaef023-2b34-4da1-9baa-8bc8c9d6a490/oauth2/v2.0/logout",
        {"post_logout_redirect_uri": [RETURN], "logout_hint": ["O.aHint"], "state": ["st-1"]},
    ),
    # auth0.md [A2]: /oidc/logout?id_token_hint=…&post_logout_redirect_uri=… (+ client_id, state)
    "auth0": (
        {"ISSUER": "https://tenant.us.auth0.com/"},
        {"end_session_endpoint": "https://tenant.us.auth0.com/oidc/logout"},
        "https://tenant.us.auth0.com/oidc/logout",
        {"id_token_hint": ["the.id.token"], "client_id": ["cid"], "state": ["st-1"],
         "post_logout_redirect_uri": [RETURN]},
    ),
    # okta.md [O12]: /oauth2/v1/logout?id_token_hint=…&post_logout_redirect_uri=…&state=…
    "okta": (
        {"ISSUER": "https://dev-123.okta.com"},
        {"end_session_endpoint": "https://dev-123.okta.com/oauth2/v1/logout"},
        "https://dev-123.okta.com/oauth2/v1/logout",
        {"id_token_hint": ["the.id.token"], "state": ["st-1"],
         "post_logout_redirect_uri": [RETURN]},
    ),
    # cognito.md [LOGOUT]: https://<domain>/logout?client_id=…&logout_uri=… (GET; both required)
    "cognito": (
        {"ISSUER": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf"},
        {"authorization_endpoint":
         "https://blrefactor.auth.us-east-1.amazoncognito.com/oauth2/authorize"},
        "https://blrefactor.auth.us-east-1.amazoncognito.com/logout",
        {"client_id": ["cid"], "logout_uri": [RETURN]},
    ),
    # google.md: no end-session endpoint.
    "google": ({"ISSUER": "https://accounts.google.com"}, {}, None, None),
    # zitadel.md [LOGOUT]: /oidc/v1/end_session?id_token_hint=…&post_logout_redirect_uri=…
    # &state=… (+ client_id: ZITADEL ignores the redirect without one of them)
    "zitadel": (
        {"ISSUER": "https://acme-abc123.zitadel.cloud"},
        {"end_session_endpoint": "https://acme-abc123.zitadel.cloud/oidc/v1/end_session"},
        "https://acme-abc123.zitadel.cloud/oidc/v1/end_session",
        {"id_token_hint": ["the.id.token"], "client_id": ["cid"], "state": ["st-1"],
         "post_logout_redirect_uri": [RETURN]},
    ),
    # authentik.md [ES-CODE]: /application/o/<slug>/end-session/?id_token_hint=…
    # &post_logout_redirect_uri=…&state=…
    "authentik": (
        {"ISSUER": "https://auth.example.com/application/o/demo/"},
        {"end_session_endpoint": "https://auth.example.com/application/o/demo/end-session/"},
        "https://auth.example.com/application/o/demo/end-session/",
        {"id_token_hint": ["the.id.token"], "state": ["st-1"],
         "post_logout_redirect_uri": [RETURN]},
    ),
}


def bound(name: str, settings: Any, config: dict[str, Any], document: dict[str, Any]
          ) -> BoundProvider:
    settings.IDP_LOGOUT = {"PROVIDER": name, "CLIENT_ID": "cid", **config}
    return BoundProvider(get_provider(get_config()),
                         ProviderMetadata({"issuer": config["ISSUER"], **document}))


@pytest.mark.parametrize("name", sorted(VENDOR_GOLDEN))
def test_vendor_golden_end_session_urls(name: str, settings: Any) -> None:
    config, document, expected_base, expected_params = VENDOR_GOLDEN[name]
    request = bound(name, settings, config, document).end_session_request(CONTEXT)
    if expected_base is None:
        assert request is None
        return
    assert request is not None
    parts = urlsplit(request.url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == expected_base
    assert parse_qs(parts.query) == expected_params


def test_auth0_without_the_oidc_endpoint_uses_the_legacy_logout(settings: Any) -> None:
    """auth0.md [A4]: /v2/logout?returnTo=…&client_id=… for tenants that do not publish
    end_session_endpoint; ``federated`` through LOGOUT_PARAMS."""
    request = bound("auth0", settings, {"ISSUER": "https://tenant.us.auth0.com/",
                                        "LOGOUT_PARAMS": {"federated": ""}},
                    {}).end_session_request(CONTEXT)
    assert request is not None
    parts = urlsplit(request.url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://tenant.us.auth0.com/v2/logout"
    assert parse_qs(parts.query, keep_blank_values=True) == {
        "returnTo": [RETURN], "client_id": ["cid"], "federated": [""]}


def test_entra_without_login_hint_sends_no_logout_hint(settings: Any) -> None:
    config, document, _, _ = VENDOR_GOLDEN["entra"]
    request = bound("entra", settings, config, document).end_session_request(
        LogoutContext(post_logout_redirect_uri=RETURN, state="st-1", id_token="t"))
    assert request is not None
    assert "logout_hint" not in parse_qs(urlsplit(request.url).query)


def test_cognito_endpoint_override_wins(settings: Any) -> None:
    request = bound("cognito", settings, {
        "ISSUER": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf",
        "ENDPOINTS": {"end_session_endpoint": "https://login.example.com/logout"}}, {
        "authorization_endpoint": "https://x.auth.us-east-1.amazoncognito.com/oauth2/authorize",
        "end_session_endpoint": "https://login.example.com/logout"}).end_session_request(CONTEXT)
    assert request is not None
    assert request.endpoint == "https://login.example.com/logout"
    assert request.method == "GET"


@pytest.mark.parametrize(("name", "document", "expected"), [
    ("keycloak", {"revocation_endpoint": "https://kc.example.com/realms/demo/protocol/"
                  "openid-connect/revoke"},
     "https://kc.example.com/realms/demo/protocol/openid-connect/revoke"),
    ("auth0", {}, "https://tenant.us.auth0.com/oauth/revoke"),
    ("cognito", {"authorization_endpoint": "https://d.auth.eu-west-1.amazoncognito.com/"
                 "oauth2/authorize"}, "https://d.auth.eu-west-1.amazoncognito.com/oauth2/revoke"),
    ("okta", {"revocation_endpoint": "https://dev-123.okta.com/oauth2/v1/revoke"},
     "https://dev-123.okta.com/oauth2/v1/revoke"),
    ("entra", {"revocation_endpoint": "https://login.microsoftonline.com/x/revoke"}, None),
    ("google", {"revocation_endpoint": "https://oauth2.googleapis.com/revoke"},
     "https://oauth2.googleapis.com/revoke"),
])
def test_revocation_endpoints(settings: Any, name: str, document: dict[str, str],
                              expected: str | None) -> None:
    issuer = {"auth0": "https://tenant.us.auth0.com/"}.get(name, "https://idp.example.test")
    assert bound(name, settings, {"ISSUER": issuer}, document).revocation_endpoint == expected


@pytest.mark.parametrize(("name", "default"), [("keycloak", False), ("google", False),
                                               ("okta", True), ("auth0", True),
                                               ("cognito", True), ("generic", True)])
def test_revocation_defaults_and_the_explicit_setting(settings: Any, name: str,
                                                      default: bool) -> None:
    settings.IDP_LOGOUT = {"PROVIDER": name, "ISSUER": "https://idp.example.test",
                           "CLIENT_ID": "cid"}
    assert get_provider(get_config()).should_revoke() is default
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "REVOKE_TOKENS_ON_LOGOUT": True}
    assert get_provider(get_config()).should_revoke() is True
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "REVOKE_TOKENS_ON_LOGOUT": False}
    assert get_provider(get_config()).should_revoke() is False


@pytest.mark.parametrize(("name", "scope", "extra"), [
    ("generic", "openid email profile offline_access", {}),
    ("okta", "openid email profile offline_access", {}),
    ("keycloak", "openid email profile", {}),
    ("cognito", "openid email profile", {}),
    ("google", "openid email profile", {"access_type": "offline", "prompt": "consent"}),
])
def test_refresh_token_requests(settings: Any, name: str, scope: str,
                                extra: dict[str, str]) -> None:
    settings.IDP_LOGOUT = {"PROVIDER": name, "ISSUER": "https://idp.example.test",
                           "CLIENT_ID": "cid", "REQUEST_REFRESH_TOKEN": True}
    params = get_provider(get_config()).authorization_params(
        metadata=ProviderMetadata({"issuer": "https://idp.example.test"}), redirect_uri="r",
        state="s", nonce="n", code_challenge="c")
    assert params["scope"] == scope
    assert {k: params[k] for k in extra} == extra
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "REQUEST_REFRESH_TOKEN": False}
    params = get_provider(get_config()).authorization_params(
        metadata=ProviderMetadata({"issuer": "https://idp.example.test"}), redirect_uri="r",
        state="s", nonce="n", code_challenge="c")
    assert params["scope"] == "openid email profile"
    assert "access_type" not in params


# --- Google: the provider's session stays ----------------------------------------------------


def test_google_logout_says_the_google_session_stays(fake_op: FakeProvider,
                                                     settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "PROVIDER": "google"}
    del fake_op.discovery["end_session_endpoint"]
    client = Client()
    params = start_login(client)
    fake_op.token_response({"id_token": fake_op.sign(fake_op.claims(params["nonce"])),
                            "access_token": "at", "token_type": "Bearer"})
    client.get("/oidc/callback/", {"code": "c", "state": params["state"]})
    client.get("/oidc/logout/")  # the confirmation page sets the CSRF cookie
    response = client.post("/oidc/logout/", {"next": "/home/"})
    assert response.status_code == 200
    assert b"still signed in to your Google account" in response.content
    assert b'href="/home/"' in response.content
    assert client.get("/home/").content == b"home anonymous"
    assert not [c for c in fake_op.mock.calls if "revoke" in c.request.url]


def test_forced_post_is_not_sent_to_a_get_only_endpoint(settings: Any) -> None:
    config, document, _, _ = VENDOR_GOLDEN["cognito"]
    request = bound("cognito", settings, {**config, "LOGOUT_METHOD": "POST"},
                    document).end_session_request(CONTEXT)
    assert request is not None
    assert request.method == "GET"


def test_auth0_revocation_sends_client_id_in_the_form(settings: Any) -> None:
    provider = bound("auth0", settings, {"ISSUER": "https://tenant.us.auth0.com/",
                                         "CLIENT_SECRET": CLIENT_SECRET}, {})
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, "https://tenant.us.auth0.com/oauth/revoke", status=200)
        provider.revoke("https://tenant.us.auth0.com/oauth/revoke", token="rt",
                        token_type_hint="refresh_token")
        (call,) = mock.calls
    assert parse_qs(str(call.request.body))["client_id"] == ["cid"]
    assert call.request.headers["Authorization"].startswith("Basic ")


@pytest.mark.parametrize(("name", "key"), [("google", "end_session_endpoint"),
                                           ("entra", "revocation_endpoint")])
def test_endpoints_override_what_a_vendor_does_not_have(settings: Any, name: str,
                                                        key: str) -> None:
    url = "https://idp.example.test/override"
    provider = bound(name, settings, {"ISSUER": "https://idp.example.test",
                                      "ENDPOINTS": {key: url}}, {key: url})
    found = (provider.end_session_endpoint if key == "end_session_endpoint"
             else provider.revocation_endpoint)
    assert found == url
