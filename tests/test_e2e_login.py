"""End to end: the whole sign-in against a real OpenID Provider (oidc-provider) on 127.0.0.1."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from django_idp_logout import http
from django_idp_logout.models import OIDCIdentity
from django_idp_logout.session import SESSION_KEY

from .op_server import Browser, OpenIDProvider

pytestmark = [pytest.mark.op, pytest.mark.django_db]


class CountingRequests:
    """Counts every outbound request the app makes, by URL path."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: list[str] = []
        original = http.request

        def counting(method: str, url: str, **kwargs: Any) -> http.Response:
            self.paths.append(urlsplit(url).path)
            return original(method, url, **kwargs)

        monkeypatch.setattr(http, "request", counting)


@pytest.fixture
def outbound(monkeypatch: pytest.MonkeyPatch) -> CountingRequests:
    return CountingRequests(monkeypatch)


@pytest.mark.parametrize("client_id", ["rp-basic", "rp-post", "rp-public"])
def test_sign_in(op: OpenIDProvider, settings: Any, client_id: str) -> None:
    settings.IDP_LOGOUT = op.settings_for(client_id)
    browser = Browser()
    page = browser.go("/oidc/login/?next=/home/%3Fx%3D1", login="alice")
    assert page.url == "http://testserver/home/?x=1"
    assert page.text == f"home {OIDCIdentity.objects.get(subject='alice').user.username}"
    identity = OIDCIdentity.objects.get(issuer=op.issuer, subject="alice")
    assert identity.user.email == "alice@example.test"
    assert identity.user.first_name == "alice"
    assert not identity.user.has_usable_password()
    data = browser.django.session[SESSION_KEY]
    assert data["sub"] == "alice"
    assert data["iss"] == op.issuer
    assert data["id_token"]
    assert data["access_token"]
    # The authorization request carried PKCE S256, state and nonce.
    auth = next(p for p in browser.history if urlsplit(p.url).path == "/auth")
    query = parse_qs(urlsplit(auth.url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["state"][0]) >= 43
    assert len(query["nonce"][0]) >= 43
    # Only the session id cookie reaches the browser; no token in any cookie.
    for cookie in browser.django.cookies.values():
        assert data["id_token"] not in cookie.value
        assert data["access_token"] not in cookie.value


def test_second_login_updates_user_and_cycles_session(op: OpenIDProvider, settings: Any) -> None:
    settings.IDP_LOGOUT = op.settings_for("rp-basic")
    browser = Browser()
    browser.go("/oidc/login/", login="bob")
    first_key = browser.django.session.session_key
    page = browser.go("/oidc/login/?next=/home/", login="bob")
    assert page.url == "http://testserver/home/"
    assert browser.django.session.session_key != first_key
    assert get_user_model().objects.count() == 1


def test_warm_login_makes_exactly_one_outbound_request(
    op: OpenIDProvider, settings: Any, outbound: CountingRequests
) -> None:
    settings.IDP_LOGOUT = op.settings_for("rp-basic")
    Browser().go("/oidc/login/", login="carol")  # warms discovery and JWKS
    outbound.paths.clear()
    page = Browser().go("/oidc/login/?next=/home/", login="carol")
    assert page.url == "http://testserver/home/"
    assert outbound.paths == ["/token"]


def test_userinfo_when_configured(op: OpenIDProvider, settings: Any,
                                  outbound: CountingRequests) -> None:
    settings.IDP_LOGOUT = op.settings_for("rp-basic", USE_USERINFO=True)
    browser = Browser()
    browser.go("/oidc/login/", login="dave")
    outbound.paths.clear()
    browser.go("/oidc/login/", login="dave")
    assert outbound.paths == ["/token", "/me"]


def test_signed_in_page_view_makes_no_outbound_request_or_extra_query(
    op: OpenIDProvider, settings: Any, outbound: CountingRequests,
    django_assert_num_queries: Any,
) -> None:
    settings.IDP_LOGOUT = op.settings_for("rp-basic")
    browser = Browser()
    browser.go("/oidc/login/", login="erin")
    outbound.paths.clear()
    # session + user: the same two queries as a site without this app.
    with django_assert_num_queries(2):
        response = browser.django.get("/home/")
    assert response.content.decode().startswith("home oidc-")
    assert outbound.paths == []


def test_replayed_callback_does_not_sign_in_another_browser(op: OpenIDProvider,
                                                            settings: Any) -> None:
    settings.IDP_LOGOUT = op.settings_for("rp-basic")
    browser = Browser()
    browser.go("/oidc/login/", login="frank")
    callback_url = next(p.url for p in browser.history if "/oidc/callback/" in p.url)
    attacker = Client()
    response = attacker.get(callback_url.removeprefix("http://testserver"))
    assert response.status_code == 400
    assert "_auth_user_id" not in attacker.session


def test_double_submitted_callback_continues(op: OpenIDProvider, settings: Any) -> None:
    settings.IDP_LOGOUT = op.settings_for("rp-basic")
    browser = Browser()
    browser.go("/oidc/login/?next=/home/", login="gina")
    callback_url = next(p.url for p in browser.history if "/oidc/callback/" in p.url)
    response = browser.django.get(callback_url.removeprefix("http://testserver"))
    assert response.status_code == 302
    assert response["Location"] == "/home/"


def test_two_tabs_sign_in_concurrently(op: OpenIDProvider, settings: Any) -> None:
    settings.IDP_LOGOUT = op.settings_for("rp-basic")
    browser = Browser()
    tab1 = browser.django.get("/oidc/login/", {"next": "/home/?tab=1"})
    tab2 = browser.django.get("/oidc/login/", {"next": "/home/?tab=2"})
    page2 = browser.go(tab2["Location"], login="hana")
    page1 = browser.go(tab1["Location"], login="hana")
    assert page2.url.endswith("/home/?tab=2")
    assert page1.url.endswith("/home/?tab=1")


def test_cancelled_consent_shows_friendly_page(op: OpenIDProvider, settings: Any,
                                               caplog: pytest.LogCaptureFixture) -> None:
    settings.IDP_LOGOUT = op.settings_for("rp-basic")
    browser = Browser()
    with caplog.at_level(logging.INFO):
        page = browser.go("/oidc/login/?next=/home/", login="ivan", consent=False)
    assert page.status == 200  # the user's own choice: no "Bad Request" logged
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert any("code=access_denied" in r.getMessage() and r.levelno == logging.INFO
               for r in caplog.records)
    assert "Sign-in cancelled" in page.text
    assert "_auth_user_id" not in browser.django.session


def test_wrong_client_secret_is_a_safe_page(op: OpenIDProvider, settings: Any) -> None:
    settings.IDP_LOGOUT = op.settings_for("rp-basic", CLIENT_SECRET="wrong")
    browser = Browser()
    page = browser.go("/oidc/login/", login="judy")
    assert page.status == 502
    assert "could not prove its identity" in page.text
    assert "_auth_user_id" not in browser.django.session
