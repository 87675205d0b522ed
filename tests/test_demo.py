"""The quick start cannot silently rot: run ``make demo`` and sign in through it."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from .demo import PROVIDERS, Demo, form_fields, sign_in_with_requests

pytestmark = pytest.mark.demo

GERMAN = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}
#: English words of the site's layout and pages, none of which a German reader should see.
ENGLISH = ("Example site", "Your account", "Sign in", "Sign out", "identity provider",
           "runs separately", "Welcome", "This page is public", "Try the single-page app",
           "Signed in as", "You are signed in", "Claims of your ID token", "stay on the server",
           "Reference", "Home")
MESSAGE = re.compile(r'<p class="message[^"]*">\s*\S.*?</p>', re.S)
_TAG = re.compile(r"<[^>]+>")


def visible_text(html: str) -> str:
    """What a reader sees (roughly): the page without its tags, scripts and data blocks."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(_TAG.sub(" ", html)).split())


def layout_strings(html: str) -> list[str]:
    """The texts of the page's header and footer (the site's layout), one per text node."""
    layout = "".join(re.findall(r"<(?:header|footer)\b.*?</(?:header|footer)>", html, re.S))
    texts = (" ".join(unescape(node).split()) for node in re.findall(r">([^<]+)<", layout))
    return [text for text in texts if text]


def status_region(html: str) -> str:
    """The content of the page's role="status" region (its messages), or ""."""
    match = re.search(r'<div class="messages" id="messages" role="status">(.*?)</div>', html,
                      re.S)
    return match.group(1) if match else ""


def assert_german(english_page: str, german_page: str) -> None:
    """The German page has none of the English page's layout strings, nor any other English
    word of the site's, and says it is German."""
    assert '<html lang="de">' in german_page
    text = visible_text(german_page)
    english_layout = layout_strings(english_page)
    assert english_layout  # the English page has them: the comparison means something
    assert [words for words in english_layout if words in text] == []
    assert [words for words in ENGLISH if words in text] == []


def assert_strict_csp_friendly(html: str, *, scripts: bool = False) -> None:
    """Nothing a strict Content-Security-Policy (``default-src 'self'``) would block: no
    inline style or script, nothing loaded from another origin, and a phone-sized viewport."""
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "<style" not in html
    assert " style=" not in html
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert scripts, tag
        assert 'src="/' in tag or 'type="application/json"' in tag, tag
    for url in re.findall(r'<(?:link|script|img)\b[^>]*(?:href|src)="([^"]+)"', html):
        assert url.startswith("/"), url


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
    # The app's "signed out" message is on the landing page, where a screen reader
    # announces it (its words are the app's), and shown once: none is left in the cookie.
    assert MESSAGE.findall(status_region(page.text))
    assert not session.cookies.get("messages")
    assert 'role="status"' not in session.get(f"{demo.site}/", timeout=10).text
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


def test_a_german_browser_sees_german_pages(demo: Demo) -> None:
    """The site's own strings (header, footer, pages) are translated like the app's error page
    inside them: no English word is left for a reader whose browser asks for German."""
    anonymous = requests.Session()
    pages = {"home": "/", "error": "/oidc/callback/staff/?code=x&state=unknown"}
    for path in pages.values():
        english = anonymous.get(f"{demo.site}{path}", timeout=10).text
        german = anonymous.get(f"{demo.site}{path}", headers=GERMAN, timeout=10)
        assert_german(english, german.text)
    error = anonymous.get(f"{demo.site}{pages['error']}", headers=GERMAN, timeout=10)
    assert error.status_code == 400
    assert "Referenz" in error.text  # the app's error page, in the site's layout

    signed_in = requests.Session()
    sign_in_with_requests(demo, signed_in)
    for path in ("/", "/protected/", "/spa/"):
        english = signed_in.get(f"{demo.site}{path}", timeout=10).text
        german = signed_in.get(f"{demo.site}{path}", headers=GERMAN, timeout=10).text
        assert_german(english, german)
    home = signed_in.get(f"{demo.site}/", headers=GERMAN, timeout=10).text
    assert "Sie sind als <strong>demo@example.test</strong> mit" in home
    protected = signed_in.get(f"{demo.site}/protected/", headers=GERMAN, timeout=10).text
    assert "Ihr Konto" in protected
    assert ">ja</span>" in protected  # email_verified
    # German dates: "1. Dezember 2026 19:43 UTC".
    assert re.search(r'<time datetime="[^"]+" title="\d+">\d{1,2}\. \w+ \d{4} \d{1,2}:\d{2} UTC<',
                     protected)


