"""The installation page, run: a fresh ``startproject`` site, the built wheel, the page's own
code blocks, ``check --deploy``, and a sign-in → protected page → sign-out round trip against
the certified OpenID Provider — plus a sign-out started at the provider (back-channel).

Every step comes from ``docs/installation.rst`` (:mod:`tests.installation_page`): change a
snippet there and this test follows; leave a step out and it fails. The package comes from a
wheel built from this tree and installed into a folder of its own, never the source tree
(asserted), so a file missing from the wheel (a template, a migration, a translation) fails
here too.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import IO

import pytest
from packaging.requirements import Requirement

from . import installation_page as page
from .conftest import require_node
from .op_server import Browser, OpenIDProvider, free_port, stop_process

ROOT = Path(__file__).resolve().parent.parent
SECRET = "mysite-secret-0123456789abcdef0123456789ab"
URI = re.compile(r"\b(redirect_uri|post_logout_redirect_uri|backchannel_logout_uri|"
                 r"frontchannel_logout_uri): (\S+)")

@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This tree built as a wheel, without network (``hatchling`` is a test dependency)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "--wheel-dir", str(out), str(ROOT)], check=True, timeout=300)
    [built] = out.glob("django_idp_logout-*.whl")
    return built


class Site:
    """The reader's project: a folder, the wheel installed beside it, their shell's env."""

    def __init__(self, root: Path, packages: Path) -> None:
        self.root = root
        self.packages = packages
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.env = {key: value for key, value in os.environ.items()
                    if not key.startswith(("DJANGO_", "OIDC_", "PYTHON"))}
        self.env.update({"PYTHONPATH": str(packages), "PYTHONNOUSERSITE": "1"})
        self.server: subprocess.Popen[bytes] | None = None
        self.log: IO[bytes] | None = None

    def run(self, command: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A ``python …`` command of the page, run as its reader would, in the project."""
        args = shlex.split(command)
        assert args[0] == "python", command
        result = subprocess.run([sys.executable, *args[1:]], cwd=self.root, env=self.env,
                                capture_output=True, text=True, timeout=120)
        if check:
            assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        return result

    def start(self, command: str) -> None:
        assert command == "python manage.py runserver", command
        self.log = (self.root / "runserver.log").open("wb")
        self.server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"],
            cwd=self.root, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.server.poll() is None, (self.root / "runserver.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("runserver did not start within 30 s")

    def stop(self) -> None:
        stop_process(self.server)
        if self.log is not None:
            self.log.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    require_node()  # before the wheel is built
    site = Site(tmp_path / "project", tmp_path / "site-packages")
    site.root.mkdir()
    yield site
    site.stop()


def install(site: Site, wheel: Path, block: page.Block) -> None:
    """``pip install django-idp-logout``: the wheel, into a folder of its own; its declared
    dependencies must be what this environment has."""
    assert page.commands(block) == ["pip install django-idp-logout"]
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(site.packages), str(wheel)], check=True, timeout=120)
    with zipfile.ZipFile(wheel) as archive:
        meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        requires = [Requirement(line.split(":", 1)[1].strip())
                    for line in archive.read(meta).decode().splitlines()
                    if line.startswith("Requires-Dist:")]
    for requirement in requires:
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            assert requirement.specifier.contains(metadata.version(requirement.name)), \
                requirement


def set_env(site: Site, block: page.Block, values: dict[str, str]) -> None:
    """``export NAME=…`` lines: the names the settings read, given this test's values."""
    names = [re.fullmatch(r"export (\w+)=\S+", line).group(1)  # type: ignore[union-attr]
             for line in page.commands(block)]
    assert sorted(names) == sorted(values), names
    site.env.update(values)


def registered_uris(site: Site, block: page.Block) -> dict[str, str]:
    """Run the page's ``idp_diagnose --base-url …`` with this site's address; its URIs."""
    [command] = page.commands(block)
    command = re.sub(r"--base-url \S+", f"--base-url {site.origin}", command)
    result = site.run(command, check=False)
    uris = dict(URI.findall(result.stdout))
    assert set(uris) == {"redirect_uri", "post_logout_redirect_uri", "backchannel_logout_uri",
                         "frontchannel_logout_uri"}, result.stdout
    return uris


def check_tables(site: Site) -> None:
    """``migrate`` made exactly the app tables the page names."""
    named = set(re.findall(r"``(django_idp_logout_[a-z]+)``", page.PAGE.read_text()))
    with sqlite3.connect(site.root / "db.sqlite3") as db:
        made = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = "
                                             "'table' AND name LIKE 'django_idp_logout_%'")}
    assert made == named


def going_live_ids(site: Site) -> set[str]:
    """``check --deploy`` with ``DEBUG`` off (the app's production checks run only then):
    the app's check ids, each of which the page's going-live paragraph must name."""
    (site.root / "live_settings.py").write_text(
        "from mysite.settings import *  # noqa: F403\n\n"
        "DEBUG = False\nALLOWED_HOSTS = ['www.example.com']\n")
    # Django's own production checks fail a startproject site (its SECRET_KEY; on 6.1 its
    # console email backend): they are the site's to fix, and the page says so.
    result = site.run("python manage.py check --deploy --settings=live_settings", check=False)
    assert "Traceback" not in result.stderr, result.stderr
    found = set(re.findall(r"django_idp_logout\.[EW]\d{3}", result.stdout + result.stderr))
    live = page.PAGE.read_text().split("Before going live", 1)[1].split("Next steps", 1)[0]
    for check_id in found:
        assert check_id.split(".")[1] in live, f"the page does not mention {check_id}"
    return found


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


