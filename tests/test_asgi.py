"""Sync and async: ``IdPSessionMiddleware`` in both modes, and the whole site under ASGI.

The unit tests drive the middleware the way Django's ASGI handler does (``AsyncClient``, or
the middleware alone around an async ``get_response``) and check that everything that may
block — the session store, the revocation lookup, the mapping UPDATE after a key cycle — runs
in a worker thread, never on the event loop. The end-to-end tests serve ``tests/urls.py`` with
uvicorn on 127.0.0.1 and do the sign-in / sign-out round trip against a real OpenID Provider,
and a back-channel logout.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from asgiref.sync import async_to_sync, iscoroutinefunction, sync_to_async
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, AsyncRequestFactory, Client, RequestFactory

from django_idp_logout import session as idp_session
from django_idp_logout import session_end
from django_idp_logout.middleware import IdPSessionMiddleware
from django_idp_logout.models import OIDCSession

from .conftest import FakeProvider, op_required
from .op_server import Browser, OpenIDProvider, free_port, node_available, stop_process
from .test_provider_logout import logout_claims, post_token, sign_in

ROOT = Path(__file__).resolve().parent.parent


# --- the middleware in both modes -------------------------------------------------------------


def test_sync_handler_makes_a_sync_middleware() -> None:
    middleware = IdPSessionMiddleware(lambda request: HttpResponse("ok"))
    assert IdPSessionMiddleware.sync_capable
    assert IdPSessionMiddleware.async_capable
    assert not iscoroutinefunction(middleware)
    request = RequestFactory().get("/")
    request.session = SessionStore()
    response = middleware(request)
    assert isinstance(response, HttpResponse)
    assert not request.idp_session  # type: ignore[attr-defined]


def test_async_handler_makes_a_coroutine_middleware() -> None:
    async def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")

    middleware = IdPSessionMiddleware(view)
    # What Django's handler (and any MiddlewareMixin above it) checks to stay async.
    assert iscoroutinefunction(middleware)
    request = AsyncRequestFactory().get("/")
    request.session = SessionStore()

    async def call() -> Any:
        result = middleware(request)
        assert asyncio.iscoroutine(result)
        return await result

    assert async_to_sync(call)().content == b"ok"


@pytest.mark.parametrize(("handler", "async_mode"), [("asgi", True), ("wsgi", False)])
def test_django_handlers_pick_the_mode(monkeypatch: pytest.MonkeyPatch, handler: str,
                                       async_mode: bool) -> None:
    """Django's ASGI handler (what uvicorn runs) gets the async middleware, WSGI the sync one."""
    from django.core.handlers.asgi import ASGIHandler
    from django.core.handlers.wsgi import WSGIHandler

    made: list[IdPSessionMiddleware] = []
    init = IdPSessionMiddleware.__init__

    def spy(self: IdPSessionMiddleware, get_response: Any) -> None:
        init(self, get_response)
        made.append(self)

    monkeypatch.setattr(IdPSessionMiddleware, "__init__", spy)
    ASGIHandler() if handler == "asgi" else WSGIHandler()
    assert [m.async_mode for m in made] == [async_mode]
    assert iscoroutinefunction(made[0]) is async_mode


@pytest.fixture
def acalls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paths of the requests that went through the middleware's async path."""
    paths: list[str] = []
    acall = IdPSessionMiddleware.__acall__

    async def spy(self: IdPSessionMiddleware, request: HttpRequest) -> Any:
        paths.append(request.path)
        return await acall(self, request)

    monkeypatch.setattr(IdPSessionMiddleware, "__acall__", spy)
    return paths


def off_the_loop(monkeypatch: pytest.MonkeyPatch, name: str, module: Any = idp_session
                 ) -> list[bool]:
    """Spy on ``<module>.<name>`` (``session`` by default): one entry per call, ``True`` when
    it ran off the event loop."""
    original: Callable[..., Any] = getattr(module, name)
    calls: list[bool] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
            calls.append(False)  # called on the event loop's thread: it would block it
        except RuntimeError:
            calls.append(True)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return calls


def async_client(client: Client) -> AsyncClient:
    """An ``AsyncClient`` (Django's ASGI handler, middleware chain async) with the same cookies."""
    other = AsyncClient()
    other.cookies = client.cookies
    return other


def get(client: AsyncClient, path: str) -> Any:
    async def request() -> Any:
        return await client.get(path)

    return async_to_sync(request)()