def test_the_provider_speaks_german_too(demo: Demo) -> None:
    """The development provider's pages follow the browser's language like the site's,
    django-oidc-provider's scope names included."""
    session = requests.Session()
    session.headers.update(GERMAN)
    login = session.get(f"{demo.site}/oidc/login/",
                        params={"provider": "staff", "next": "/protected/"}, timeout=10)
    assert login.url.startswith(f"{demo.idp}/accounts/login/")
    fields = form_fields(login.text)
    fields.update({"username": "demo", "password": "demo-password"})
    consent = session.post(login.url, data=fields, headers={"Referer": login.url}, timeout=10)
    assert 'id="idp-allow"' in consent.text
    for page, german in ((login.text, ("Anmelden", "Benutzername", "Passwort")),
                         (consent.text, ("Bitte um Erlaubnis", "Basisprofil", "Erlauben"))):
        assert '<html lang="de">' in page
        text = visible_text(page)
        assert [words for words in german if words not in text] == []
        assert [words for words in ("Sign in", "Username", "Password", "Request for permission",
                                    "Authorize", "Decline", "Basic profile",
                                    "Development identity provider", "demo only")
                if words in text] == []


def test_the_providers_pages_look_like_the_site(demo: Demo) -> None:
    """The development provider's sign-in and consent pages: its own small stylesheet (light
    and dark, narrow screens), served by itself, nothing inline and nothing external."""
    session = requests.Session()
    login = session.get(f"{demo.site}/oidc/login/",
                        params={"provider": "staff", "next": "/protected/"}, timeout=10)
    assert login.url.startswith(f"{demo.idp}/accounts/login/")
    assert '<link rel="stylesheet" href="/static/devidp/idp.css">' in login.text
    assert_strict_csp_friendly(login.text)
    css = session.get(f"{demo.idp}/static/devidp/idp.css", timeout=10)
    assert css.status_code == 200
    assert css.headers["Content-Type"].startswith("text/css")
    assert "@media (prefers-color-scheme: dark)" in css.text
    assert "@media (max-width" in css.text
    assert "url(" not in css.text  # no fonts or images from anywhere
    fields = form_fields(login.text)
    fields.update({"username": "demo", "password": "demo-password"})
    consent = session.post(login.url, data=fields, headers={"Referer": login.url}, timeout=10)
    assert "Request for permission" in consent.text
    assert '<link rel="stylesheet" href="/static/devidp/idp.css">' in consent.text
    assert_strict_csp_friendly(consent.text)


def test_the_sites_pages_need_no_inline_code(demo: Demo) -> None:
    session = requests.Session()
    sign_in_with_requests(demo, session)
    for path in ("/", "/protected/", "/spa/", "/oidc/logout/"):
        page = session.get(f"{demo.site}{path}", timeout=10)
        assert page.status_code == 200, path
        assert_strict_csp_friendly(page.text, scripts=True)


def test_the_claims_are_readable(demo: Demo) -> None:
    """Booleans as yes/no, times as dates (the number kept beside them), never Python's
    ``True``."""
    session = requests.Session()
    page = sign_in_with_requests(demo, session).text
    table = page.split('<table id="claims"', 1)[1].split("</table>", 1)[0]
    rows = dict(re.findall(r'<th scope="row">([^<]+)</th>\s*<td>(.*?)</td>', table, re.S))
    for name in ("exp", "iat", "auth_time"):
        match = re.fullmatch(r'<time datetime="([^"]+)" title="(\d+)">([^<]+)</time> '
                             r'<code class="raw">(\d+)</code>', rows[name])
        assert match, rows[name]
        assert match.group(2) == match.group(4)
        assert "UTC" in match.group(3)
    assert rows["email_verified"] == '<span class="value">yes</span> <code class="raw">true</code>'
    assert "True" not in table
    assert rows["email"] == '<span class="value">demo@example.test</span>'
