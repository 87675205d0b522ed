"""End to end (issue 13): each vendor profile against the certified provider (oidc-provider)
speaking that vendor's dialect (:mod:`tests.dialect_proxy`): its issuer path, endpoint paths and
parameter names, no end-session or no revocation endpoint where the vendor has none.

Each test signs in with a browser, signs out (POST /oidc/logout/), and asserts from the
proxy's record what reached the provider — the end-session request's URL, method and exact
parameters, the revocation requests and their ``token_type_hint`` — and that the user is
signed out here and, where the vendor has an end-session endpoint, at the provider too.
The expected behaviour is the profiles' spec (``docs`` support matrix, issue 13).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest

from .conftest import require_node
from .dialect_proxy import DialectProxy
from .dialects import ENTRA_TENANT, ISSUER_HOST, KEYCLOAK_REALM, OTHER_HOST
from .op_server import LOGOUT_COMPLETE, Page
from .profile_round_trip import (
    END_SESSION,
    REVOCATION,
    provider_asks_for_credentials,
    returned_state,
    revocation_hints,
    sign_in,
    signed_out_here,
    the_end_session_request,
)

pytestmark = [pytest.mark.op, pytest.mark.django_db]

HOME = "http://testserver/"

#: A value the test fills in from the session or the return: the ID token, the logout state.
ID_TOKEN, STATE = object(), object()


@pytest.fixture
def dialect() -> Iterator[Callable[[str], DialectProxy]]:
    """Start oidc-provider behind a vendor's dialect (stopped after the test)."""
    started: list[DialectProxy] = []

    def start(name: str) -> DialectProxy:
        require_node()
        proxy = DialectProxy(name).start()
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


