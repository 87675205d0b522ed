"""The package's default pages: finished-looking, self-contained, accessible, CSP-proof.

Every page extends ``django_idp_logout/base.html``, which links the one stylesheet the package
ships (``static/django_idp_logout/idp.css``) and nothing else: no inline style or script, so
the pages work under ``Content-Security-Policy: default-src 'self'``. The pages are rendered
through the real views where a view shows them, else with ``render_to_string``; an optional
Chromium test applies the stylesheet under that CSP.
"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.template.loader import get_template, render_to_string
from django.test import Client

import django_idp_logout

from .conftest import CLIENT_ID, CLIENT_SECRET, ISSUER, FakeProvider, start_login

PACKAGE = Path(django_idp_logout.__file__).parent
TEMPLATES = PACKAGE / "templates" / "django_idp_logout"
STATIC = PACKAGE / "static" / "django_idp_logout"
CSS = STATIC / "idp.css"
CSS_LINK = '<link rel="stylesheet" href="/static/django_idp_logout/idp.css">'
#: Rendered in an invisible iframe (front-channel logout): minimal on purpose, no stylesheet.
UNSTYLED = {"frontchannel.html"}
PAGES = sorted(p.name for p in TEMPLATES.glob("*.html") if p.name not in UNSTYLED)
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


@pytest.fixture(autouse=True)
def _static_url(settings: Any) -> None:
    """The tests' settings have no ``STATIC_URL`` (a site with static files has one)."""
    settings.STATIC_URL = "/static/"


