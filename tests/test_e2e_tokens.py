"""End to end (issue 12): access-token renewal and the session check against the real
provider (oidc-provider) issuing refresh tokens, rotating them on every use, with access
tokens that live 2 seconds."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from django_idp_logout.models import OIDCSession
from django_idp_logout.session import SESSION_KEY

from .conftest import require_node
from .op_server import Browser, OpenIDProvider

pytestmark = [pytest.mark.op, pytest.mark.django_db]

ACCESS_TOKEN_TTL = 2


@pytest.fixture(scope="module")
def rotating_op() -> Iterator[OpenIDProvider]:
    require_node()
    with OpenIDProvider(env={"OP_REFRESH": "1", "OP_ROTATE": "1",
                             "OP_ACCESS_TOKEN_TTL": str(ACCESS_TOKEN_TTL)}) as provider:
        yield provider


@pytest.fixture
def site(rotating_op: OpenIDProvider, settings: Any) -> OpenIDProvider:
    settings.IDP_LOGOUT = rotating_op.settings_for("rp-basic", TOKEN_RENEW_MARGIN=0)
    return rotating_op


def stored_tokens() -> dict[str, Any]:
    return dict(json.loads(OIDCSession.objects.get().tokens))


def token_of(browser: Browser) -> str:
    page = browser.go("/token/")
    assert page.text.startswith("token "), page.text
    return page.text.removeprefix("token ")


def userinfo_status(op: OpenIDProvider, token: str) -> int:
    return requests.get(f"{op.issuer}/me", headers={"Authorization": f"Bearer {token}"},
                        timeout=5).status_code


def let_the_access_token_expire() -> None:
    time.sleep(ACCESS_TOKEN_TTL + 0.2)


def test_expired_token_is_renewed_with_one_refresh_and_works(site: OpenIDProvider) -> None:
    browser = Browser()
    browser.go("/oidc/login/", login="alice")
    first = token_of(browser)
    assert userinfo_status(site, first) == 200
    first_refresh = stored_tokens()["refresh_token"]
    let_the_access_token_expire()
    before = site.refresh_requests()
    renewed = token_of(browser)
    assert site.refresh_requests() == before + 1
    assert renewed != first
    assert token_of(browser) == renewed  # no second refresh while it is valid
    assert site.refresh_requests() == before + 1
    assert userinfo_status(site, renewed) == 200
    # The provider rotated the refresh token; the new one is stored, the old one is spent.
    assert stored_tokens()["refresh_token"] != first_refresh
    page = browser.go(f"/call-api/?url={site.issuer}/me")
    assert page.text.startswith("api 200"), page.text
    assert '"sub":"alice"' in page.text


def test_renewed_id_token_is_validated_and_kept(site: OpenIDProvider) -> None:
    browser = Browser()
    browser.go("/oidc/login/", login="alice")
    first_id_token = browser.django.session[SESSION_KEY]["id_token"]
    let_the_access_token_expire()
    token_of(browser)
    data = browser.django.session[SESSION_KEY]
    # oidc-provider sends a new ID token with every refresh (Core 12.2).
    assert data["id_token"] != first_id_token
    assert data["sub"] == "alice"
    assert stored_tokens()["id_token"] == data["id_token"]
    # The logout sends the newest one as id_token_hint.
    page = browser.csrf_post("/oidc/logout/", follow_forms=False)
    end_session = next(p for p in browser.history if urlsplit(p.url).path == "/session/end")
    assert data["id_token"] in end_session.url
    assert page.status == 200


def test_refused_refresh_signs_out_cleanly(site: OpenIDProvider) -> None:
    browser = Browser()
    browser.go("/oidc/login/", login="alice")
    client = site.client("rp-basic")
    revoked = requests.post(f"{site.issuer}/token/revocation", timeout=5, data={
        "token": stored_tokens()["refresh_token"], "token_type_hint": "refresh_token"},
        auth=(client["client_id"], client["client_secret"]))
    assert revoked.status_code == 200
    let_the_access_token_expire()
    page = browser.go("/token/?from=e2e")
    assert urlsplit(page.url).path == "/oidc/session-ended/"
    assert "has ended" in page.text
    assert browser.go("/home/").text == "home anonymous"
    assert not OIDCSession.objects.exists()


def test_xhr_after_refusal_gets_401_json(site: OpenIDProvider) -> None:
    browser = Browser()
    browser.go("/oidc/login/", login="alice")
    client = site.client("rp-basic")
    requests.post(f"{site.issuer}/token/revocation", timeout=5, data={
        "token": stored_tokens()["refresh_token"]},
        auth=(client["client_id"], client["client_secret"]))
    let_the_access_token_expire()
    response = browser.django.get("/token/", HTTP_ACCEPT="application/json")
    assert response.status_code == 401
    assert response.json()["reason"] == "refresh_refused"


def test_session_check_with_a_refresh_token(site: OpenIDProvider, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "SESSION_CHECK_INTERVAL": 60}
    browser = Browser()
    browser.go("/oidc/login/", login="alice")
    before = site.refresh_requests()
    assert browser.go("/home/").text.startswith("home ")
    assert site.refresh_requests() == before  # not due yet
    let_the_access_token_expire()  # an expired access token makes the check due
    assert browser.go("/home/").text.startswith("home oidc-")
    assert site.refresh_requests() == before + 1


def test_session_check_without_refresh_token_uses_prompt_none(op: OpenIDProvider,
                                                              settings: Any) -> None:
    """The suite's default provider issues no refresh token (no offline_access)."""
    settings.IDP_LOGOUT = op.settings_for("rp-basic", SESSION_CHECK_INTERVAL=1)
    browser = Browser()
    browser.go("/oidc/login/", login="alice")
    assert not stored_tokens()["refresh_token"]
    time.sleep(1.1)
    page = browser.go("/home/?x=1")
    assert page.url == "http://testserver/home/?x=1"
    assert page.text.startswith("home oidc-")
    auth = [p for p in browser.history if urlsplit(p.url).path == "/auth"]
    assert "prompt=none" in auth[-1].url
    # The provider's session ends (its cookies are gone): the next check signs out here.
    browser.op.cookies.clear()
    time.sleep(1.1)
    page = browser.go("/home/?x=2")
    assert urlsplit(page.url).path == "/oidc/session-ended/"
    assert "has ended" in page.text
    assert browser.go("/home/").text == "home anonymous"


def test_request_refresh_token_with_offline_access(op: OpenIDProvider, settings: Any) -> None:
    """oidc-provider issues a refresh token for offline_access, which it keeps only with
    prompt=consent (Core 11): REQUEST_REFRESH_TOKEN adds the scope."""
    settings.IDP_LOGOUT = op.settings_for("rp-basic", REQUEST_REFRESH_TOKEN=True,
                                          AUTH_PARAMS={"prompt": "consent"})
    browser = Browser()
    browser.go("/oidc/login/", login="carol")
    auth = next(p for p in browser.history if urlsplit(p.url).path == "/auth")
    assert "offline_access" in auth.url
    assert stored_tokens()["refresh_token"]
