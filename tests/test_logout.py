"""Logout: every branch of the view, hostile input on the return, and every provider profile.

Golden end-session URLs come from the vendor documents in ``shared/provider-docs`` and are
compared with ``urlsplit`` + ``parse_qs``, never by substring.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from django.contrib.auth import SESSION_KEY
from django.test import Client

from django_idp_logout.conf import get_config
from django_idp_logout.discovery import ProviderMetadata
from django_idp_logout.providers import (
    REGISTRY,
    BoundProvider,
    LogoutContext,
    Provider,
    get_provider,
)
from django_idp_logout.session import SESSION_KEY as IDP_SESSION_KEY

from .conftest import ISSUER, FakeProvider, start_login

pytestmark = pytest.mark.django_db


def sign_in(client: Client, fake_op: FakeProvider, **token_extra: Any) -> None:
    params = start_login(client)
    id_token = fake_op.sign(fake_op.claims(params["nonce"]))
    fake_op.token_response({"id_token": id_token, "access_token": "at-secret",
                            "refresh_token": "rt-secret", "token_type": "Bearer",
                            **token_extra})
    response = client.get("/oidc/callback/", {"code": "c", "state": params["state"]})
    assert response.status_code == 302


@pytest.fixture
def csrf_client() -> Client:
    return Client(enforce_csrf_checks=True)


def post_logout(client: Client, data: dict[str, str] | None = None) -> Any:
    client.get("/oidc/logout/")  # the confirmation page sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    return client.post("/oidc/logout/", {"csrfmiddlewaretoken": token, **(data or {})})


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_get_shows_confirmation_and_changes_nothing(csrf_client: Client,
                                                    fake_op: FakeProvider) -> None:
    sign_in(csrf_client, fake_op)
    response = csrf_client.get("/oidc/logout/", {"next": "/after/"})
    assert response.status_code == 200
    assert b'<form method="post"' in response.content
    assert b'value="/after/"' in response.content
    assert SESSION_KEY in csrf_client.session


def test_post_without_csrf_is_refused(csrf_client: Client, fake_op: FakeProvider) -> None:
    sign_in(csrf_client, fake_op)
    assert csrf_client.post("/oidc/logout/").status_code == 403
    assert SESSION_KEY in csrf_client.session


def test_logout_redirects_to_end_session(csrf_client: Client, fake_op: FakeProvider) -> None:
    sign_in(csrf_client, fake_op)
    old_key = csrf_client.session.session_key
    id_token = csrf_client.session[IDP_SESSION_KEY]["id_token"]
    response = post_logout(csrf_client, {"next": "/after/"})
    assert response.status_code == 302
    parts = urlsplit(response["Location"])
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{ISSUER}/logout"
    q = query(response["Location"])
    assert q["id_token_hint"] == [id_token]
    assert q["client_id"] == ["test-client"]
    assert q["post_logout_redirect_uri"] == ["http://testserver/oidc/logout/complete/"]
    assert len(q["state"][0]) >= 43
    assert "at-secret" not in response["Location"]
    assert "rt-secret" not in response["Location"]
    assert response["Clear-Site-Data"] == '"cache", "storage"'
    # The session and its server-side record are gone.
    from django.contrib.sessions.models import Session

    assert not Session.objects.filter(session_key=old_key).exists()
    assert SESSION_KEY not in csrf_client.session
    # Back from the provider: to the page chosen at logout time, once.
    back = csrf_client.get("/oidc/logout/complete/", {"state": q["state"][0]})
    assert back["Location"] == "/after/"
    again = csrf_client.get("/oidc/logout/complete/", {"state": q["state"][0]})
    assert again["Location"] == "/"


def test_logout_state_survives_across_browsers_but_only_once(csrf_client: Client,
                                                             fake_op: FakeProvider) -> None:
    """The state lives server-side: Clear-Site-Data or a lost cookie cannot defeat it."""
    sign_in(csrf_client, fake_op)
    state = query(post_logout(csrf_client, {"next": "/x/"})["Location"])["state"][0]
    assert Client().get("/oidc/logout/complete/", {"state": state})["Location"] == "/x/"
    assert Client().get("/oidc/logout/complete/", {"state": state})["Location"] == "/"


@pytest.mark.parametrize("params", [
    {}, {"state": ""}, {"state": "forged"}, {"state": "x" * 10_000},
    {"state": "a", "next": "https://evil.example/"},
    {"state": "\x00\r\n"}, {"state": "ü" * 100}, {"logout": "true"},
])
def test_hostile_logout_returns_land_on_public_page(client: Client, fake_op: FakeProvider,
                                                    params: dict[str, str],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="django_idp_logout"):
        response = client.get("/oidc/logout/complete/", params)
    assert response.status_code == 302
    assert response["Location"] == "/"
    # WARNING for a state that does not check out; INFO for none at all (what providers that
    # return no state do: Cognito, Auth0's legacy logout).
    level = logging.WARNING if params.get("state") else logging.INFO
    assert any("logout return" in r.getMessage() and r.levelno == level
               for r in caplog.records)
    assert SESSION_KEY not in client.session


def test_expired_logout_state(csrf_client: Client, fake_op: FakeProvider, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "LOGOUT_STATE_TTL": 1}
    sign_in(csrf_client, fake_op)
    state = query(post_logout(csrf_client, {"next": "/x/"})["Location"])["state"][0]
    time.sleep(1.1)
    assert csrf_client.get("/oidc/logout/complete/", {"state": state})["Location"] == "/"


def test_logout_complete_post_is_refused(client: Client) -> None:
    assert client.post("/oidc/logout/complete/").status_code == 405


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example", "javascript:x"])
def test_open_redirect_at_logout_is_replaced(csrf_client: Client, fake_op: FakeProvider,
                                             next_url: str) -> None:
    sign_in(csrf_client, fake_op)
    state = query(post_logout(csrf_client, {"next": next_url})["Location"])["state"][0]
    assert csrf_client.get("/oidc/logout/complete/", {"state": state})["Location"] == "/"


def test_anonymous_user_goes_straight_to_public_page(client: Client, fake_op: FakeProvider,
                                                     settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "POST_LOGOUT_REDIRECT_URL": "/bye/"}
    assert client.get("/oidc/logout/")["Location"] == "/bye/"
    assert client.post("/oidc/logout/")["Location"] == "/bye/"
    assert fake_op.outbound_calls() == 0


def test_django_logout_redirect_url_is_the_default(client: Client, fake_op: FakeProvider,
                                                   settings: Any) -> None:
    settings.LOGOUT_REDIRECT_URL = "/signed-out/"
    assert client.post("/oidc/logout/")["Location"] == "/signed-out/"


def test_user_signed_in_without_the_provider_is_logged_out_locally(
    csrf_client: Client, fake_op: FakeProvider, django_user_model: Any
) -> None:
    user = django_user_model.objects.create_user("local", password="pw-local-123")
    csrf_client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    response = post_logout(csrf_client)
    assert response["Location"] == "/"
    assert SESSION_KEY not in csrf_client.session


def test_get_logout_when_allowed(client: Client, fake_op: FakeProvider, settings: Any) -> None:
    sign_in(client, fake_op)
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "ALLOW_GET_LOGOUT": True}
    response = client.get("/oidc/logout/")
    assert response["Location"].startswith(f"{ISSUER}/logout?")
    assert SESSION_KEY not in client.session


def test_mozilla_allow_logout_get_method_is_honoured(client: Client, fake_op: FakeProvider,
                                                     settings: Any) -> None:
    sign_in(client, fake_op)
    settings.ALLOW_LOGOUT_GET_METHOD = True
    assert client.get("/oidc/logout/")["Location"].startswith(f"{ISSUER}/logout?")


def test_no_end_session_endpoint_logs_out_locally(csrf_client: Client, fake_op: FakeProvider,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    del fake_op.discovery["end_session_endpoint"]
    sign_in(csrf_client, fake_op)
    with caplog.at_level(logging.WARNING, logger="django_idp_logout"):
        response = post_logout(csrf_client, {"next": "/x/"})
    assert response["Location"] == "/x/"
    assert SESSION_KEY not in csrf_client.session
    assert any("no end-session endpoint" in r.getMessage() for r in caplog.records)


def test_provider_down_at_logout(csrf_client: Client, fake_op: FakeProvider,
                                 settings: Any) -> None:
    sign_in(csrf_client, fake_op)
    from django.core.cache import cache

    cache.clear()
    fake_op.mock.replace("GET", f"{ISSUER}/.well-known/openid-configuration",
                         body=requests.ConnectionError("down"))
    response = post_logout(csrf_client, {"next": "/x/"})
    assert response["Location"] == "/x/"
    assert SESSION_KEY not in csrf_client.session


def test_unexpected_error_still_logs_out(csrf_client: Client, fake_op: FakeProvider,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    sign_in(csrf_client, fake_op)

    def broken() -> None:
        raise RuntimeError("cache exploded")

    monkeypatch.setattr("django_idp_logout.flow.signout.get_metadata", broken)
    response = post_logout(csrf_client)
    assert response.status_code == 302
    assert SESSION_KEY not in csrf_client.session


def test_revocation_when_configured(csrf_client: Client, fake_op: FakeProvider,
                                    settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "REVOKE_TOKENS_ON_LOGOUT": True}
    fake_op.discovery["revocation_endpoint"] = f"{ISSUER}/revoke"
    fake_op.mock.add("POST", f"{ISSUER}/revoke", body="")
    fake_op.mock.add("POST", f"{ISSUER}/revoke", body="")
    sign_in(csrf_client, fake_op)
    post_logout(csrf_client)
    calls = [c for c in fake_op.mock.calls if c.request.url == f"{ISSUER}/revoke"]
    bodies = [parse_qs(c.request.body) for c in calls]
    assert [b["token_type_hint"] for b in bodies] == [["refresh_token"], ["access_token"]]
    assert [b["token"] for b in bodies] == [["rt-secret"], ["at-secret"]]
    assert all(c.request.headers["Authorization"].startswith("Basic ") for c in calls)


@pytest.mark.parametrize("failure", [
    {"status": 503, "body": "down"},
    {"status": 400, "json": {"error": "invalid_client"}},
    {"body": requests.Timeout("slow")},
])
def test_revocation_failure_still_logs_out(csrf_client: Client, fake_op: FakeProvider,
                                           settings: Any, failure: dict[str, Any],
                                           caplog: pytest.LogCaptureFixture) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "REVOKE_TOKENS_ON_LOGOUT": True}
    fake_op.discovery["revocation_endpoint"] = f"{ISSUER}/revoke"
    fake_op.mock.add("POST", f"{ISSUER}/revoke", **failure)
    sign_in(csrf_client, fake_op)
    with caplog.at_level(logging.WARNING, logger="django_idp_logout"):
        response = post_logout(csrf_client)
    assert response["Location"].startswith(f"{ISSUER}/logout?")
    assert SESSION_KEY not in csrf_client.session
    assert any("stage=revocation" in r.getMessage() for r in caplog.records)
    assert not any("secret" in r.getMessage() for r in caplog.records)


def test_clear_site_data_can_be_turned_off(csrf_client: Client, fake_op: FakeProvider,
                                           settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "CLEAR_SITE_DATA": ()}
    sign_in(csrf_client, fake_op)
    assert "Clear-Site-Data" not in post_logout(csrf_client)


# --- provider profiles ----------------------------------------------------------------------

METADATA = ProviderMetadata({"issuer": "https://idp.example.test",
                             "authorization_endpoint": "https://idp.example.test/authorize",
                             "end_session_endpoint": "https://idp.example.test/end",
                             "revocation_endpoint": "https://idp.example.test/revoke"})
CONTEXT = LogoutContext(post_logout_redirect_uri="https://rp.example/oidc/logout/complete/",
                        state="st-1", id_token="the.id.token", access_token="the-access-token")


def profile(name: str, settings: Any, **extra: Any) -> Provider:
    settings.IDP_LOGOUT = {"PROVIDER": name, "CLIENT_ID": "cid", **extra}
    return get_provider(get_config())


def end_session_url(provider: Provider, metadata: ProviderMetadata = METADATA,
                    context: LogoutContext = CONTEXT) -> tuple[str, dict[str, list[str]]]:
    request = BoundProvider(provider, metadata).end_session_request(context)
    assert request is not None
    assert request.method == "GET"
    parts = urlsplit(request.url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}", parse_qs(parts.query)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_profile_contract(name: str, settings: Any) -> None:
    """What every profile must do, whatever its vendor."""
    provider = profile(name, settings, ISSUER="https://idp.example.test")
    assert provider.authorization_params(
        metadata=METADATA, redirect_uri="r", state="s", nonce="n", code_challenge="c",
    )["code_challenge_method"] == "S256"
    if provider.keeps_provider_session:  # no end-session endpoint (Google): local logout
        assert BoundProvider(provider, METADATA).end_session_request(CONTEXT) is None
        return
    base, params = end_session_url(provider)
    assert base.startswith("https://idp.example.test/")
    assert params.get("state") == (["st-1"] if provider.sends_state else None)
    assert [v for k, v in params.items()
            if v == ["https://rp.example/oidc/logout/complete/"]], "no return URL parameter"
    assert all(v != ["the-access-token"] for v in params.values()), "token in URL"
    assert all(len(v) == 1 for v in params.values())


GOLDEN = {
    # intastellar-logout-and-errors.txt: id_token_hint, post_logout_redirect_uri, client_id.
    "intastellar": (
        {"ISSUER": "https://auth.intastellar.example"},
        {"end_session_endpoint": "https://auth.intastellar.example/logout"},
        "https://auth.intastellar.example/logout",
        {"id_token_hint": ["the.id.token"], "client_id": ["cid"], "state": ["st-1"],
         "post_logout_redirect_uri": ["https://rp.example/oidc/logout/complete/"]},
    ),
    # akamai-hosted-login-logout.txt: the documented example URL, plus state.
    "akamai": (
        {"ISSUER": "https://v1.api.us.janrain.com/e0a70b4f-1eef-4856-bcdb-f050fee66aae/login",
         "CLIENT_ID": "a123ef65-83dc-4094-a09a-76e1bec424e7"},
        {},
        "https://v1.api.us.janrain.com/e0a70b4f-1eef-4856-bcdb-f050fee66aae/auth-ui/logout",
        {"client_id": ["a123ef65-83dc-4094-a09a-76e1bec424e7"], "state": ["st-1"],
         "redirect_uri": ["https://rp.example/oidc/logout/complete/"]},
    ),
    # next-identity-endsession.txt: <base>/endsession?post_logout_redirect_uri&client_id (+state)
    "next_identity": (
        {"ISSUER": "https://id.eu.nextreason.com"},
        {},
        "https://id.eu.nextreason.com/endsession",
        {"client_id": ["cid"], "state": ["st-1"],
         "post_logout_redirect_uri": ["https://rp.example/oidc/logout/complete/"]},
    ),
    # cidaas-end-session.txt: /session/end_session with id_token_hint, redirect, state.
    "cidaas": (
        {"ISSUER": "https://tenant.cidaas.example"},
        {},
        "https://tenant.cidaas.example/session/end_session",
        {"id_token_hint": ["the.id.token"], "state": ["st-1"],
         "post_logout_redirect_uri": ["https://rp.example/oidc/logout/complete/"]},
    ),
    # OpenID Connect RP-Initiated Logout 1.0 §2.
    "generic": (
        {"ISSUER": "https://idp.example.test", "LOGOUT_PARAMS": {"ui_locales": "de"}},
        {"end_session_endpoint": "https://idp.example.test/end?tenant=1"},
        "https://idp.example.test/end",
        {"id_token_hint": ["the.id.token"], "client_id": ["cid"], "state": ["st-1"],
         "tenant": ["1"], "ui_locales": ["de"],
         "post_logout_redirect_uri": ["https://rp.example/oidc/logout/complete/"]},
    ),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_end_session_urls(name: str, settings: Any) -> None:
    config, endpoints, expected_base, expected_params = GOLDEN[name]
    provider = profile(name, settings, **config)
    metadata = ProviderMetadata({"issuer": config["ISSUER"], **endpoints})
    base, params = end_session_url(provider, metadata)
    assert base == expected_base
    assert params == expected_params


def test_every_profile_has_a_golden_url() -> None:
    from .test_vendor_profiles import VENDOR_GOLDEN

    assert set(GOLDEN) | set(VENDOR_GOLDEN) == set(REGISTRY)
    assert not set(GOLDEN) & set(VENDOR_GOLDEN)


def test_akamai_revokes_at_documented_endpoint(settings: Any) -> None:
    provider = profile("akamai", settings,
                       ISSUER="https://v1.api.us.janrain.com/e0a70b4f/login")
    assert provider.should_revoke()
    empty = ProviderMetadata({"issuer": "x"})
    assert provider.revocation_endpoint(empty) == (
        "https://v1.api.us.janrain.com/e0a70b4f/token/revoke")
    assert provider.revocation_endpoint(METADATA) == "https://idp.example.test/revoke"


def test_cidaas_access_token_hint_only_when_enabled(settings: Any) -> None:
    _, params = end_session_url(profile("cidaas", settings, ISSUER="https://c.example"))
    assert "access_token_hint" not in params
    _, params = end_session_url(profile("cidaas", settings, ISSUER="https://c.example",
                                        SEND_ACCESS_TOKEN_HINT=True))
    assert params["access_token_hint"] == ["the-access-token"]


def test_cidaas_without_id_token_warns(settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    provider = profile("cidaas", settings, ISSUER="https://c.example")
    context = LogoutContext(post_logout_redirect_uri="https://rp/", state="s")
    with caplog.at_level(logging.WARNING, logger="django_idp_logout"):
        provider.logout_params(context)
    assert any("stay on its page" in r.getMessage() for r in caplog.records)


def test_next_identity_prefers_discovered_endpoint(settings: Any) -> None:
    provider = profile("next_identity", settings, ISSUER="https://id.example")
    assert provider.end_session_endpoint(
        ProviderMetadata({"end_session_endpoint": "https://id.example/custom/endsession"})
    ) == "https://id.example/custom/endsession"


def test_akamai_full_logout_revokes_then_redirects(csrf_client: Client, settings: Any) -> None:
    """The akamai profile through the real view: revoke first, then the documented URL."""
    issuer = "https://login.example.test/cust-1/login"
    settings.IDP_LOGOUT = {"PROVIDER": "akamai", "ISSUER": issuer, "CLIENT_ID": "cid",
                           "CLIENT_SECRET": "s" * 40}
    fake = None
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        from . import conftest

        fake = conftest.FakeProvider(mock)
        fake.discovery.update({"issuer": issuer,
                               "authorization_endpoint": f"{issuer}/authorize",
                               "token_endpoint": f"{issuer}/token",
                               "jwks_uri": f"{issuer}/jwks"})
        mock.add("GET", f"{issuer}/.well-known/openid-configuration", json=fake.discovery)
        mock.add("GET", f"{issuer}/jwks", json={"keys": [fake.keys[0].public_jwk()]})
        mock.add("POST", "https://login.example.test/cust-1/token/revoke", body="")
        mock.add("POST", "https://login.example.test/cust-1/token/revoke", body="")
        params = start_login(csrf_client)
        mock.add("POST", f"{issuer}/token", json={
            "id_token": fake.sign(fake.claims(params["nonce"], iss=issuer, aud="cid")),
            "access_token": "at", "refresh_token": "rt", "token_type": "Bearer"})
        assert csrf_client.get("/oidc/callback/", {"code": "c", "state": params["state"]}
                               ).status_code == 302
        response = post_logout(csrf_client)
        revokes = [c for c in mock.calls if c.request.url.endswith("/token/revoke")]
    assert len(revokes) == 2
    assert response["Location"].startswith("https://login.example.test/cust-1/auth-ui/logout?")
    assert "id_token_hint" not in query(response["Location"])


def test_hanging_revocation_waits_one_timeout_only(csrf_client: Client, fake_op: FakeProvider,
                                                  settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "REVOKE_TOKENS_ON_LOGOUT": True}
    fake_op.discovery["revocation_endpoint"] = f"{ISSUER}/revoke"
    fake_op.mock.add("POST", f"{ISSUER}/revoke", body=requests.Timeout("hangs"))
    sign_in(csrf_client, fake_op)
    post_logout(csrf_client)
    revokes = [c for c in fake_op.mock.calls if c.request.url == f"{ISSUER}/revoke"]
    assert len(revokes) == 1  # the access token is not tried after the refresh token timed out
    assert SESSION_KEY not in csrf_client.session
