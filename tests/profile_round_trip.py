"""Helpers of the end-to-end profile tests (``tests/test_e2e_profiles.py``): sign in through a
vendor dialect and read what reached the provider."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt

from django_idp_logout.models import OIDCSession
from django_idp_logout.session import SESSION_KEY

from .dialect_proxy import DialectProxy, Hit
from .op_server import Browser

REVOCATION = "/token/revocation"  # oidc-provider's path, whatever the vendor calls it
END_SESSION = "/session/end"


@dataclass
class SignedIn:
    browser: Browser
    session: dict[str, Any]
    #: The tokens the site stored (the mapping row).
    tokens: dict[str, Any]

    @property
    def id_token(self) -> str:
        return str(self.session["id_token"])


def sign_in(proxy: DialectProxy, settings: Any, provider: str, **extra: Any) -> SignedIn:
    """Sign in through the dialect's URLs; assert what reached the provider; clear the record."""
    settings.IDP_LOGOUT = proxy.settings(provider, **extra)
    browser = Browser()
    page = browser.go("/oidc/login/?next=/home/", login="alice")
    assert page.url == "http://testserver/home/", page.text[:500]
    assert page.text.startswith("home ")
    assert page.text != "home anonymous"
    session = dict(browser.django.session[SESSION_KEY])
    # The ID token is the vendor-dialect issuer's, and was accepted as such.
    assert session["iss"] == proxy.issuer
    assert jwt.decode(session["id_token"], options={"verify_signature": False})["iss"] == (
        proxy.issuer)
    # Sign-in used the dialect's discovery and endpoint URLs, and nothing was refused.
    authorization = proxy.to("authorization_endpoint")
    assert [h.method for h in authorization] == ["GET"]
    auth_params = authorization[0].params
    assert auth_params["client_id"] == proxy.client_id
    assert auth_params["code_challenge_method"] == "S256"
    assert auth_params["response_type"] == "code"
    token = proxy.to("token_endpoint")
    assert [(h.method, h.params["grant_type"]) for h in token] == [
        ("POST", "authorization_code")]
    assert token[0].status == 200
    assert proxy.to("jwks_uri")
    assert proxy.forwarded_to("/token") == token
    assert [h for h in proxy.recorded() if h.status >= 400] == []
    proxy.clear()
    return SignedIn(browser, session, json.loads(OIDCSession.objects.get().tokens))


def signed_out_here(browser: Browser) -> None:
    assert browser.go("/home/").text == "home anonymous"
    assert "_auth_user_id" not in browser.django.session


def provider_asks_for_credentials(browser: Browser) -> bool:
    """Sign in again: does the provider show its login form (its session is gone)?"""
    browser.history.clear()
    page = browser.go("/oidc/login/?next=/home/", login="alice")
    assert page.url == "http://testserver/home/"
    return any('name="login"' in p.text for p in browser.history
               if not p.url.startswith("http://testserver"))


def the_end_session_request(proxy: DialectProxy) -> Hit:
    """The one end-session request, at the dialect's URL; nothing else reached /session/end."""
    hits = proxy.to("end_session_endpoint")
    assert len(hits) == 1, proxy.recorded()
    assert proxy.forwarded_to(END_SESSION) == hits
    return hits[0]


def returned_state(browser: Browser) -> list[str] | None:
    """The ``state`` the provider sent the browser back with (``None``: no return there)."""
    back = [p for p in browser.history if urlsplit(p.url).path == "/oidc/logout/complete/"]
    if not back:
        return None
    assert len(back) == 1
    return parse_qs(urlsplit(back[0].url).query).get("state", [])


def revocation_hints(proxy: DialectProxy) -> list[str]:
    """``token_type_hint`` of each revocation request, all at the dialect's URL and accepted."""
    hits = proxy.forwarded_to(REVOCATION)
    if hits:
        assert proxy.to("revocation_endpoint") == hits
    for hit in hits:
        assert hit.method == "POST"
        assert hit.status == 200
        assert hit.params["token"]
    return [hit.params["token_type_hint"] for hit in hits]