class Page(HTMLParser):
    """Tags, their attributes and text of a page; fails on a misnested or unclosed tag."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, int]] = []  # (tag, index in self.tags)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.texts: dict[int, list[str]] = {}
        self.feed(html)
        self.close()
        assert self.open == [], f"unclosed: {self.open}"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        if tag not in VOID:
            self.open.append((tag, len(self.tags) - 1))

    def handle_endtag(self, tag: str) -> None:
        assert self.open, f"</{tag}> closes nothing"
        assert self.open[-1][0] == tag, f"</{tag}> closes <{self.open[-1][0]}>"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        for _, index in self.open:
            self.texts.setdefault(index, []).append(data)

    def find(self, tag: str | None = None, **attrs: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if (tag is None or t == tag)
                and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def text(self, tag: str | None = None, **attrs: str) -> str:
        """The collapsed text of the first element matching."""
        for i, (t, a) in enumerate(self.tags):
            if (tag is None or t == tag) and all(a.get(k.replace("_", "-")) == v
                                                 for k, v in attrs.items()):
                return " ".join("".join(self.texts.get(i, [])).split())
        raise AssertionError(f"no {tag} {attrs}")


def check_page(html: str) -> Page:
    """What every default page has: the stylesheet, a language, one heading, a card."""
    page = Page(html)
    assert html.startswith("<!DOCTYPE html>")
    assert CSS_LINK in html
    assert [a["lang"][:2] for a in page.find("html")] == ["en"]  # LANGUAGE_CODE: en-us
    assert page.find("html")[0]["dir"] == "ltr"
    assert page.find("meta", name="viewport")
    assert len(page.find("h1")) == 1
    assert page.find("main", **{"class": "idp-main"})
    assert page.find("div", **{"class": "idp-card"})
    assert "style=" not in html
    assert "<style" not in html
    assert all(a.get("src") for a in page.find("script"))
    return page


# --- the files ------------------------------------------------------------------------------


def test_the_stylesheet_ships_with_the_package_and_needs_nothing_else() -> None:
    css = CSS.read_text(encoding="utf-8")
    assert "@import" not in css
    assert "url(" not in css  # no fonts, images or other files
    assert "@media (prefers-color-scheme: dark)" in css
    assert ":focus-visible" in css
    for name in ("--idp-bg", "--idp-surface", "--idp-text", "--idp-muted", "--idp-border",
                 "--idp-accent", "--idp-on-accent", "--idp-focus", "--idp-font",
                 "--idp-radius"):
        assert f"{name}:" in css, name
    assert css.count("{") == css.count("}")
    assert (STATIC / "autosubmit.js").is_file()


def test_the_documented_custom_properties_are_the_stylesheets() -> None:
    css = CSS.read_text(encoding="utf-8")
    docs = (PACKAGE.parent / "docs" / "templates.rst").read_text(encoding="utf-8")
    defined = set(re.findall(r"^\s*(--idp-[a-z-]+):", css, re.M))
    documented = set(re.findall(r"``(--idp-[a-z-]+)``", docs))
    assert documented == defined


@pytest.mark.parametrize("name", sorted(p.relative_to(TEMPLATES).as_posix()
                                        for p in TEMPLATES.rglob("*.html")))
def test_no_template_has_inline_style_or_script(name: str) -> None:
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    assert "style=" not in text
    assert "<style" not in text
    for tag in re.findall(r"<script\b[^>]*>", text):
        assert " src=" in tag, tag


@pytest.mark.parametrize("name", [p for p in PAGES if p != "base.html"])
def test_every_page_extends_the_base(name: str) -> None:
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    assert text.startswith('{% extends "django_idp_logout/base.html" %}')
    assert "{% comment %}" in text  # its context, documented where an override starts


def test_the_base_keeps_its_blocks() -> None:
    from django.template.loader_tags import BlockNode

    template = get_template("django_idp_logout/base.html").template  # type: ignore[attr-defined]
    blocks = {node.name for node in template.nodelist.get_nodes_by_type(BlockNode)}
    assert {"title", "head", "content"} <= blocks  # what sites extending it fill
    assert {"stylesheet", "brand", "footer"} <= blocks


def test_the_frontchannel_page_stays_minimal() -> None:
    html = render_to_string("django_idp_logout/frontchannel.html", {"ended": True})
    assert "<link" not in html
    assert "signed out" in html


# --- the pages, through the views -----------------------------------------------------------


@pytest.mark.django_db
def test_error_page(client: Client, fake_op: FakeProvider) -> None:
    start_login(client)
    response = client.get("/oidc/callback/", {"state": "x", "code": "y"})
    assert 400 <= response.status_code < 500
    page = check_page(response.content.decode())
    assert page.find("a", **{"class": "idp-button"})  # "Sign in again", a link
    assert page.find("p", **{"class": "idp-meta"})
    assert "Reference:" in page.text("p", **{"class": "idp-meta"})


@pytest.mark.django_db
def test_chooser(client: Client, settings: Any) -> None:
    settings.IDP_LOGOUT = {"PROVIDERS": {
        "staff": {"ISSUER": ISSUER, "CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET,
                  "DISPLAY_NAME": "Staff account"},
        "public": {"ISSUER": "https://other.example.test", "CLIENT_ID": "public-client",
                   "CLIENT_SECRET": "p" * 40},
    }}
    response = client.get("/oidc/login/", {"next": "/reports/"})
    assert response.status_code == 200
    html = response.content.decode()
    page = check_page(html)
    assert page.find("ul", **{"class": "idp-providers"})
    links = page.find("a", **{"class": "idp-provider"})
    assert [a["data-provider"] for a in links] == ["staff", "public"]
    assert page.text("a", data_provider="staff") == "Sign in with Staff account"
    # The demo's tests find the links this way.
    assert re.findall(r'<a [^>]*data-provider="([^"]+)" href="([^"]+)"', html)


@pytest.mark.django_db
def test_logout_confirmation_has_a_cancel_link(fake_op: FakeProvider) -> None:
    from .test_logout import sign_in

    client = Client(enforce_csrf_checks=True)
    sign_in(client, fake_op)
    response = client.get("/oidc/logout/", {"next": "/after/"})
    assert response.status_code == 200
    html = response.content.decode()
    page = check_page(html)
    assert '<form method="post"' in html
    assert page.find("input", type="hidden", name="next", value="/after/")
    assert page.find("input", type="hidden", name="csrfmiddlewaretoken")
    assert page.text("button", type="submit") == "Sign out"
    cancel = page.find("a", **{"class": "idp-cancel"})
    assert len(cancel) == 1
    assert page.text("a", **{"class": "idp-cancel"}) == "Cancel"
    assert cancel[0]["href"] == response.context["cancel_url"]
    assert cancel[0]["href"]


@pytest.mark.django_db
def test_session_ended_page(client: Client) -> None:
    response = client.get("/oidc/session-ended/", {"reason": "idle", "next": "/home/"})
    assert response.status_code == 200
    page = check_page(response.content.decode())
    assert page.find("a", **{"class": "idp-button"}, href="/oidc/login/?next=%2Fhome%2F")


# --- the pages no simple request shows ------------------------------------------------------


def test_logout_post_page_keeps_the_form_and_the_script() -> None:
    html = render_to_string("django_idp_logout/logout_post.html", {
        "action": f"{ISSUER}/logout", "params": [("id_token_hint", "t"), ("state", "s")],
        "script_url": "/static/django_idp_logout/autosubmit.js"})
    page = check_page(html)
    assert page.find("form", id="idp-logout-form", method="post", action=f"{ISSUER}/logout")
    assert page.find("input", type="hidden", name="id_token_hint", value="t")
    assert page.find("script", src="/static/django_idp_logout/autosubmit.js")
    assert page.text("button", type="submit") == "Continue"


def test_logged_out_here_page() -> None:
    html = render_to_string("django_idp_logout/logged_out_here.html",
                            {"next": "/", "provider_name": "Google"})
    page = check_page(html)
    assert "You are still signed in to your Google account" in html
    assert page.find("a", **{"class": "idp-button"}, href="/")


LOGGED_OUT = [
    ("ended", "Keycloak",
     "You are signed out of this site. You are also signed out of Keycloak."),
    ("ended", None,
     "You are signed out of this site. You are also signed out of your identity provider."),
    ("failed", "Keycloak",
     "You are signed out of this site. We could not sign you out of Keycloak. If this is a "
     "shared computer, sign out there too."),
    ("failed", None,
     "You are signed out of this site. We could not sign you out of your identity provider. "
     "If this is a shared computer, sign out there too."),
    ("unconfirmed", "Keycloak",
     "You are signed out of this site. We could not confirm that Keycloak ended its session "
     "too; if this is a shared computer, make sure you are signed out there too."),
    ("unconfirmed", None,
     "You are signed out of this site. We could not confirm that your identity provider ended "
     "its session too; if this is a shared computer, make sure you are signed out there too."),
    ("none", None, "You are signed out."),
    ("none", "Keycloak", "You are signed out."),
]


@pytest.mark.parametrize(("session", "name", "expected"), LOGGED_OUT)
def test_logged_out_page(session: str, name: str | None, expected: str) -> None:
    html = render_to_string("django_idp_logout/logged_out.html", {
        "next": "/bye/?a=1&b=2", "provider_name": name, "provider_session": session})
    page = check_page(html)
    assert page.text("h1") == "You are signed out"
    assert page.text(data_provider_session=session) == expected
    assert len(page.find(data_provider_session=session)) == 1
    assert page.find("a", **{"class": "idp-button"}, href="/bye/?a=1&b=2")
    assert "/bye/?a=1&amp;b=2" in html  # escaped
    assert page.text("a", **{"class": "idp-button"}) == "Continue"


def test_logged_out_page_escapes_the_provider_name() -> None:
    html = render_to_string("django_idp_logout/logged_out.html", {
        "next": "/", "provider_name": "<b>IdP</b>", "provider_session": "failed"})
    assert "<b>" not in html
    assert "&lt;b&gt;IdP&lt;/b&gt;" in html


@pytest.mark.parametrize(("session", "name", "expected"), LOGGED_OUT)
def test_logged_out_message(session: str, name: str | None, expected: str) -> None:
    text = render_to_string("django_idp_logout/logged_out_message.txt",
                            {"provider_name": name, "provider_session": session})
    assert " ".join(text.split()) == expected
    assert not re.search(r"</?[a-zA-Z]", text)


def test_logged_out_message_is_not_html_escaped() -> None:
    # Messages are escaped when a template shows them: escaping here would show "&amp;".
    text = render_to_string("django_idp_logout/logged_out_message.txt",
                            {"provider_name": "AT&T's IdP", "provider_session": "ended"})
    assert "AT&T's IdP" in text


# --- branding -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_site_brands_the_pages_by_extending_the_base(client: Client, settings: Any,
                                                       tmp_path: Path) -> None:
    """The documented override: the project's own django_idp_logout/base.html, extending the
    package's, fills a few blocks; every page gets them."""
    folder = tmp_path / "django_idp_logout"
    folder.mkdir()
    (folder / "base.html").write_text(
        '{% extends "django_idp_logout/base.html" %}{% load static %}\n'
        '{% block head %}<link rel="stylesheet" href="{% static \'brand.css\' %}">{% endblock %}\n'
        '{% block brand %}<a href="/">Example Corp</a>{% endblock %}\n'
        '{% block footer %}Help: it@example.test{% endblock %}\n')
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    response = client.get("/oidc/session-ended/", {"reason": "idle"})
    html = response.content.decode()
    page = check_page(html)
    assert page.text("header") == "Example Corp"
    assert page.text("footer") == "Help: it@example.test"
    assert html.index(CSS_LINK) < html.index("/static/brand.css")  # it can override


