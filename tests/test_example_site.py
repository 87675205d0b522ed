"""The example site's own code, without running the demo: the claims table's formatting, the
port check of ``run_demo.py``, and the site's messages set-up (rendered through the site's real
settings in a process of its own)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timezone
from pathlib import Path

import pytest
from django.test import override_settings
from django.utils import timezone as django_timezone
from django.utils import translation

EXAMPLE = Path(__file__).resolve().parent.parent / "example_project"
sys.path.insert(0, str(EXAMPLE))

from run_demo import PORT_IN_USE, port_problem  # noqa: E402
from site_example.claims import ClaimRow, claim_rows, format_claim  # noqa: E402

#: 2026-12-01 19:43:21 UTC
MOMENT = 1796154201


@pytest.fixture
def english_utc() -> Iterator[None]:
    with translation.override("en"), django_timezone.override(timezone.utc):
        yield


@pytest.fixture
def german_utc() -> Iterator[None]:
    with override_settings(LOCALE_PATHS=[EXAMPLE / "site_example" / "locale"]), \
            translation.override("de"), django_timezone.override(timezone.utc):
        yield


@pytest.mark.usefixtures("english_utc")
class TestClaimsInEnglish:
    @pytest.mark.parametrize("name", ["exp", "iat", "nbf", "auth_time", "updated_at"])
    def test_time_claims_are_dates_with_the_number_kept(self, name: str) -> None:
        row = format_claim(name, MOMENT)
        assert row.text == "Dec. 1, 2026, 7:43 p.m. UTC"
        assert row.raw == str(MOMENT)
        assert row.timestamp == "2026-12-01T19:43:21+00:00"

    def test_a_float_time_is_a_date_too(self) -> None:
        assert format_claim("exp", MOMENT + 0.5).timestamp.startswith("2026-12-01T19:43:21.5")

    def test_other_numbers_stay_numbers(self) -> None:
        assert format_claim("sub", 1796154201) == ClaimRow("sub", "1796154201")

    def test_a_time_claim_that_is_not_a_number_is_shown_as_sent(self) -> None:
        # Some providers send updated_at as an ISO string.
        assert format_claim("updated_at", "2026-12-01T19:43:21Z") == ClaimRow(
            "updated_at", "2026-12-01T19:43:21Z")

    def test_an_impossible_time_is_shown_as_sent(self) -> None:
        assert format_claim("exp", 10**20) == ClaimRow("exp", str(10**20))

    def test_a_boolean_time_claim_is_a_boolean(self) -> None:
        assert format_claim("exp", True) == ClaimRow("exp", "yes", "true")

    def test_booleans_read_yes_or_no(self) -> None:
        assert format_claim("email_verified", True) == ClaimRow("email_verified", "yes", "true")
        assert format_claim("phone_number_verified", False) == ClaimRow(
            "phone_number_verified", "no", "false")

    def test_lists_are_joined(self) -> None:
        row = format_claim("amr", ["pwd", "otp", 2, True])
        assert row.text == "pwd, otp, 2, yes"
        assert row.raw == '["pwd", "otp", 2, true]'

    def test_objects_are_one_line_of_json(self) -> None:
        row = format_claim("address", {"locality": "Köln", "country": "DE", "n": [1, 2]})
        assert row.text == '{"country": "DE", "locality": "Köln", "n": [1, 2]}'
        assert row.raw == ""  # the same as the text

    def test_objects_in_a_list_are_json(self) -> None:
        assert format_claim("groups", [{"id": 1}, "staff"]).text == '{"id": 1}, staff'

    def test_strings_and_null(self) -> None:
        assert format_claim("email", "demo@example.test") == ClaimRow(
            "email", "demo@example.test")
        assert format_claim("middle_name", None) == ClaimRow("middle_name", "null")

    def test_rows_are_sorted_by_name(self) -> None:
        rows = claim_rows({"sub": "1", "exp": MOMENT, "aud": ["a", "b"]})
        assert [row.name for row in rows] == ["aud", "exp", "sub"]
        assert rows[0].text == "a, b"


@pytest.mark.usefixtures("german_utc")
def test_claims_in_german() -> None:
    assert format_claim("email_verified", True).text == "ja"
    assert format_claim("email_verified", False).text == "nein"
    assert format_claim("exp", MOMENT).text == "1. Dezember 2026 19:43 UTC"


def occupied_port() -> socket.socket:
    """A socket listening on a free loopback port, as a demo already running would."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_port_problem_names_the_busy_port_and_a_free_one() -> None:
    with occupied_port() as busy:
        port = busy.getsockname()[1]
        other = free_port()
        message = port_problem(port, other)
    assert message is not None
    assert f"Port {port} (the example site) is already in use." in message
    suggested = int(message.split("DEMO_SITE_PORT=")[1].split()[0])
    assert suggested not in {port, other}
    assert f"--site-port {suggested}" in message
    assert "DEMO_IDP_PORT" not in message


