"""The quick start cannot silently rot: run ``make demo`` and sign in through it."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from .demo import PROVIDERS, Demo, sign_in_with_requests

pytestmark = pytest.mark.demo


def test_both_servers_answer(demo: Demo) -> None:
    discovery = requests.get(f"{demo.idp}/openid/.well-known/openid-configuration", timeout=5)
    assert discovery.json()["issuer"] == f"{demo.idp}/openid"
    assert requests.get(f"{demo.site}/", timeout=5).status_code == 200


def test_sign_in_and_out_through_the_demo(demo: Demo) -> None:
    session = requests.Session()
    page = sign_in_with_requests(demo, session)
    assert page.url == f"{demo.site}/protected/"
    assert "demo@example.test" in page.text
    assert "Staff account (demo)" in page.text
    assert "id_token" not in page.text.lower().replace("id token", "")
    # Sign out: POST with CSRF, through the provider's end-session, back to the public page.
    token = session.cookies.get("csrftoken", domain="127.0.0.1")
    page = session.post(f"{demo.site}/oidc/logout/", data={"csrfmiddlewaretoken": token},
                        headers={"Referer": f"{demo.site}/protected/"}, timeout=10)
    assert page.url == f"{demo.site}/"
    assert "This page is public" in page.text
    # The provider's session ended: signing in again asks for the password.
    again = session.get(f"{demo.site}/oidc/login/?provider=staff", timeout=10)
    assert again.url.startswith(f"{demo.idp}/accounts/login/")


def test_the_chooser_lists_both_providers(demo: Demo) -> None:
    """``login/`` without a provider (the site's "Sign in" link) shows the chooser; each
    button starts that provider's sign-in with its own client and redirect URI."""
    page = requests.get(f"{demo.site}/oidc/login/?next=/protected/", timeout=10)
    assert page.status_code == 200
    assert page.url == f"{demo.site}/oidc/login/?next=/protected/"
    links = {name: unescape(href) for name, href in re.findall(
        r'<a [^>]*data-provider="([^"]+)" href="([^"]+)"', page.text)}
    assert list(links) == list(PROVIDERS)  # settings order
    assert "Sign in with Staff account (demo)" in page.text
    assert "Sign in with Partner account (demo)" in page.text
    for name, client_id in PROVIDERS.items():
        assert parse_qs(urlsplit(links[name]).query) == {"provider": [name],
                                                         "next": ["/protected/"]}
        start = requests.get(f"{demo.site}{links[name]}", allow_redirects=False, timeout=10)
        assert start.status_code == 302
        params = parse_qs(urlsplit(start.headers["Location"]).query)
        assert params["client_id"] == [client_id]
        assert params["redirect_uri"] == [f"{demo.site}/oidc/callback/{name}/"]


def test_sign_in_with_the_second_provider(demo: Demo) -> None:
    session = requests.Session()
    page = sign_in_with_requests(demo, session, provider="partners")
    assert page.url == f"{demo.site}/protected/"
    assert "demo@example.test" in page.text
    assert "Partner account (demo)" in page.text
    assert "<code>partners</code>" in page.text
    home = session.get(f"{demo.site}/", timeout=10)
    assert "with <strong id=\"provider\">Partner account (demo)</strong>" in home.text
    # The sign-out goes to the provider the session signed in with, and ends its session.
    token = session.cookies.get("csrftoken", domain="127.0.0.1")
    page = session.post(f"{demo.site}/oidc/logout/", data={"csrfmiddlewaretoken": token},
                        headers={"Referer": f"{demo.site}/protected/"}, timeout=10)
    assert page.url == f"{demo.site}/"
    end_session = page.history[0].headers["Location"]
    assert end_session.startswith(f"{demo.idp}/openid/end-session?")
    params = parse_qs(urlsplit(end_session).query)
    assert params["client_id"] == ["example-partners"]
    assert params["post_logout_redirect_uri"] == [f"{demo.site}/oidc/logout/complete/"]
    again = session.get(f"{demo.site}/oidc/login/?provider=partners", timeout=10)
    assert again.url.startswith(f"{demo.idp}/accounts/login/")


def test_readme_quick_start_is_two_commands() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("##", 1)[0]
    commands = [line for line in quick.splitlines() if line.startswith("make ")]
    assert [c.split()[1] for c in commands] == ["demo", "test"]
