"""Real deployments: two server processes sharing PostgreSQL and Redis, a real provider that
sends back-channel logout, and each session engine that needs it.

The user signs in through server A; the provider's back-channel logout arrives at server B;
the user's next request to A is anonymous. Needs PostgreSQL (127.0.0.1:5432, trust auth) and
Redis (127.0.0.1:6379): skipped with a message without them, mandatory in CI
(``IDP_REQUIRE_SERVICES=1``).

The ``locmem`` deployment runs both processes on Django's default cache, ``LocMemCache`` (one
per process): single use and the logout state must still hold across them, through the
database (``django_idp_logout.store``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from .op_server import Browser, OpenIDProvider, Page, free_port, node_available

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parent.parent


def _services_missing() -> str | None:
    for module in ("psycopg", "redis", "gunicorn"):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed (the services extra)"
    for name, port in (("PostgreSQL", 5432), ("Redis", 6379)):
        with socket.socket() as sock:
            sock.settimeout(1)
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return f"{name} is not answering on 127.0.0.1:{port}"
    return node_available()


@pytest.fixture(scope="module")
def services() -> None:
    reason = _services_missing()
    if reason:
        if os.environ.get("IDP_REQUIRE_SERVICES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def database(services: None) -> Iterator[str]:
    import psycopg

    name = f"idp_logout_mp_{uuid.uuid4().hex[:10]}"
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres",
                         autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres",
                         autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Recorder:
    """Forwards the provider's back-channel POSTs to server B and keeps a copy of each token
    (so a test can replay one). Bound to 127.0.0.1, one thread, stopped with the deployment."""

    def __init__(self, target: str) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qs

        self.tokens: list[str] = []
        self.statuses: list[int] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                recorder.tokens += parse_qs(body.decode()).get("logout_token", [])
                upstream = requests.post(target, data=body, timeout=5, headers={
                    "Content-Type": self.headers.get("Content-Type", "")})
                recorder.statuses.append(upstream.status_code)
                self.send_response(upstream.status_code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class TokenCounter:
    """The provider's token endpoint as the servers see it: counts the requests, holds each
    one ``delay`` seconds (so concurrent sign-ins really overlap), forwards it."""

    def __init__(self, target: str, delay: float = 0.5) -> None:
        self.hits = 0
        self.lock = threading.Lock()
        counter = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                with counter.lock:
                    counter.hits += 1
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(delay)
                headers = {name: self.headers[name] for name in ("Content-Type", "Authorization")
                           if self.headers.get(name)}
                upstream = requests.post(target, data=body, headers=headers, timeout=10)
                self.send_response(upstream.status_code)
                self.send_header("Content-Type", upstream.headers.get("Content-Type", ""))
                self.send_header("Content-Length", str(len(upstream.content)))
                self.end_headers()
                self.wfile.write(upstream.content)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Deployment:
    def __init__(self, engine: str, database: str, cache: str = "redis", *,
                 op_env: dict[str, str] | None = None, threads: int = 1,
                 env: dict[str, str] | None = None) -> None:
        self.port_a, self.port_b = free_port(), free_port()
        self.a = f"http://127.0.0.1:{self.port_a}"
        self.b = f"http://127.0.0.1:{self.port_b}"
        self.recorder = Recorder(f"{self.b}/oidc/backchannel-logout/")
        self.op = OpenIDProvider(allow_loopback_fetch=True, clients=[{
            "client_id": "rp-multi",
            "client_secret": "rp-multi-secret-0123456789abcdef0123456789",
            "redirect_uris": [f"{self.a}/oidc/callback/"],
            "post_logout_redirect_uris": [f"{self.a}/oidc/logout/complete/"],
            # The provider tells server B; the user only ever talked to server A.
            "backchannel_logout_uri": self.recorder.url,
            "backchannel_logout_session_required": True,
            "grant_types": ["authorization_code", "refresh_token"],
        }], env=op_env)
        self.threads = threads
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.multiproc.settings",
            "PYTHONPATH": str(ROOT),
            "MP_DB_NAME": database,
            "MP_CACHE_PREFIX": f"mp-{uuid.uuid4().hex[:8]}",
            "MP_SESSION_ENGINE": engine,
            "MP_ISSUER": self.op.issuer,
            "MP_CLIENT_ID": "rp-multi",
            "MP_CLIENT_SECRET": "rp-multi-secret-0123456789abcdef0123456789",
            **(env or {}),
        }
        self.token_counter: TokenCounter | None = None
        if cache == "locmem":
            # oidc-provider's token endpoint is {issuer}/token.
            self.token_counter = TokenCounter(f"{self.op.issuer}/token")
            self.env.update({"MP_CACHE": "locmem", "MP_TOKEN_ENDPOINT": self.token_counter.url,
                             # B must send the same redirect_uri as A to redeem A's code.
                             "MP_REDIRECT_URI": f"{self.a}/oidc/callback/"})
        self.servers: list[subprocess.Popen[bytes]] = []

    def start(self) -> Deployment:
        self.op.start()
        subprocess.run([sys.executable, "-m", "django", "migrate", "--noinput"], env=self.env,
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL, timeout=120)
        for port in (self.port_a, self.port_b):
            self.servers.append(subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "tests.multiproc.wsgi", "-w", "1",
                 "--threads", str(self.threads),
                 "-b", f"127.0.0.1:{port}", "--timeout", "30", "--log-level", "warning"],
                env=self.env, cwd=ROOT))
        deadline = time.monotonic() + 30
        for url in (self.a, self.b):
            while True:
                try:
                    requests.get(f"{url}/home/", timeout=1)
                    break
                except requests.ConnectionError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{url} did not start") from None
                    time.sleep(0.1)
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.terminate()
        for server in self.servers:
            server.wait(timeout=10)
        self.op.stop()
        self.recorder.stop()
        if self.token_counter:
            self.token_counter.stop()


@pytest.fixture(params=["db", "cache", "signed_cookies"])
def deployment(request: pytest.FixtureRequest, database: str) -> Iterator[Deployment]:
    running = Deployment(str(request.param), database).start()
    yield running
    running.stop()


@pytest.fixture
def db_deployment(database: str) -> Iterator[Deployment]:
    running = Deployment("db", database).start()
    yield running
    running.stop()


def whoami(session: requests.Session, base: str) -> str:
    return session.get(f"{base}/home/", timeout=5).text


def test_backchannel_logout_received_by_one_process_ends_session_on_the_other(
    deployment: Deployment,
) -> None:
    browser = Browser(rp_origin=deployment.a)
    page = browser.go(f"{deployment.a}/oidc/login/?next=/home/", login="mia")
    assert page.url == f"{deployment.a}/home/"
    assert page.text.startswith("home oidc-")
    # Both processes see the signed-in session (shared store or the same signed cookie).
    assert whoami(browser.op, deployment.a).startswith("home oidc-")
    assert whoami(browser.op, deployment.b).startswith("home oidc-")

    # The user signs out at the provider itself (not through the site): the provider sends
    # the logout token to server B.
    page = browser.go(f"{deployment.op.issuer}/session/end")
    assert "Sign-out Success" in page.text
    assert deployment.recorder.statuses == [200]

    assert whoami(browser.op, deployment.a) == "home anonymous"
    assert whoami(browser.op, deployment.b) == "home anonymous"


def test_replayed_logout_token_is_rejected_across_processes(db_deployment: Deployment) -> None:
    """jti replay protection lives in Redis: a token B accepted is refused by A."""
    deployment = db_deployment
    browser = Browser(rp_origin=deployment.a)
    browser.go(f"{deployment.a}/oidc/login/?next=/home/", login="noah")
    browser.go(f"{deployment.op.issuer}/session/end")
    assert len(deployment.recorder.tokens) == 1
    assert deployment.recorder.statuses == [200]
    replay = requests.post(f"{deployment.a}/oidc/backchannel-logout/",
                           data={"logout_token": deployment.recorder.tokens[0]}, timeout=5)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_request"


# --- Django's default cache (LocMemCache, one per process) -----------------------------------


@pytest.fixture(scope="module")
def locmem_deployment(database: str) -> Iterator[Deployment]:
    """Two processes, sessions in PostgreSQL, each with its own LocMemCache (shared by the
    tests below, which use distinct users and count in deltas)."""
    running = Deployment("db", database, cache="locmem").start()
    yield running
    running.stop()


class StoppingBrowser(Browser):
    """Stops, without requesting it, at the first URL that starts with ``stop_at``: the test
    then decides which server receives it, and when."""

    stop_at: str | None = None

    def _request(self, method: str, url: str, data: dict[str, str] | None = None) -> Page:
        if self.stop_at and url.startswith(self.stop_at):
            page = Page(url, 0, "")
            self.history.append(page)
            return page
        return super()._request(method, url, data)


def _cookie(session: requests.Session, name: str) -> str:
    return next(c.value for c in session.cookies if c.name == name and c.value is not None)


def _count_sessions(database: str, subject: str) -> int:
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={database}") as conn:
        row = conn.execute("SELECT count(*) FROM django_idp_logout_oidcsession WHERE subject = %s",
                           (subject,)).fetchone()
    return int(row[0]) if row else 0


def test_same_callback_on_two_locmem_processes_exchanges_the_code_once(
    locmem_deployment: Deployment, database: str,
) -> None:
    """The same callback (state, code, session cookie) reaches A and B at the same moment:
    exactly one token request, one sign-in, and the other request gets the "sign in again"
    page. With the claim in each process's LocMemCache both would redeem the code."""
    deployment = locmem_deployment
    assert deployment.token_counter is not None
    hits_before = deployment.token_counter.hits
    browser = StoppingBrowser(rp_origin=deployment.a)
    browser.stop_at = f"{deployment.a}/oidc/callback/"
    page = browser.go(f"{deployment.a}/oidc/login/?next=/home/%3Fwelcome", login="ella")
    assert page.url.startswith(browser.stop_at), page.url
    query = urlsplit(page.url).query
    session_cookie = _cookie(browser.op, "sessionid")

    barrier = threading.Barrier(2)
    responses: dict[str, requests.Response] = {}

    def deliver(base: str) -> None:
        barrier.wait(timeout=10)
        responses[base] = requests.get(f"{base}/oidc/callback/?{query}", timeout=20,
                                       cookies={"sessionid": session_cookie},
                                       allow_redirects=False)

    threads = [threading.Thread(target=deliver, args=(base,))
               for base in (deployment.a, deployment.b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert deployment.token_counter.hits - hits_before == 1
    statuses = sorted(r.status_code for r in responses.values())
    assert statuses == [302, 400], statuses
    winner = next(r for r in responses.values() if r.status_code == 302)
    loser = next(r for r in responses.values() if r.status_code == 400)
    assert winner.headers["Location"] == "/home/?welcome"
    assert "sessionid" not in loser.cookies  # the failure did not touch the session
    assert _count_sessions(database, "ella") == 1

    signed_in = requests.Session()
    signed_in.cookies.set("sessionid", winner.cookies["sessionid"])
    assert whoami(signed_in, deployment.a).startswith("home oidc-")
    assert whoami(signed_in, deployment.b) == whoami(signed_in, deployment.a)


def test_logout_state_made_on_one_locmem_process_is_honoured_by_the_other(
    locmem_deployment: Deployment,
) -> None:
    """Logout on A; the provider's return lands on B, which knows the state (and the
    ``next`` chosen at logout); replaying that return, on either server, is refused."""
    deployment = locmem_deployment
    browser = StoppingBrowser(rp_origin=deployment.a)
    page = browser.go(f"{deployment.a}/oidc/login/?next=/home/", login="liam")
    assert page.url == f"{deployment.a}/home/"
    browser.op.get(f"{deployment.a}/oidc/logout/", timeout=5)  # confirm page: CSRF cookie
    browser.stop_at = f"{deployment.a}/oidc/logout/complete/"
    page = browser.go(f"{deployment.a}/oidc/logout/", "POST", {
        "csrfmiddlewaretoken": _cookie(browser.op, "csrftoken"), "next": "/home/?bye"})
    assert page.url.startswith(browser.stop_at), page.url
    query = urlsplit(page.url).query
    assert "state=" in query
    assert whoami(browser.op, deployment.a) == "home anonymous"

    returned = requests.get(f"{deployment.b}/oidc/logout/complete/?{query}", timeout=5,
                            allow_redirects=False)
    assert returned.status_code == 302
    assert returned.headers["Location"] == "/home/?bye"
    for base in (deployment.b, deployment.a):
        replay = requests.get(f"{base}/oidc/logout/complete/?{query}", timeout=5,
                              allow_redirects=False)
        assert replay.status_code == 302
        assert replay.headers["Location"] == "/"  # POST_LOGOUT_REDIRECT_URL, not next


def test_replayed_logout_token_is_rejected_across_locmem_processes(
    locmem_deployment: Deployment,
) -> None:
    """jti single use through the database: a token B accepted is refused by A."""
    deployment = locmem_deployment
    tokens_before = len(deployment.recorder.tokens)
    browser = Browser(rp_origin=deployment.a)
    browser.go(f"{deployment.a}/oidc/login/?next=/home/", login="zoe")
    assert whoami(browser.op, deployment.b).startswith("home oidc-")
    browser.go(f"{deployment.op.issuer}/session/end")
    assert len(deployment.recorder.tokens) == tokens_before + 1
    assert deployment.recorder.statuses[-1] == 200
    assert whoami(browser.op, deployment.a) == "home anonymous"
    replay = requests.post(f"{deployment.a}/oidc/backchannel-logout/",
                           data={"logout_token": deployment.recorder.tokens[-1]}, timeout=5)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_request"