# --- in a real browser (optional) -----------------------------------------------------------


CHROMIUM = "/usr/bin/chromium"
CSP = "default-src 'self'"
ORIGIN = "http://site.test"


@pytest.fixture
def chromium() -> Any:
    if not Path(CHROMIUM).exists():
        if os.environ.get("IDP_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright (the browser extra) is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()


def serve(context: Any, pages: dict[str, str], posted: list[str]) -> None:
    """Everything from ``ORIGIN`` under the strict CSP, nothing from anywhere else."""
    files = {"/static/django_idp_logout/idp.css": (CSS, "text/css"),
             "/static/django_idp_logout/autosubmit.js": (STATIC / "autosubmit.js",
                                                         "text/javascript")}

    def handle(route: Any) -> None:
        request = route.request
        path = request.url[len(ORIGIN):] if request.url.startswith(ORIGIN) else None
        if path is None:
            route.abort()
        elif request.method == "POST":
            posted.append(f"{path} {request.post_data}")
            route.fulfill(status=200, content_type="text/html", body="<p>posted</p>")
        elif path in files:
            file, kind = files[path]
            route.fulfill(status=200, content_type=kind, body=file.read_bytes())
        else:
            route.fulfill(status=200, content_type="text/html; charset=utf-8",
                          headers={"Content-Security-Policy": CSP}, body=pages[path])

    context.route("**/*", handle)


@pytest.mark.browser
def test_pages_in_chromium_under_a_strict_csp(chromium: Any) -> None:
    pages = {
        "/confirm/": render_to_string("django_idp_logout/logout_confirm.html", {
            "next": "/after/", "cancel_url": "/back/"}),
        "/out/": render_to_string("django_idp_logout/logged_out.html", {
            "next": "/", "provider_name": "Keycloak", "provider_session": "unconfirmed"}),
        "/post/": render_to_string("django_idp_logout/logout_post.html", {
            "action": f"{ORIGIN}/end-session", "params": [("state", "s1")],
            "script_url": "/static/django_idp_logout/autosubmit.js"}),
    }
    posted: list[str] = []
    for scheme in ("light", "dark"):
        context = chromium.new_context(viewport={"width": 360, "height": 640},
                                       color_scheme=scheme)
        violations: list[str] = []
        serve(context, pages, posted)
        page = context.new_page()
        page.on("console", lambda m, seen=violations: seen.append(m.text)
                if "Content Security Policy" in m.text else None)
        page.goto(f"{ORIGIN}/confirm/")
        card = page.locator(".idp-card")
        assert card.evaluate("e => getComputedStyle(e).borderTopLeftRadius") == "12px"
        # Fluid: no sideways scrolling on a small phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == ("rgb(243, 244, 246)" if scheme == "light" else "rgb(15, 17, 21)")
        # Keyboard focus is visible; the cancel link looks like a secondary button.
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.textContent.trim()")
        assert focused == "Sign out"
        assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
        cancel = page.locator("a.idp-cancel")
        assert cancel.evaluate("e => getComputedStyle(e).backgroundColor") == "rgba(0, 0, 0, 0)"
        page.goto(f"{ORIGIN}/out/")
        assert page.locator("[data-provider-session]").get_attribute(
            "data-provider-session") == "unconfirmed"
        # The POST binding still submits itself (the script is external, allowed by 'self').
        page.goto(f"{ORIGIN}/post/")
        page.wait_for_url(f"{ORIGIN}/end-session")
        assert violations == []
        context.close()
    assert posted == ["/end-session state=s1", "/end-session state=s1"]


@pytest.mark.django_db
@pytest.mark.parametrize("static", ["unset", "manifest"])
def test_error_page_never_fails_on_its_stylesheet(client: Client, fake_op: FakeProvider,
                                                  settings: Any, static: str) -> None:
    """No ``STATIC_URL``, or a manifest storage before ``collectstatic``: plain, but a page."""
    if static == "unset":
        settings.STATIC_URL = None
    else:
        settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "django.contrib.staticfiles"]
        settings.STORAGES = {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND":
                            "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}}
        settings.STATIC_ROOT = "/nonexistent-static-root"
        settings.DEBUG = False
    start_login(client)
    response = client.get("/oidc/callback/", {"state": "x", "code": "y"})
    assert response.status_code == 400
    assert "idp.css" not in response.content.decode()
    assert "Reference:" in response.content.decode()