@pytest.mark.django_db
def test_key_cycle_is_followed_off_the_event_loop(fake_op: FakeProvider, acalls: list[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    client = sign_in(fake_op)
    calls = off_the_loop(monkeypatch, "follow_key_cycle")
    browser = async_client(client)
    response = get(browser, "/cycle/")
    assert response.status_code == 200
    assert acalls == ["/cycle/"]
    assert calls == [True]
    key = browser.cookies["sessionid"].value
    assert OIDCSession.objects.get().session_key == key  # the UPDATE ran, in the worker thread
    assert get(browser, "/home/").content.startswith(b"home ")
    assert get(browser, "/home/").content != b"home anonymous"


@pytest.mark.django_db
def test_revoked_cookie_session_ends_off_the_event_loop(fake_op: FakeProvider, settings: Any,
                                                        acalls: list[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    browser = async_client(sign_in(fake_op))
    lookups = off_the_loop(monkeypatch, "is_revoked", session_end)
    loads = off_the_loop(monkeypatch, "load")
    assert get(browser, "/home/").content != b"home anonymous"
    assert lookups == [True]
    assert loads == [True]
    assert post_token(fake_op.sign(logout_claims())).status_code == 200
    assert get(browser, "/home/").content == b"home anonymous"
    assert lookups == [True, True]
    assert acalls == ["/home/", "/home/"]


@pytest.mark.django_db
def test_idp_session_stays_lazy_in_async_mode(fake_op: FakeProvider,
                                              django_assert_num_queries: Any) -> None:
    session_key = sign_in(fake_op).cookies["sessionid"].value
    read: list[str] = []

    async def untouched(request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")

    async def reads_it(request: HttpRequest) -> HttpResponse:
        # Like request.user in an async view: read it in a thread (it may load the session).
        read.append(await sync_to_async(lambda: request.idp_session.subject)())
        return HttpResponse("ok")

    for view, queries in ((untouched, 0), (reads_it, 1)):  # 1: the session itself, on demand
        request = AsyncRequestFactory().get("/")
        request.session = SessionStore(session_key)
        request.user = AnonymousUser()
        with django_assert_num_queries(queries):
            async_to_sync(IdPSessionMiddleware(view))(request)
    assert read == ["user-1"]


@pytest.mark.django_db
def test_session_lifetimes_and_renewal_under_asgi(fake_op: FakeProvider, settings: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """``process_view`` (the lifetime rules) and ``process_exception`` run off the event
    loop under ASGI: an idle session ends with the redirect, a view whose token cannot be had
    gets the 401 JSON answer."""
    from django_idp_logout.flow import lifecycle

    checks: list[bool] = []
    original = lifecycle.check

    def spy(*args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
            checks.append(False)
        except RuntimeError:
            checks.append(True)
        return original(*args, **kwargs)

    monkeypatch.setattr(lifecycle, "check", spy)
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "SESSION_IDLE_TIMEOUT": 900}
    browser = async_client(sign_in(fake_op))
    assert get(browser, "/token/").content.startswith(b"token ")

    async def xhr() -> Any:
        return await browser.get("/token/", headers={"Accept": "application/json"})

    OIDCSession.objects.update(tokens="")  # no token to be had any more
    session = SessionStore(browser.cookies["sessionid"].value)
    data = session[idp_session.SESSION_KEY]
    session[idp_session.SESSION_KEY] = {**data, "access_token": None}
    session.save()
    response = async_to_sync(xhr)()
    assert (response.status_code, response.json()["reason"]) == (401, "no_refresh_token")
    session = SessionStore(browser.cookies["sessionid"].value)
    data = session[idp_session.SESSION_KEY]
    session[idp_session.SESSION_KEY] = {**data, "seen_at": data["seen_at"] - 901}
    session.save()
    ended = get(browser, "/home/")
    assert ended.status_code == 302
    assert "reason=idle_timeout" in ended["Location"]
    assert get(browser, "/home/").content == b"home anonymous"
    assert checks
    assert all(checks)


# --- the whole site under uvicorn ---------------------------------------------------------------


ENGINES = ("db", "signed_cookies")


class Site:
    """The test site (``tests/urls.py``) served by uvicorn on 127.0.0.1, one process per engine,
    each with its own migrated SQLite file."""

    def __init__(self, engine: str, port: int, directory: Path) -> None:
        self.engine = engine
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self.database = directory / f"{engine}.sqlite3"
        self.log = directory / f"{engine}.log"
        self.client_id = f"rp-asgi-{engine}"
        self.client_secret = f"{self.client_id}-secret-0123456789abcdef0123456789"
        self.issuer = ""
        self.process: subprocess.Popen[bytes] | None = None

    def client(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uris": [f"{self.url}/oidc/callback/"],
            "post_logout_redirect_uris": [f"{self.url}/oidc/logout/complete/"],
            "backchannel_logout_uri": f"{self.url}/oidc/backchannel-logout/",
            "backchannel_logout_session_required": True,
        }

    def start(self, issuer: str) -> Site:
        self.issuer = issuer
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.asgi_settings",
            "PYTHONPATH": str(ROOT),
            "IDP_TEST_SQLITE": str(self.database),
            "ASGI_SESSION_ENGINE": self.engine,
            "ASGI_ISSUER": issuer,
            "ASGI_CLIENT_ID": self.client_id,
            "ASGI_CLIENT_SECRET": self.client_secret,
        }
        subprocess.run([sys.executable, "-m", "django", "migrate", "--noinput"], env=env,
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL, timeout=120)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "tests.asgi:application",
                 "--host", "127.0.0.1", "--port", str(self.port), "--lifespan", "off",
                 "--log-level", "warning", "--no-access-log"],
                env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited early:\n{self.log.read_text()}")
            try:
                requests.get(f"{self.url}/home/", timeout=1)
                return self
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"uvicorn did not start:\n{self.log.read_text()}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def mappings(self) -> int:
        """Rows of the back-channel session mapping in this server's database."""
        with sqlite3.connect(self.database) as conn:
            (count,) = conn.execute(
                "SELECT count(*) FROM django_idp_logout_oidcsession").fetchone()
        return int(count)


@pytest.fixture(scope="module")
def asgi_sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Site]]:
    reason = node_available()
    if reason is None and importlib.util.find_spec("uvicorn") is None:
        reason = "uvicorn is not installed (the test extra)"
    if reason:
        if op_required():
            pytest.fail(reason)
        pytest.skip(reason)
    directory = tmp_path_factory.mktemp("asgi")
    sites = {engine: Site(engine, free_port(), directory) for engine in ENGINES}
    # Back-channel logout reaches the sites on 127.0.0.1, which oidc-provider refuses by default.
    with OpenIDProvider(clients=[site.client() for site in sites.values()],
                        allow_loopback_fetch=True) as provider:
        try:
            for site in sites.values():
                site.start(provider.issuer)
            yield sites
        finally:
            for site in sites.values():
                site.stop()


@pytest.fixture(params=ENGINES)
def site(request: pytest.FixtureRequest, asgi_sites: dict[str, Site]) -> Site:
    return asgi_sites[str(request.param)]


def whoami(browser: Browser, site: Site) -> str:
    return browser.op.get(f"{site.url}/home/", timeout=5).text


def sign_in_over_asgi(site: Site, login: str) -> Browser:
    browser = Browser(rp_origin=site.url)
    page = browser.go(f"{site.url}/oidc/login/?next=/home/%3Fasgi", login=login)
    assert page.url == f"{site.url}/home/?asgi", (page.url, page.status, page.text[:500])
    assert page.text.startswith("home oidc-")
    return browser


@pytest.mark.op
def test_sign_in_and_sign_out_round_trip_under_uvicorn(site: Site) -> None:
    browser = sign_in_over_asgi(site, "uma")
    assert whoami(browser, site).startswith("home oidc-")
    mappings = site.mappings()

    confirm = browser.op.get(f"{site.url}/oidc/logout/", timeout=5)  # sets the CSRF cookie
    assert confirm.status_code == 200
    assert 'method="post"' in confirm.text
    token = next(c.value for c in browser.op.cookies if c.name == "csrftoken")
    page = browser.go(f"{site.url}/oidc/logout/", "POST",
                      {"csrfmiddlewaretoken": token, "next": "/home/?bye"})
    assert page.url == f"{site.url}/home/?bye"
    assert page.text == "home anonymous"
    # Through the provider's end-session endpoint and back to logout/complete/ with its state.
    end = next(p for p in browser.history if urlsplit(p.url).path == "/session/end")
    query = parse_qs(urlsplit(end.url).query)
    assert query["client_id"] == [site.client_id]
    assert query["post_logout_redirect_uri"] == [f"{site.url}/oidc/logout/complete/"]
    back = next(p for p in browser.history if "/oidc/logout/complete/" in p.url)
    assert parse_qs(urlsplit(back.url).query)["state"] == query["state"]
    assert whoami(browser, site) == "home anonymous"
    assert site.mappings() == mappings - 1
    # The provider's session ended too: signing in again asks for credentials.
    browser.history.clear()
    browser.go(f"{site.url}/oidc/login/", login="uma")
    assert any('name="login"' in p.text for p in browser.history if "interaction" in p.url)


@pytest.mark.op
def test_backchannel_logout_under_uvicorn(site: Site) -> None:
    """The user signs out at the provider; its logout token reaches the site over ASGI, and
    the next request is anonymous (for signed cookies: the async middleware's revocation
    check)."""
    browser = sign_in_over_asgi(site, "vera")
    other = sign_in_over_asgi(site, "walt")
    mappings = site.mappings()
    page = browser.go(f"{site.issuer}/session/end")
    assert "Sign-out Success" in page.text
    assert whoami(browser, site) == "home anonymous"
    assert whoami(other, site).startswith("home oidc-")
    assert site.mappings() == mappings - 1
