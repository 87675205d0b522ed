"""Run panva's oidc-provider on 127.0.0.1 and drive it like a browser would.

:class:`OpenIDProvider` starts ``tests/op/server.mjs`` in its own process (installing its npm
dependencies from the lock file first if needed). :class:`Browser` follows redirects across
the relying party (Django's test client, host ``testserver``) and the provider (real HTTP),
filling in the provider's sign-in and consent forms.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from django.test import Client

OP_DIR = Path(__file__).parent / "op"
RP_ORIGIN = "http://testserver"
CALLBACK = f"{RP_ORIGIN}/oidc/callback/"
LOGOUT_COMPLETE = f"{RP_ORIGIN}/oidc/logout/complete/"

CLIENTS = [
    {
        "client_id": "rp-basic",
        "client_secret": "rp-basic-secret-0123456789abcdef0123456789",
        "redirect_uris": [CALLBACK],
        "post_logout_redirect_uris": [LOGOUT_COMPLETE, f"{RP_ORIGIN}/"],
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
    },
    {
        "client_id": "rp-post",
        "client_secret": "rp-post-secret-0123456789abcdef0123456789ab",
        "redirect_uris": [CALLBACK],
        "post_logout_redirect_uris": [LOGOUT_COMPLETE],
        "token_endpoint_auth_method": "client_secret_post",
    },
    {
        "client_id": "rp-public",
        "redirect_uris": [CALLBACK],
        "post_logout_redirect_uris": [LOGOUT_COMPLETE],
        "token_endpoint_auth_method": "none",
    },
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def node_available() -> str | None:
    """Why the provider cannot run here, or ``None`` if it can."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "Node.js and npm are needed to run the test OpenID Provider (oidc-provider)"
    return None


def ensure_installed() -> None:
    if (OP_DIR / "node_modules" / "oidc-provider").is_dir():
        return
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=OP_DIR,
                   check=True, timeout=300)


