"""End to end: sign in, sign out, and the provider's session and tokens are gone too."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from django_idp_logout.session import SESSION_KEY

from .op_server import Browser, OpenIDProvider

pytestmark = [pytest.mark.op, pytest.mark.django_db]


def introspect(op: OpenIDProvider, token: str) -> dict[str, Any]:
    client = op.client("rp-basic")
    response = requests.post(f"{op.issuer}/token/introspection", data={"token": token},
                             auth=(client["client_id"], client["client_secret"]), timeout=5)
    response.raise_for_status()
    return dict(response.json())


def signed_in(op: OpenIDProvider, settings: Any, **extra: Any) -> Browser:
    settings.IDP_LOGOUT = op.settings_for("rp-basic", POST_LOGOUT_REDIRECT_URL="/home/",
                                          **extra)
    browser = Browser()
    assert browser.go("/oidc/login/", login="olga").url == "http://testserver/home/"
    return browser


def test_logout_ends_the_provider_session(op: OpenIDProvider, settings: Any) -> None:
    browser = signed_in(op, settings)
    id_token = browser.django.session[SESSION_KEY]["id_token"]
    confirm = browser.django.get("/oidc/logout/")
    assert confirm.status_code == 200
    assert b'method="post"' in confirm.content
    page = browser.csrf_post("/oidc/logout/", {"next": "/?bye"})
    assert page.url == "http://testserver/?bye"
    assert page.text == "home anonymous"
    # The end-session request carried what RP-Initiated Logout 1.0 asks for.
    end = next(p for p in browser.history if urlsplit(p.url).path == "/session/end")
    query = parse_qs(urlsplit(end.url).query)
    assert query["id_token_hint"] == [id_token]
    assert query["client_id"] == ["rp-basic"]
    assert query["post_logout_redirect_uri"] == ["http://testserver/oidc/logout/complete/"]
    state = query["state"][0]
    back = next(p for p in browser.history if "/oidc/logout/complete/" in p.url)
    assert parse_qs(urlsplit(back.url).query)["state"] == [state]
    # The provider's session is gone: the next sign-in asks for credentials again.
    browser.history.clear()
    browser.go("/oidc/login/", login="olga")
    assert any('name="login"' in p.text for p in browser.history if "interaction" in p.url)


def test_without_logout_the_provider_signs_in_silently(op: OpenIDProvider,
                                                       settings: Any) -> None:
    """The control for the test above: local logout alone leaves the provider session."""
    browser = signed_in(op, settings)
    browser.django.logout()
    browser.history.clear()
    page = browser.go("/oidc/login/", login="olga")
    assert page.url == "http://testserver/home/"
    assert not any('name="login"' in p.text for p in browser.history if "interaction" in p.url)


def test_revoked_tokens_are_inactive(op: OpenIDProvider, settings: Any) -> None:
    browser = signed_in(op, settings, REVOKE_TOKENS_ON_LOGOUT=True)
    access_token = browser.django.session[SESSION_KEY]["access_token"]
    assert introspect(op, access_token)["active"] is True
    browser.csrf_post("/oidc/logout/")
    assert introspect(op, access_token)["active"] is False


def test_replayed_logout_return_lands_on_public_page(op: OpenIDProvider,
                                                     settings: Any) -> None:
    browser = signed_in(op, settings)
    browser.csrf_post("/oidc/logout/", {"next": "/?chosen"})
    back = next(p for p in browser.history if "/oidc/logout/complete/" in p.url)
    replay = browser.django.get(back.url.removeprefix("http://testserver"))
    assert replay.status_code == 302
    assert replay["Location"] == "/home/"


def test_logout_with_provider_down_completes_locally(op: OpenIDProvider,
                                                     settings: Any) -> None:
    browser = signed_in(op, settings, REVOKE_TOKENS_ON_LOGOUT=True)
    from django.core.cache import cache

    cache.clear()  # forget discovery, so logout has to reach the provider
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "ISSUER": "http://127.0.0.1:9"}
    page = browser.csrf_post("/oidc/logout/")
    assert page.url == "http://testserver/home/"
    assert "_auth_user_id" not in browser.django.session
