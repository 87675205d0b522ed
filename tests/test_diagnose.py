"""``manage.py idp_diagnose`` (issue 16): every check against the certified provider the suite
runs (oidc-provider on loopback), and against misbehaving ones served through ``responses``:
a wrong issuer, a plain-http endpoint, a skewed clock, no S256, keys without kids."""

from __future__ import annotations

import json
from email.utils import formatdate
from io import StringIO
from typing import Any

import pytest
import responses
from django.core.management import call_command
from django.core.management.base import CommandError

from .conftest import CLIENT_ID, CLIENT_SECRET, ISSUER, FakeProvider, key
from .op_server import RP_ORIGIN, OpenIDProvider

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("idp_diagnose", *args, stdout=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def findings(*args: str) -> tuple[int, dict[str, list[dict[str, str]]]]:
    code, out = run("--json", *args)
    report = json.loads(out)
    assert report["ok"] is (code == 0)
    by_name: dict[str, list[dict[str, str]]] = {}
    for finding in next(iter(report["providers"].values())):
        by_name.setdefault(finding["name"], []).append(finding)
    return code, by_name


def status(found: dict[str, list[dict[str, str]]], name: str) -> str:
    return found[name][0]["status"]


@pytest.mark.op
def test_the_certified_provider_passes_every_check(op: OpenIDProvider, settings: Any) -> None:
    settings.IDP_LOGOUT = op.settings_for("rp-basic")
    code, found = findings("--base-url", RP_ORIGIN, "--probe-authorize")
    assert code == 0
    for name in ("discovery", "issuer", "https", "jwks", "keys", "clock", "pkce", "token_auth",
                 "end_session", "authorize"):
        assert status(found, name) == "OK", (name, found[name])
    register = {f["message"].split(": ")[0]: f["message"].split(": ")[1]
                for f in found["register"]}
    assert register == {"redirect_uri": f"{RP_ORIGIN}/oidc/callback/",
                        "post_logout_redirect_uri": f"{RP_ORIGIN}/oidc/logout/complete/",
                        "backchannel_logout_uri": f"{RP_ORIGIN}/oidc/backchannel-logout/",
                        "frontchannel_logout_uri": f"{RP_ORIGIN}/oidc/frontchannel-logout/"}
    channels = " ".join(f["message"] for f in found["channels"])
    assert "advertises back-channel logout" in channels
    end_session = found["end_session"][0]["message"]
    assert f"{op.issuer}/session/end" in end_session
    assert "id_token_hint=%3Cid_token%3E" in end_session  # a placeholder, never a token


@pytest.mark.op
def test_a_redirect_uri_the_provider_does_not_know_fails_the_probe(op: OpenIDProvider,
                                                                   settings: Any) -> None:
    settings.IDP_LOGOUT = op.settings_for("rp-basic")
    code, found = findings("--base-url", "https://unregistered.example", "--probe-authorize")
    assert code == 1
    assert status(found, "authorize") == "FAIL"
    assert "Register the redirect URI" in found["authorize"][0]["hint"]


@pytest.mark.op
def test_the_text_output_and_no_secret(op: OpenIDProvider, settings: Any) -> None:
    settings.IDP_LOGOUT = op.settings_for("rp-basic")
    code, out = run("--base-url", RP_ORIGIN)
    assert code == 0
    assert "Provider default" in out
    assert "OK   issuer" in out
    assert settings.IDP_LOGOUT["CLIENT_SECRET"] not in out


@pytest.fixture
def bad_op(fake_op: FakeProvider) -> FakeProvider:
    fake_op.discovery["code_challenge_methods_supported"] = ["S256"]
    return fake_op


def _date_header(fake_op: FakeProvider, offset: float) -> None:
    """Serve discovery with a ``Date`` ``offset`` seconds from now."""
    import time

    fake_op.mock.replace(responses.GET, f"{ISSUER}/.well-known/openid-configuration",
                         json=fake_op.discovery,
                         headers={"Date": formatdate(time.time() + offset, usegmt=True)})


def test_a_wrong_issuer_shows_both(bad_op: FakeProvider) -> None:
    bad_op.discovery["issuer"] = ISSUER + "/"
    code, found = findings()
    assert code == 1
    assert status(found, "issuer") == "FAIL"
    assert repr(ISSUER + "/") in found["issuer"][0]["message"]
    assert repr(ISSUER) in found["issuer"][0]["message"]


def test_a_plain_http_endpoint_fails(bad_op: FakeProvider) -> None:
    bad_op.discovery["token_endpoint"] = "http://idp.example.test/token"
    code, found = findings()
    assert code == 1
    assert status(found, "https") == "FAIL"
    assert "token_endpoint" in found["https"][0]["message"]


@pytest.mark.parametrize(("offset", "expected"), [(0, "OK"), (45, "WARN"), (-300, "FAIL")])
def test_the_clock_is_compared_with_leeway(bad_op: FakeProvider, offset: float,
                                           expected: str) -> None:
    _date_header(bad_op, offset)
    code, found = findings()
    assert status(found, "clock") == expected
    assert (code == 1) is (expected == "FAIL")


def test_pkce_without_s256(bad_op: FakeProvider) -> None:
    bad_op.discovery["code_challenge_methods_supported"] = ["plain"]
    assert status(findings()[1], "pkce") == "FAIL"
    del bad_op.discovery["code_challenge_methods_supported"]
    assert status(findings()[1], "pkce") == "WARN"


def test_keys_for_the_algorithms_and_kids(bad_op: FakeProvider, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "ALGORITHMS": ["ES256"]}
    assert status(findings()[1], "keys") == "FAIL"  # the provider has an RSA key only
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "ALGORITHMS": ["RS256", "ES256"]}
    assert status(findings()[1], "keys") == "WARN"
    bad_op.keys += [key("k2", kid=None)]
    bad_op.keys[0] = key("k1", kid=None)
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "ALGORITHMS": ["RS256"]}
    assert status(findings()[1], "kids") == "WARN"


def test_an_unsupported_client_authentication(bad_op: FakeProvider, settings: Any) -> None:
    bad_op.discovery["token_endpoint_auth_methods_supported"] = ["private_key_jwt"]
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "TOKEN_AUTH_METHOD": "client_secret_post"}
    assert status(findings()[1], "token_auth") == "FAIL"


def test_discovery_unreachable(settings: Any) -> None:
    settings.IDP_LOGOUT = {"ISSUER": ISSUER, "CLIENT_ID": CLIENT_ID,
                           "CLIENT_SECRET": CLIENT_SECRET}
    with responses.RequestsMock():  # nothing served: the connection is refused
        code, found = findings()
    assert code == 1
    assert status(found, "discovery") == "FAIL"
    assert "jwks" not in found


def test_an_unknown_provider_name(bad_op: FakeProvider) -> None:
    with pytest.raises(CommandError, match="no provider 'nope'"):
        run("--provider", "nope")


def test_without_base_url_the_uris_have_a_placeholder(bad_op: FakeProvider) -> None:
    found = findings("--probe-authorize")[1]
    assert found["register"][0]["message"] == "redirect_uri: https://<your site>/oidc/callback/"
    assert status(found, "authorize") == "WARN"
