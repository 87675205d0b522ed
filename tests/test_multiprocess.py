"""Real deployments: two server processes sharing PostgreSQL and Redis, a real provider that
sends back-channel logout, and each session engine that needs it.

The user signs in through server A; the provider's back-channel logout arrives at server B;
the user's next request to A is anonymous. Needs PostgreSQL (127.0.0.1:5432, trust auth) and
Redis (127.0.0.1:6379): skipped with a message without them, mandatory in CI
(``IDP_REQUIRE_SERVICES=1``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from .op_server import Browser, OpenIDProvider, free_port, node_available

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


class Deployment:
    def __init__(self, engine: str, database: str) -> None:
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
        }])
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
        }
        self.servers: list[subprocess.Popen[bytes]] = []

    def start(self) -> Deployment:
        self.op.start()
        subprocess.run([sys.executable, "-m", "django", "migrate", "--noinput"], env=self.env,
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL, timeout=120)
        for port in (self.port_a, self.port_b):
            self.servers.append(subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "tests.multiproc.wsgi", "-w", "1",
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
