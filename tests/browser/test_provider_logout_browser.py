"""Front-channel logout in real headless Chromium, with the real provider (oidc-provider).

The site (a Django live server on ``http://127.0.0.1:<port>``) and the provider
(``http://localhost:<port>``) are on **different sites** — different hosts, not just different
ports — so the provider's front-channel iframe is a cross-site request: the browser withholds
the site's ``SameSite=Lax`` session cookie from it (and would withhold any cookie from a browser
blocking third-party cookies). The tests assert that the cookie really did not arrive, from
both sides (the request Chromium sent, and the request the server received), and that the
session ended anyway: the receiver finds it server-side by ``(iss, sid)``.

oidc-provider v8+ no longer implements Front-Channel Logout 1.0; ``tests/op/server.mjs``
emulates what v7 did (a page on the provider's origin that iframes each client's
``frontchannel_logout_uri?iss=…&sid=…`` when the provider's session ends).

Skipped without Chromium/Playwright (failed with ``IDP_REQUIRE_BROWSER=1``) and without Node.js
(failed with ``IDP_REQUIRE_OP=1``), like the other browser and provider tests.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_started

from django_idp_logout.models import OIDCSession
from django_idp_logout.signals import frontchannel_logout

from ..op_server import OpenIDProvider, free_port, node_available
from .test_browser import ARGS, CHROMIUM, _unavailable, shot

pytestmark = [pytest.mark.browser, pytest.mark.op, pytest.mark.django_db(transaction=True)]

CLIENT_ID = "rp-frontchannel"
FRONTCHANNEL_PATH = "/oidc/frontchannel-logout/"
#: No host name but localhost resolves (the web fonts oidc-provider's pages import fail at
#: once): the tests stay offline and bounded in time. Not done with Playwright's request
#: routing, under which Chromium reports a request's headers without its cookies.
OFFLINE = ("--host-resolver-rules=MAP attacker.test 127.0.0.1, MAP * ~NOTFOUND, "
           "EXCLUDE localhost, EXCLUDE 127.0.0.1")
ATTACKER = "http://attacker.test"


@dataclass
class Site:
    url: str
    server: Any


@pytest.fixture(scope="module")
def site_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def provider(site_port: int) -> Iterator[OpenIDProvider]:
    reason = node_available()
    if reason:
        if os.environ.get("IDP_REQUIRE_OP") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    site = f"http://127.0.0.1:{site_port}"
    client = {
        "client_id": CLIENT_ID,
        "client_secret": "rp-frontchannel-secret-0123456789abcdef0123",
        "redirect_uris": [f"{site}/oidc/callback/"],
        "post_logout_redirect_uris": [f"{site}/oidc/logout/complete/"],
        "token_endpoint_auth_method": "client_secret_basic",
        # No back-channel URI: only the front channel can end the site's session.
        "frontchannel_logout_uri": f"{site}{FRONTCHANNEL_PATH}",
        "frontchannel_logout_session_required": True,
    }
    with OpenIDProvider(clients=[client]) as op:
        assert urlsplit(op.issuer).hostname == "localhost"  # another site than 127.0.0.1
        yield op


class ProjectOnly(WSGIHandler):
    """``LiveServerThread``'s static-files wrapper without the files: just the project (the
    tests' settings have no ``STATIC_URL``, which Django's wrapper needs)."""

    def __init__(self, media_handler: Any) -> None:
        super().__init__()


@pytest.fixture(scope="module")
def site(site_port: int, django_db_setup: Any, django_db_blocker: Any) -> Iterator[Site]:
    """The test project served over real HTTP on 127.0.0.1: Django's ``LiveServerThread``
    (pytest-django's ``live_server`` would listen on ``localhost``, the provider's site),
    serving the project only (the tests' settings have no static or media files)."""
    from django.db import connections
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.backends.sqlite3.base import DatabaseWrapper as SQLite
    from django.test.testcases import LiveServerThread

    with django_db_blocker.unblock():
        # An in-memory SQLite database is shared with the server thread, as Django does.
        shared: dict[str, BaseDatabaseWrapper] = {
            c.alias: c for c in connections.all() if isinstance(c, SQLite) and c.is_in_memory_db()}
        for connection in shared.values():
            connection.inc_thread_sharing()
        thread = LiveServerThread("127.0.0.1", ProjectOnly, connections_override=shared,
                                  port=site_port)
        thread.daemon = True
        thread.start()
        assert thread.is_ready.wait(timeout=10), "the live server did not start"
        try:
            if thread.error:
                raise thread.error
            yield Site(f"http://127.0.0.1:{thread.port}", thread)
        finally:
            thread.terminate()
            for connection in shared.values():
                connection.dec_thread_sharing()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    reason = _unavailable()
    if reason:
        if os.environ.get("IDP_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio event loop running in this thread, which Django
    # takes for an async context; the tests' own ORM calls are synchronous (Django's
    # documented switch for such environments).
    with pytest.MonkeyPatch.context() as mp, sync_playwright() as p:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[*ARGS, OFFLINE])
        yield browser
        browser.close()


@pytest.fixture
def context(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1000, "height": 700})
    context.set_default_timeout(10_000)
    yield context
    context.close()


