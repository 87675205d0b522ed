"""Start the demo exactly as the README says (``make demo``) and sign in through it.

Also used by ``example_project/screenshots.py`` (which runs ``run_demo.py`` directly), so it
imports nothing of the test suite's.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from html import unescape
from pathlib import Path
from urllib.parse import urljoin

import requests

ROOT = Path(__file__).resolve().parent.parent
#: ``make demo``, as the README says; ``RUN_DEMO`` is what it runs, without make's install step.
MAKE_DEMO = ("make", "--no-print-directory", "demo")
RUN_DEMO = (sys.executable, str(ROOT / "example_project" / "run_demo.py"))
#: What would point the example site's two providers at real ones (``.env.example``).
PROVIDER_VARIABLES = tuple(f"{prefix}_{name}" for prefix in ("IDP", "IDP_PARTNERS") for name in (
    "PROVIDER", "ISSUER", "CLIENT_ID", "CLIENT_SECRET", "DISPLAY_NAME"))


def free_port() -> int:
    """A port free on 127.0.0.1 now (the system picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Demo:
    """``make demo`` (or ``command``) in the background, on free ports, with its data in
    ``data_dir``."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None,
                 command: tuple[str, ...] = MAKE_DEMO,
                 ports: tuple[int, int] | None = None) -> None:
        """``ports``: the site's and the provider's, else two free ones."""
        self.site_port, self.idp_port = ports or (free_port(), free_port())
        while self.idp_port == self.site_port:  # the system may hand out a port again
            self.idp_port = free_port()
        self.site = f"http://127.0.0.1:{self.site_port}"
        self.idp = f"http://localhost:{self.idp_port}"
        self.data_dir = data_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "demo.log"
        self.env = env or {}
        self.command = command

    def start(self) -> Demo:
        env = {**os.environ, "DEMO_SITE_PORT": str(self.site_port),
               "DEMO_IDP_PORT": str(self.idp_port), "DEMO_DATA_DIR": str(self.data_dir),
               **self.env}
        for key in ("DJANGO_SETTINGS_MODULE", *PROVIDER_VARIABLES):
            env.pop(key, None)
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env=env,
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 240  # the first run may install packages
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.tail()}")
            if "The example site is running" in self.log.read_text(errors="replace"):
                return self
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{self.name} did not come up:\n{self.tail()}")

    @property
    def name(self) -> str:
        return " ".join(self.command)

    def tail(self) -> str:
        """The end of the demo's output, for a failure's message."""
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


_FORM = re.compile(r"<form[^>]*>(.*?)</form>", re.S)
_INPUT = re.compile(r"<input\b([^>]*)>")
_ATTR = re.compile(r'([a-zA-Z_-]+)="([^"]*)"')


def form_fields(html: str) -> dict[str, str]:
    match = _FORM.search(html)
    assert match, "no form on the page"
    fields = {}
    for attributes in _INPUT.findall(match.group(1)):
        attrs = dict(_ATTR.findall(attributes))
        if "name" in attrs and attrs.get("type") != "submit":
            fields[attrs["name"]] = unescape(attrs.get("value", ""))
    return fields


#: The demo site's providers (``IDP_LOGOUT["PROVIDERS"]``): key → client at the provider.
PROVIDERS = {"staff": "example-site", "partners": "example-partners"}


def sign_in_with_requests(demo: Demo, session: requests.Session,
                          provider: str = "staff") -> requests.Response:
    """The whole sign-in over real HTTP: site → provider login → consent → site, with one of
    the site's providers (named, so the chooser is skipped)."""
    response = session.get(f"{demo.site}/oidc/login/",
                           params={"provider": provider, "next": "/protected/"}, timeout=10)
    assert response.url.startswith(f"{demo.idp}/accounts/login/"), response.url
    fields = form_fields(response.text)
    fields.update({"username": "demo", "password": "demo-password"})
    response = session.post(response.url, data=fields, timeout=10,
                            headers={"Referer": response.url})
    assert 'id="idp-allow"' in response.text, response.text[:500]  # the consent page
    fields = form_fields(response.text)
    fields["allow"] = "Authorize"
    response = session.post(urljoin(response.url, "/openid/authorize"), data=fields,
                            timeout=10, headers={"Referer": response.url})
    return response