@pytest.mark.op
def test_installation_page_from_startproject_to_sign_out(site: Site, wheel: Path) -> None:
    op_port = free_port()
    issuer = f"http://localhost:{op_port}"
    run_shell = {"install-shell-pip": lambda b: install(site, wheel, b),
                 "install-shell-env": lambda b: set_env(site, b, {
                     "OIDC_ISSUER": issuer, "OIDC_CLIENT_ID": "mysite",
                     "OIDC_CLIENT_SECRET": SECRET}),
                 "install-shell-migrate": lambda b: [site.run(c) for c in page.commands(b)]}
    blocks = page.blocks()
    assert [b.name for b in blocks if b.action == "shell"] == [
        "install-shell-pip", "install-shell-env", "install-shell-migrate",
        "install-shell-diagnose", "install-shell-run"]
    site.run(f"python -m django startproject mysite {site.root}")
    uris: dict[str, str] = {}
    for block in blocks:
        if block.name in run_shell:
            run_shell[block.name](block)
        elif block.name == "install-shell-diagnose":
            uris = registered_uris(site, block)
        elif block.action != "shell":
            page.apply(site.root, block)
    located = site.run("python -c 'import django_idp_logout as m; print(m.__file__)'")
    assert located.stdout.strip().startswith(str(site.packages)), "not the wheel's copy"
    check_tables(site)
    deploy = site.run("python manage.py check --deploy", check=False)
    assert "django_idp_logout." not in deploy.stdout + deploy.stderr
    assert going_live_ids(site) == {"django_idp_logout.W003"}  # as the page says

    client = {"client_id": "mysite", "client_secret": SECRET,
              "redirect_uris": [uris["redirect_uri"]],
              "post_logout_redirect_uris": [uris["post_logout_redirect_uri"]],
              "backchannel_logout_uri": uris["backchannel_logout_uri"],
              "backchannel_logout_session_required": True}
    with OpenIDProvider(clients=[client], port=op_port, allow_loopback_fetch=True):
        diagnosed = site.run("python manage.py idp_diagnose --json")
        assert json.loads(diagnosed.stdout)["ok"] is True
        site.start(page.commands(next(b for b in blocks if b.name == "install-shell-run"))[0])
        round_trip(site, issuer)


def round_trip(site: Site, issuer: str) -> None:
    browser = Browser(rp_origin=site.origin)
    account = browser.go(f"{site.origin}/account/")  # LOGIN_URL → provider → back
    assert account.url == f"{site.origin}/account/", account.url
    assert "Signed in as" in account.text
    assert "<h1>Your account</h1>" in account.text

    home = browser.go(f"{site.origin}/")
    landing = browser.go(f"{site.origin}/oidc/logout/", "POST",
                         {"csrfmiddlewaretoken": csrf_token(home.text)})
    assert landing.url == f"{site.origin}/", landing.url  # POST_LOGOUT_REDIRECT_URL
    assert 'role="status"' in landing.text  # django.contrib.messages, as the page shows
    assert "You are also signed out of your identity provider." in landing.text
    assert "Signed in as" not in landing.text
    assert any(p.url.startswith(f"{site.origin}/oidc/logout/complete/?state=")
               for p in browser.history), "the provider did not send the user back"
    # Both sessions ended: the protected page starts a sign-in, and the provider asks again.
    again = browser.go(f"{site.origin}/account/", follow_forms=False)
    assert again.url.startswith(issuer), again.url
    form = Browser.op_form(again)
    assert form is not None
    assert form[1].get("prompt") == "login"

    # Sign-out at the provider reaches the site through the registered back-channel URI.
    assert "Signed in as" in browser.go(f"{site.origin}/account/").text
    browser.go(f"{issuer}/session/end")
    gone = browser.op.get(f"{site.origin}/account/", allow_redirects=False, timeout=10)
    assert gone.status_code == 302
    assert "/oidc/login/" in gone.headers["Location"]


def test_page_blocks_are_well_formed() -> None:
    """Every ``install-*`` block has a known action and, unless a shell step, a file."""
    blocks = page.blocks()
    assert {b.action for b in blocks} <= {"create", "append", "edit", "shell"}
    for block in blocks:
        assert (block.path is None) == (block.action == "shell"), block.name
    assert any("LOGIN_URL" in b.text for b in blocks)
    assert any("LOGIN_REDIRECT_URL" in b.text for b in blocks)


def test_edit_refuses_a_missing_anchor() -> None:
    block = page.Block("install-edit-x", "edit", "x.py", 'MISSING = [\n    "a",  # new\n]\n')
    with pytest.raises(AssertionError, match="cannot be applied"):
        page.apply_edit("OTHER = []\n", block)