class Attacker(ThreadingHTTPServer):
    body = ""

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class AttackerPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = self.server.body.encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def attacker() -> Iterator[Attacker]:
    server = Attacker(("127.0.0.1", 0), AttackerPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@dataclass
class Received:
    path: str
    query: dict[str, list[str]]
    cookie: str
    sec_fetch_site: str | None
    sec_fetch_dest: str | None


class ServerLog:
    """What the site's server received (Django's ``request_started``, in the server thread)
    and what the ``frontchannel_logout`` signal reported."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[Received] = []
        self.logouts: list[dict[str, Any]] = []

    def on_request(self, sender: Any, environ: dict[str, Any], **kwargs: Any) -> None:
        with self.lock:
            self.requests.append(Received(
                environ.get("PATH_INFO", ""), parse_qs(environ.get("QUERY_STRING", "")),
                environ.get("HTTP_COOKIE", ""), environ.get("HTTP_SEC_FETCH_SITE"),
                environ.get("HTTP_SEC_FETCH_DEST")))

    def on_logout(self, sender: Any, **kwargs: Any) -> None:
        with self.lock:
            self.logouts.append(kwargs)

    def received(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path]


@pytest.fixture
def server_log() -> Iterator[ServerLog]:
    log = ServerLog()
    request_started.connect(log.on_request, weak=False, dispatch_uid="browser-fc-requests")
    frontchannel_logout.connect(log.on_logout, weak=False, dispatch_uid="browser-fc-logouts")
    yield log
    request_started.disconnect(dispatch_uid="browser-fc-requests")
    frontchannel_logout.disconnect(dispatch_uid="browser-fc-logouts")


@pytest.fixture
def configured(settings: Any, provider: OpenIDProvider, site: Site) -> OpenIDProvider:
    settings.IDP_LOGOUT = provider.settings_for(CLIENT_ID, POST_LOGOUT_REDIRECT_URL="/home/")
    return provider


def sign_in(page: Any, site: Site, op: OpenIDProvider, login: str = "fiona") -> str:
    """Through the provider's real sign-in and consent forms, in the browser; returns what
    the site's home page says."""
    page.goto(f"{site.url}/oidc/login/?next=/home/")
    page.wait_for_url(f"{op.issuer}/interaction/**")
    page.fill('input[name="login"]', login)
    page.fill('input[name="password"]', "any")
    page.click('button[type="submit"]')
    page.wait_for_selector('input[name="prompt"][value="consent"]', state="attached")
    page.click('button[type="submit"]')
    page.wait_for_url(f"{site.url}/home/")
    home = str(page.inner_text("body"))
    assert home.startswith("home "), home
    assert home != "home anonymous"
    return home


def session_cookie(context: Any, site: Site) -> dict[str, Any]:
    cookies = {c["name"]: c for c in context.cookies(site.url)}
    assert "sessionid" in cookies, cookies
    return dict(cookies["sessionid"])


def test_provider_logout_ends_the_session_without_the_cookie(
        context: Any, site: Site, configured: OpenIDProvider, server_log: ServerLog) -> None:
    op = configured
    page = context.new_page()
    home = sign_in(page, site, op)
    (mapping,) = OIDCSession.objects.filter(issuer=op.issuer)
    assert mapping.sid
    cookie = session_cookie(context, site)
    assert cookie["sameSite"] == "Lax"  # Django's default: never sent in a cross-site iframe
    # The browser holds the cookie and sends it on the site's own pages.
    page.goto(f"{site.url}/home/")
    assert page.inner_text("body") == home
    assert f"sessionid={cookie['value']}" in server_log.received("/home/")[-1].cookie

    # The user signs out at the provider itself (not at the site).
    page.goto(f"{op.issuer}/session/end")
    shot(page, "frontchannel-provider-sign-out")
    with page.expect_response(lambda r: FRONTCHANNEL_PATH in r.url) as frontchannel:
        page.click('button[name="logout"][value="yes"]')
    response = frontchannel.value
    request = response.request
    page.wait_for_url(f"{op.issuer}/session/end/success**")
    shot(page, "frontchannel-provider-signed-out")

    # The provider loaded the site's front-channel URI in an iframe of its own page, with the
    # session's iss and sid, ...
    assert request.frame.parent_frame is not None
    query = parse_qs(urlsplit(request.url).query)
    assert query == {"iss": [op.issuer], "sid": [mapping.sid]}
    assert response.status == 200
    # ... cross-site, and Chromium did not send the site's cookie with it (what it sent) ...
    sent = request.all_headers()
    assert sent.get("referer") == f"{op.issuer}/"  # from a page of the provider's origin
    assert sent.get("sec-fetch-site") == "cross-site"
    assert sent.get("sec-fetch-dest") == "iframe"
    assert "sessionid" not in sent.get("cookie", "")
    # ... (what the site received) ...
    (received,) = server_log.received(FRONTCHANNEL_PATH)
    assert received.query == query
    assert received.sec_fetch_site == "cross-site"
    assert received.sec_fetch_dest == "iframe"
    assert "sessionid" not in received.cookie
    # ... and the site still ended the session, found by (iss, sid) on the server.
    (event,) = server_log.logouts
    assert (event["issuer"], event["sid"], event["sessions"]) == (op.issuer, mapping.sid, 1)
    assert event["user"] is None  # not through a cookie: there was none
    assert not OIDCSession.objects.filter(issuer=op.issuer).exists()

    # The next top-level visit (which does send the old cookie) is anonymous.
    page.goto(f"{site.url}/home/")
    assert page.inner_text("body") == "home anonymous"
    assert f"sessionid={cookie['value']}" in server_log.received("/home/")[-1].cookie
    shot(page, "frontchannel-site-signed-out")


def test_frontchannel_from_another_site_with_a_wrong_sid_changes_nothing(
        context: Any, site: Site, configured: OpenIDProvider, server_log: ServerLog,
        attacker: Attacker) -> None:
    """A page on another site (``http://attacker.test:<port>``, served on 127.0.0.1: Chromium
    resolves the name there) iframes the receiver with the provider's ``iss`` and a wrong
    ``sid``, or none. The requests reach the site — cookie-less, like the provider's — and
    nothing ends. (Chromium then refuses to show the answers: ``frame-ancestors`` names only
    the provider.)"""
    op = configured
    page = context.new_page()
    home = sign_in(page, site, op)
    (mapping,) = OIDCSession.objects.filter(issuer=op.issuer)
    forged = [{"iss": op.issuer, "sid": "not-" + mapping.sid}, {"iss": op.issuer}]
    attacker.body = "<!DOCTYPE html><body>" + "".join(
        f'<iframe src="{site.url}{FRONTCHANNEL_PATH}?{urlencode(q)}"></iframe>' for q in forged)

    with page.expect_response(lambda r: FRONTCHANNEL_PATH in r.url and "sid=" in r.url) as a, \
            page.expect_response(lambda r: FRONTCHANNEL_PATH in r.url
                                 and "sid=" not in r.url) as b:
        page.goto(f"{ATTACKER}:{attacker.port}/")
    assert a.value.status == b.value.status == 200
    for response in (a.value, b.value):
        sent = response.request.all_headers()
        assert sent.get("sec-fetch-site") == "cross-site"
        assert "sessionid" not in sent.get("cookie", "")
    shot(page, "frontchannel-forged-by-another-site")

    received = server_log.received(FRONTCHANNEL_PATH)
    assert sorted(r.query.get("sid", [""])[0] for r in received) == ["", "not-" + mapping.sid]
    assert all("sessionid" not in r.cookie for r in received)
    assert server_log.logouts == []
    assert OIDCSession.objects.filter(issuer=op.issuer, sid=mapping.sid).exists()
    page.goto(f"{site.url}/home/")
    assert page.inner_text("body") == home


def test_provider_logout_of_another_browser_leaves_this_one_signed_in(
        chromium: Any, context: Any, site: Site, configured: OpenIDProvider,
        server_log: ServerLog) -> None:
    """The same user in two browsers: two provider sessions, two ``sid``. Signing out at the
    provider in one of them sends its ``sid`` (from the provider's origin): the other
    browser's session, whose ``sid`` it is not, stays."""
    op = configured
    this = context.new_page()
    home = sign_in(this, site, op)
    other_context = chromium.new_context()
    try:
        other_context.set_default_timeout(10_000)
        other = other_context.new_page()
        assert sign_in(other, site, op) == home  # the same user
        sids = {m.session_key: m.sid for m in OIDCSession.objects.filter(issuer=op.issuer)}
        assert len(set(sids.values())) == 2
        other_key = session_cookie(other_context, site)["value"]

        other.goto(f"{op.issuer}/session/end")
        with other.expect_response(lambda r: FRONTCHANNEL_PATH in r.url) as frontchannel:
            other.click('button[name="logout"][value="yes"]')
        assert frontchannel.value.status == 200
        other.wait_for_url(f"{op.issuer}/session/end/success**")
        other.goto(f"{site.url}/home/")
        assert other.inner_text("body") == "home anonymous"
    finally:
        other_context.close()

    (event,) = server_log.logouts
    assert (event["sid"], event["sessions"]) == (sids[other_key], 1)
    (left,) = OIDCSession.objects.filter(issuer=op.issuer)
    assert left.sid != sids[other_key]
    this.goto(f"{site.url}/home/")
    assert this.inner_text("body") == home