@dataclass(frozen=True)
class Case:
    """One profile's expected round trip."""

    provider: str
    dialect: str
    #: Host and path the end-session request must reach.
    end_session: tuple[str, str]
    #: Its exact parameters (``ID_TOKEN`` / ``STATE``: the session's ID token, the state sent
    #: back to the site).
    params: dict[str, Any]
    #: ``token_type_hint`` of the revocation requests, in order, and where they go.
    revoked: list[str]
    revocation: tuple[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: The session holds a refresh token (so "not revoked" means something).
    refresh_token: bool = False

    def __str__(self) -> str:
        return self.dialect


KC = f"{KEYCLOAK_REALM}/protocol/openid-connect"
ENTRA = f"{ENTRA_TENANT}/oauth2/v2.0"
RP_INITIATED = {"id_token_hint": ID_TOKEN, "post_logout_redirect_uri": LOGOUT_COMPLETE,
                "client_id": "rp-basic", "state": STATE}
WITHOUT_CLIENT_ID = {k: v for k, v in RP_INITIATED.items() if k != "client_id"}

CASES = [
    Case("generic", "generic", (ISSUER_HOST, "/session/end"), RP_INITIATED, ["access_token"],
         (ISSUER_HOST, REVOCATION)),
    # Keycloak: revocation off by default (its logout ends the session and its tokens).
    Case("keycloak", "keycloak", (ISSUER_HOST, f"{KC}/logout"), RP_INITIATED, [],
         refresh_token=True),
    # Entra ID: no id_token_hint, no client_id; no login_hint claim here, so no logout_hint.
    # No revocation endpoint: nothing revoked.
    Case("entra", "entra", (ISSUER_HOST, f"{ENTRA}/logout"),
         {"post_logout_redirect_uri": LOGOUT_COMPLETE, "state": STATE}, []),
    # Auth0 and Cognito take only refresh tokens at their revoke endpoints: the access token
    # is not sent there.
    Case("auth0", "auth0", (ISSUER_HOST, "/oidc/logout"), RP_INITIATED,
         ["refresh_token"], (ISSUER_HOST, "/oauth/revoke"),
         extra={"REQUEST_REFRESH_TOKEN": True, "AUTH_PARAMS": {"prompt": "consent"}},
         refresh_token=True),
    # Auth0 without end_session_endpoint nor revocation_endpoint in discovery: the legacy
    # /v2/logout (returnTo, client_id, no state; federated from LOGOUT_PARAMS) and
    # /oauth/revoke.
    Case("auth0", "auth0-legacy", (ISSUER_HOST, "/v2/logout"),
         {"returnTo": LOGOUT_COMPLETE, "client_id": "rp-basic", "federated": ""},
         ["refresh_token"], (ISSUER_HOST, "/oauth/revoke"),
         extra={"REQUEST_REFRESH_TOKEN": True, "AUTH_PARAMS": {"prompt": "consent"},
                "LOGOUT_PARAMS": {"federated": ""}},
         refresh_token=True),
    Case("okta", "okta", (ISSUER_HOST, "/oauth2/default/v1/logout"), WITHOUT_CLIENT_ID,
         ["access_token"], (ISSUER_HOST, "/oauth2/default/v1/revoke")),
    # Cognito: logout and revocation on the hosted-UI domain (neither in discovery);
    # client_id + logout_uri, no state.
    Case("cognito", "cognito", (OTHER_HOST, "/logout"),
         {"client_id": "rp-basic", "logout_uri": LOGOUT_COMPLETE},
         ["refresh_token"], (OTHER_HOST, "/oauth2/revoke"), refresh_token=True),
    Case("zitadel", "zitadel", (ISSUER_HOST, "/oidc/v1/end_session"), RP_INITIATED,
         ["access_token"], (ISSUER_HOST, "/oauth/v2/revoke")),
    Case("authentik", "authentik", (ISSUER_HOST, "/application/o/demo/end-session/"),
         WITHOUT_CLIENT_ID, ["access_token"], (ISSUER_HOST, "/application/o/revoke/")),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_sign_in_and_out(case: Case, dialect: Callable[[str], DialectProxy],
                         settings: Any) -> None:
    proxy = dialect(case.dialect)
    user = sign_in(proxy, settings, case.provider, **case.extra)
    assert bool(user.tokens.get("refresh_token")) is case.refresh_token

    page = user.browser.csrf_post("/oidc/logout/")

    # What reached the provider: one end-session request, a browser GET, at the vendor's URL,
    # with exactly the vendor's parameters.
    hit = the_end_session_request(proxy)
    assert (hit.host, hit.path, hit.method) == (*case.end_session, "GET")
    assert hit.form == {}
    state = returned_state(user.browser)
    expected = {key: user.id_token if value is ID_TOKEN else value
                for key, value in case.params.items() if value is not STATE}
    sent = hit.params
    assert {k: v for k, v in sent.items() if k != "state"} == expected
    if STATE in case.params.values():
        assert sent["state"]
        assert state == [sent["state"]]  # the provider sent it back
    else:
        assert "state" not in sent
        assert state == []  # the return lands on POST_LOGOUT_REDIRECT_URL
    # oidc-provider honoured the return URL: the request was complete in its terms.
    assert [h.status for h in proxy.recorded() if h.path == "/session/end/confirm"] == [303]

    # Revocation: refresh token first, at the vendor's URL; none where the vendor has none
    # or the profile does not revoke by default.
    assert revocation_hints(proxy) == case.revoked
    if case.revoked:
        assert case.revocation is not None
        assert {(h.host, h.path) for h in proxy.forwarded_to(REVOCATION)} == {case.revocation}

    # Signed out here, landing on POST_LOGOUT_REDIRECT_URL ("/"), and at the provider.
    assert (page.url, page.text) == (HOME, "home anonymous")
    signed_out_here(user.browser)
    assert provider_asks_for_credentials(user.browser)


def test_keycloak_revokes_when_the_site_says_so(dialect: Callable[[str], DialectProxy],
                                                settings: Any) -> None:
    proxy = dialect("keycloak")
    user = sign_in(proxy, settings, "keycloak", REVOKE_TOKENS_ON_LOGOUT=True)
    assert user.tokens["refresh_token"]
    user.browser.csrf_post("/oidc/logout/")
    assert revocation_hints(proxy) == ["refresh_token", "access_token"]
    assert {(h.host, h.path) for h in proxy.forwarded_to(REVOCATION)} == {
        (ISSUER_HOST, f"{KC}/revoke")}
    assert the_end_session_request(proxy).path == f"{KC}/logout"
    signed_out_here(user.browser)


def assert_google_page(page: Page) -> None:
    assert page.url == "http://testserver/oidc/logout/"
    assert page.status == 200
    assert "You are still signed in to your Google account" in page.text
    assert 'href="/"' in page.text  # continue to POST_LOGOUT_REDIRECT_URL


def test_google_signs_out_locally_only(dialect: Callable[[str], DialectProxy],
                                       settings: Any) -> None:
    proxy = dialect("google")
    # Nothing the site could guess: no end-session endpoint in discovery.
    assert "end_session_endpoint" not in proxy.discovery()
    user = sign_in(proxy, settings, "google")

    page = user.browser.csrf_post("/oidc/logout/")
    assert_google_page(page)
    # Nothing reached the provider: no end-session request, no revocation (off by default).
    assert proxy.recorded() == []
    signed_out_here(user.browser)
    # The Google session stays: the next sign-in does not ask for credentials.
    assert not provider_asks_for_credentials(user.browser)

    # With REVOKE_TOKENS_ON_LOGOUT = True the access token is revoked at Google's endpoint
    # (another host than the issuer's), still without any end-session request.
    settings.IDP_LOGOUT = proxy.settings("google", REVOKE_TOKENS_ON_LOGOUT=True)
    proxy.clear()
    page = user.browser.csrf_post("/oidc/logout/")
    assert_google_page(page)
    assert revocation_hints(proxy) == ["access_token"]
    assert {(h.host, h.path) for h in proxy.forwarded_to(REVOCATION)} == {(OTHER_HOST, "/revoke")}
    assert proxy.forwarded_to(END_SESSION) == []
    assert [h for h in proxy.recorded() if h.upstream != REVOCATION] == []
    signed_out_here(user.browser)


def test_the_proxy_refuses_paths_the_vendor_does_not_have(
        dialect: Callable[[str], DialectProxy]) -> None:
    """The dialect is strict: oidc-provider's own endpoint paths are not reachable."""
    import requests

    proxy = dialect("cognito")
    doc = proxy.discovery()
    assert doc["issuer"] == proxy.issuer
    assert urlsplit(doc["authorization_endpoint"]).netloc == f"{OTHER_HOST}:{proxy.port}"
    assert "end_session_endpoint" not in doc
    assert "revocation_endpoint" not in doc
    for path in ("/session/end", "/token/revocation", "/auth", "/token", "/jwks"):
        assert requests.get(proxy.origin() + path, timeout=5).status_code == 404
    assert requests.get(proxy.origin(OTHER_HOST) + "/session/end", timeout=5).status_code == 404
    assert [h.upstream for h in proxy.recorded()] == [None] * 6