def stop_process(process: subprocess.Popen[Any] | None) -> None:
    """Terminate a server process started by a test, then kill it if it does not stop."""
    if process and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class OpenIDProvider:
    """A running provider process. Use as a context manager."""

    def __init__(self, *, clients: list[dict[str, Any]] | None = None,
                 jwks_file: Path | None = None, port: int | None = None,
                 allow_loopback_fetch: bool = False, env: dict[str, str] | None = None,
                 host: str = "localhost") -> None:
        self.port = port or free_port()
        # Two providers side by side get different hosts (localhost, 127.0.0.1): cookies are
        # per host, not per port, so their sessions stay apart in one browser.
        self.issuer = f"http://{host}:{self.port}"
        self.clients = clients or CLIENTS
        self.jwks_file = jwks_file
        self.allow_loopback_fetch = allow_loopback_fetch
        self.extra_env = dict(env or {})
        self.process: subprocess.Popen[bytes] | None = None

    def client(self, client_id: str) -> dict[str, Any]:
        return next(c for c in self.clients if c["client_id"] == client_id)

    def settings_for(self, client_id: str, **extra: Any) -> dict[str, Any]:
        """An ``IDP_LOGOUT`` dict pointing at this provider for one of its clients."""
        client = self.client(client_id)
        config = {"ISSUER": self.issuer, "CLIENT_ID": client_id}
        if "client_secret" in client:
            config["CLIENT_SECRET"] = client["client_secret"]
        config.update(extra)
        return config

    def start(self) -> OpenIDProvider:
        ensure_installed()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "OP_PORT": str(self.port),
            "OP_ISSUER": self.issuer,
            "OP_CLIENTS": json.dumps(self.clients),
            "NODE_ENV": "test",
        }
        if self.jwks_file:
            env["OP_JWKS_FILE"] = str(self.jwks_file)
        if self.allow_loopback_fetch:
            env["OP_ALLOW_LOOPBACK_FETCH"] = "1"
        env.update(self.extra_env)
        self.process = subprocess.Popen(["node", "server.mjs"], cwd=OP_DIR, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.process.stdout.read().decode() if self.process.stdout else ""
                raise RuntimeError(f"oidc-provider exited early:\n{output}")
            try:
                requests.get(f"{self.issuer}/.well-known/openid-configuration", timeout=1)
                return self
            except requests.ConnectionError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("oidc-provider did not start within 30 s")

    def refresh_requests(self) -> int:
        """How many refresh token grants the provider was asked for (see server.mjs)."""
        return int(requests.get(f"{self.issuer}/test/counters", timeout=5).json()["refresh"])

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def __enter__(self) -> OpenIDProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', re.S)
_INPUT = re.compile(r"<input\b([^>]*)>")
_ATTR = re.compile(r'([a-zA-Z_-]+)="([^"]*)"')


@dataclass
class Page:
    url: str
    status: int
    text: str
    headers: dict[str, str] = field(default_factory=dict)


class Browser:
    """One user agent: Django's test client for the site, a requests session for the provider."""

    def __init__(self, django_client: Client | None = None, rp_origin: str = RP_ORIGIN) -> None:
        self.django = django_client or Client(enforce_csrf_checks=True)
        self.rp_origin = rp_origin
        self.op = requests.Session()
        self.history: list[Page] = []

    def csrf_post(self, path: str, data: dict[str, str] | None = None, **kwargs: Any) -> Page:
        """POST a form of the site the way a browser would: CSRF token from the cookie."""
        if "csrftoken" not in self.django.cookies:
            self.django.get("/oidc/logout/")  # any page with a form sets the CSRF cookie
        token = self.django.cookies["csrftoken"].value
        return self.go(path, "POST", {"csrfmiddlewaretoken": token, **(data or {})}, **kwargs)

    def _request(self, method: str, url: str, data: dict[str, str] | None = None) -> Page:
        if self.rp_origin != RP_ORIGIN and url.startswith("/"):
            url = self.rp_origin + url
        parts = urlsplit(url)
        if parts.netloc in ("", "testserver") and self.rp_origin == RP_ORIGIN:
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            if method == "POST":
                response = self.django.post(path, data or {})
            else:
                response = self.django.get(path)
            page = Page(f"{RP_ORIGIN}{path}", response.status_code,
                        response.content.decode(errors="replace"), dict(response.items()))
        else:
            r = self.op.request(method, url, data=data, allow_redirects=False, timeout=10)
            page = Page(url, r.status_code, r.text, dict(r.headers))
        self.history.append(page)
        return page

    def go(self, url: str, method: str = "GET", data: dict[str, str] | None = None,
           *, login: str = "alice", consent: bool = True, follow_forms: bool = True,
           max_steps: int = 20, stop_at: str | None = None) -> Page:
        """Follow redirects and provider forms until a page that is not the provider's (or,
        with ``stop_at``, a redirect to a URL starting with it, which is not followed)."""
        page = self._request(method, url, data)
        for _ in range(max_steps):
            if page.status in (301, 302, 303, 307, 308):
                if stop_at and urljoin(page.url, page.headers["Location"]).startswith(stop_at):
                    return page
                page = self._request("GET", urljoin(page.url, page.headers["Location"]))
                continue
            if not page.url.startswith(self.rp_origin) and page.status == 200 and follow_forms:
                form = self.op_form(page)
                if form is None:
                    return page
                action, fields = form
                if action.endswith("/session/end/confirm"):
                    fields["logout"] = "yes"  # the provider's "Yes, sign me out" button
                elif fields.get("prompt") == "login":
                    fields.update({"login": login, "password": "any"})
                elif fields.get("prompt") == "consent" and not consent:
                    abort = re.search(r'href="([^"]*/abort)"', page.text)
                    assert abort, "no abort link on the consent page"
                    page = self._request("GET", urljoin(page.url, unescape(abort.group(1))))
                    continue
                page = self._request("POST", urljoin(page.url, action), fields)
                continue
            return page
        raise AssertionError("too many redirects / forms")

    @staticmethod
    def op_form(page: Page) -> tuple[str, dict[str, str]] | None:
        match = _FORM.search(page.text)
        if match is None:
            return None
        fields = {}
        for attributes in _INPUT.findall(match.group(2)):
            attrs = dict(_ATTR.findall(attributes))
            if "name" in attrs:
                fields[attrs["name"]] = unescape(attrs.get("value", ""))
        return unescape(match.group(1)), fields
