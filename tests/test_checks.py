"""System checks: every id has a test; the id list is asserted."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from django_idp_logout import checks

BASE = {"ISSUER": "https://idp.example.test", "CLIENT_ID": "c", "CLIENT_SECRET": "s"}


def ids(**overrides: Any) -> list[str]:
    with override_settings(**overrides):
        return sorted(m.id for m in run_checks(include_deployment_checks=False)
                      if m.id and m.id.startswith("django_idp_logout.")
                      and not m.is_silenced())


def test_clean_configuration_has_no_messages() -> None:
    assert ids(IDP_LOGOUT=BASE) == []


def test_every_id_is_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).parent.parent / "docs" / "checks.rst").read_text()
    for check_id in checks.CHECK_IDS:
        assert f"django_idp_logout.{check_id}" in doc


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"IDP_LOGOUT": None}, ["E001"]),
    ({"IDP_LOGOUT": "https://idp"}, ["E001"]),
    ({"IDP_LOGOUT": {"CLIENT_ID": "c"}}, ["E002"]),
    ({"IDP_LOGOUT": {**BASE, "CLIENT_SECERT": "x"}}, ["E003"]),
    ({"IDP_LOGOUT": {**BASE, "ENDPOINTS": {"token": "https://x/t"}}}, ["E003"]),
    ({"IDP_LOGOUT": {**BASE, "TIMEOUT": "5"}}, ["E004"]),
    ({"IDP_LOGOUT": {**BASE, "CREATE_USERS": 1}}, ["E004"]),
    ({"IDP_LOGOUT": {**BASE, "LEEWAY": 3600}}, ["E004"]),
    ({"IDP_LOGOUT": {**BASE, "TIMEOUT": 0}}, ["E004"]),
    ({"IDP_LOGOUT": {**BASE, "PROVIDER": "okta"}}, ["E005"]),
    ({"IDP_LOGOUT": {**BASE, "PROVIDER": "no.such.Module"}}, ["E005"]),
    ({"IDP_LOGOUT": {**BASE, "PROVIDER": "django_idp_logout.conf.IdPConfig"}}, ["E005"]),
    ({"IDP_LOGOUT": {**BASE, "ISSUER": "http://idp.example.test"}}, ["E006"]),
    ({"IDP_LOGOUT": {**BASE, "ISSUER": "idp.example.test"}}, ["E006"]),
    ({"AUTHENTICATION_BACKENDS": ["django.contrib.auth.backends.ModelBackend"]}, ["E007"]),
    ({"MIDDLEWARE": ["django.contrib.sessions.middleware.SessionMiddleware",
                     "django_idp_logout.middleware.IdPSessionMiddleware"]}, ["E008"]),
    ({"MIDDLEWARE": ["django.contrib.sessions.middleware.SessionMiddleware",
                     "django.contrib.auth.middleware.AuthenticationMiddleware"]}, ["E009"]),
    ({"ROOT_URLCONF": "tests.urls_without_app"}, ["E010"]),
    ({"IDP_LOGOUT": {**BASE, "ALGORITHMS": ["none"]}}, ["E011"]),
    ({"IDP_LOGOUT": {**BASE, "ALGORITHMS": []}}, ["E011"]),
    ({"IDP_LOGOUT": {"ISSUER": BASE["ISSUER"], "CLIENT_ID": "c", "ALGORITHMS": ["HS256"]}},
     ["E011"]),
    ({"IDP_LOGOUT": {**BASE, "TOKEN_AUTH_METHOD": "private_key_jwt"}}, ["E012"]),
    ({"IDP_LOGOUT": {"ISSUER": BASE["ISSUER"], "CLIENT_ID": "c",
                     "TOKEN_AUTH_METHOD": "client_secret_post"}}, ["E012"]),
    ({"IDP_LOGOUT": {**BASE, "USE_DISCOVERY": False,
                     "ENDPOINTS": {"token_endpoint": "https://idp.example.test/t"}}},
     ["E013", "W007"]),
    ({"IDP_LOGOUT": {**BASE, "CACHE_ALIAS": "missing"}}, ["E014"]),
    ({"CACHES": {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}},
     ["E014"]),
    ({"OIDC_RP_CLIENT_ID": "other"}, ["W001"]),
    ({"OIDC_VERIFY_SSL": False}, ["W002"]),
    ({"CACHES": {"default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": "idp-test-cache"}}, "SILENCED_SYSTEM_CHECKS": []}, ["W003"]),
    ({"SILENCED_SYSTEM_CHECKS": []}, ["W003"]),
    ({"IDP_LOGOUT": {**BASE, "ENDPOINTS": {"token_endpoint": "http://idp.example.test/t"}}},
     ["W004"]),
    ({"IDP_LOGOUT": {**BASE, "TIMEOUT": 60}}, ["W005"]),
    ({"SESSION_ENGINE": "django.contrib.sessions.backends.signed_cookies"}, ["W006"]),
    ({"IDP_LOGOUT": {**BASE, "USE_DISCOVERY": False, "ENDPOINTS": {
        "authorization_endpoint": "https://idp.example.test/a",
        "token_endpoint": "https://idp.example.test/t",
        "jwks_uri": "https://idp.example.test/k"}}}, ["W007"]),
    ({"IDP_LOGOUT": {**BASE, "PROVIDER": "akamai", "USE_DISCOVERY": False, "ENDPOINTS": {
        "authorization_endpoint": "https://idp.example.test/a",
        "token_endpoint": "https://idp.example.test/t",
        "jwks_uri": "https://idp.example.test/k"}}}, []),
    ({"IDP_LOGOUT": {**BASE, "CLEAR_SITE_DATA": ['"cache"']}}, ["E015"]),
    ({"IDP_LOGOUT": {**BASE, "CLEAR_SITE_DATA": "cache"}}, ["E004"]),
])
def test_check_ids(settings: Any, overrides: dict[str, Any], expected: list[str]) -> None:
    overrides.setdefault("IDP_LOGOUT", BASE)
    assert ids(**overrides) == [f"django_idp_logout.{e}" for e in expected]


def test_did_you_mean_hint() -> None:
    with override_settings(IDP_LOGOUT={**BASE, "CLIENT_SECERT": "x"}):
        (message,) = [m for m in run_checks() if m.id == "django_idp_logout.E003"]
    assert message.hint == "Did you mean 'CLIENT_SECRET'?"


def test_loopback_http_issuer_is_fine() -> None:
    for issuer in ("http://localhost:8000", "http://127.0.0.1:9000/realm", "http://[::1]:1"):
        assert ids(IDP_LOGOUT={**BASE, "ISSUER": issuer}) == []


def test_mozilla_settings_alone_configure_the_client() -> None:
    assert ids(IDP_LOGOUT={"ISSUER": BASE["ISSUER"]}, OIDC_RP_CLIENT_ID="c",
               OIDC_RP_CLIENT_SECRET="s") == []


def test_checks_use_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    import requests

    def boom(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("network used by a check")

    monkeypatch.setattr(requests.Session, "request", boom)
    assert ids(IDP_LOGOUT=BASE) == []