def test_both_ports_busy_get_two_different_suggestions() -> None:
    with occupied_port() as site, occupied_port() as idp:
        message = port_problem(site.getsockname()[1], idp.getsockname()[1])
    assert message is not None
    site_suggestion = message.split("DEMO_SITE_PORT=")[1].split()[0]
    idp_suggestion = message.split("DEMO_IDP_PORT=")[1].split()[0]
    assert site_suggestion != idp_suggestion


def test_free_ports_have_no_problem() -> None:
    site = free_port()
    idp = free_port()
    while idp == site:
        idp = free_port()
    assert port_problem(site, idp) is None


def test_one_port_for_both_is_refused() -> None:
    port = free_port()
    assert "need two ports" in (port_problem(port, port) or "")


@pytest.mark.parametrize("busy_one", ["site", "idp"])
def test_run_demo_stops_before_starting_when_a_port_is_taken(
        busy_one: str, tmp_path: Path) -> None:
    """``make demo`` while a demo runs: a clear message and a non-zero exit, without the
    success banner, and nothing started or migrated."""
    with occupied_port() as busy:
        port = busy.getsockname()[1]
        ports = {"site": free_port(), "idp": free_port(), busy_one: port}
        env = {**os.environ, "DEMO_SITE_PORT": str(ports["site"]),
               "DEMO_IDP_PORT": str(ports["idp"])}
        done = subprocess.run(
            [sys.executable, str(EXAMPLE / "run_demo.py"), "--data-dir", str(tmp_path / "data")],
            env=env, capture_output=True, text=True, timeout=60)
    variable = "DEMO_SITE_PORT" if busy_one == "site" else "DEMO_IDP_PORT"
    assert done.returncode == PORT_IN_USE, done.stderr
    assert f"Port {port} (" in done.stderr
    assert "already in use" in done.stderr
    assert f"{variable}=" in done.stderr
    assert "make demo" in done.stderr
    assert "is running" not in done.stdout + done.stderr
    assert not (tmp_path / "data").exists()  # stopped before migrating anything


#: Rendered by the example site's real settings (its own process: they are not the tests').
RENDER_WITH_A_MESSAGE = """
import json
import django
django.setup()
from django.contrib.messages import constants
from django.contrib.messages.storage.cookie import CookieStorage
from django.http import HttpRequest, HttpResponse
from django.test import Client

storage = CookieStorage(HttpRequest())
storage.add(constants.SUCCESS, "Queued <by> the test.", extra_tags="idp-signed-out")
carrier = HttpResponse()
storage.update(carrier)
client = Client()
client.cookies["messages"] = carrier.cookies["messages"].value
shown = client.get("/", HTTP_ACCEPT_LANGUAGE="de")
again = client.get("/")
print(json.dumps({"status": shown.status_code, "shown": shown.content.decode(),
                  "again": again.content.decode()}))
"""


def test_the_site_shows_messages_accessibly(tmp_path: Path) -> None:
    """django.contrib.messages is installed, its middleware and context processor are on,
    and the layout shows each message once, escaped, in a role="status" region (how the app
    says "You are signed out")."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "site_example.settings",
           "SITE_DB": str(tmp_path / "site.sqlite3"), "PYTHONPATH": str(EXAMPLE)}
    for key in [key for key in env if key.startswith("IDP_")]:
        del env[key]
    done = subprocess.run([sys.executable, "-c", RENDER_WITH_A_MESSAGE], cwd=EXAMPLE, env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    pages = json.loads(done.stdout.splitlines()[-1])
    assert pages["status"] == 200
    region = pages["shown"].split('role="status">', 1)[1].split("</div>", 1)[0]
    assert '<p class="message idp-signed-out success">' in region  # tags: styled by level
    assert "Queued &lt;by&gt; the test." in region
    assert 'lang="de"' in pages["shown"]
    assert 'role="status"' not in pages["again"]  # shown once
