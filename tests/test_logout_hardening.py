"""Logout never aborts half way; revocation by default; headers; the POST binding for long
end-session requests; misconfiguration found at request time; logs at the right level."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth import SESSION_KEY
from django.db import DatabaseError
from django.test import Client, override_settings

from django_idp_logout import store
from django_idp_logout.exceptions import ConfigurationError
from django_idp_logout.models import OIDCSession

from .conftest import ISSUER, FakeProvider, start_login
from .test_logout import post_logout, sign_in

pytestmark = pytest.mark.django_db

AKAMAI_ISSUER = "https://v1.api.us.janrain.com/e0a70b4f/login"


@pytest.fixture
def csrf_client() -> Client:
    return Client(enforce_csrf_checks=True)


def records(caplog: pytest.LogCaptureFixture, stage: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records
            if r.name == "django_idp_logout" and f"stage={stage}" in r.getMessage()]


# --- logout never aborts ----------------------------------------------------------------------


def test_mapping_delete_failure_does_not_stop_logout(csrf_client: Client, fake_op: FakeProvider,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    sign_in(csrf_client, fake_op)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise DatabaseError("database is down")

    monkeypatch.setattr("django.db.models.query.QuerySet.delete", broken)
    response = post_logout(csrf_client)
    assert response.status_code == 302
    assert response["Location"].startswith(f"{ISSUER}/logout?")
    assert SESSION_KEY not in csrf_client.session


def test_logout_state_failure_still_reaches_the_provider(csrf_client: Client,
                                                         fake_op: FakeProvider,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    sign_in(csrf_client, fake_op)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise DatabaseError("database is down")

    monkeypatch.setattr(store, "put", broken)
    response = post_logout(csrf_client)
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{ISSUER}/logout"
    assert "state" not in parse_qs(location.query)
    assert SESSION_KEY not in csrf_client.session


def test_akamai_logout_without_discovery_still_goes_to_the_provider(
        csrf_client: Client, fake_op: FakeProvider, settings: Any) -> None:
    sign_in(csrf_client, fake_op)
    from django.core.cache import cache

    cache.clear()
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "PROVIDER": "akamai"}
    fake_op.mock.replace("GET", f"{ISSUER}/.well-known/openid-configuration",
                         body=requests.ConnectionError("down"))
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "ISSUER": AKAMAI_ISSUER}
    fake_op.mock.add("GET", f"{AKAMAI_ISSUER}/.well-known/openid-configuration",
                     body=requests.ConnectionError("down"))
    fake_op.mock.add("POST", "https://v1.api.us.janrain.com/e0a70b4f/token/revoke",
                     body=requests.ConnectionError("down"))
    response = post_logout(csrf_client)
    assert response.status_code == 302
    assert response["Location"].startswith(
        "https://v1.api.us.janrain.com/e0a70b4f/auth-ui/logout?")
    assert SESSION_KEY not in csrf_client.session


# --- revocation by default ------------------------------------------------------------------


def revocations(fake_op: FakeProvider) -> list[dict[str, list[str]]]:
    return [parse_qs(c.request.body) for c in fake_op.mock.calls
            if c.request.url == f"{ISSUER}/revoke"]


def test_revokes_by_default_when_advertised(csrf_client: Client, fake_op: FakeProvider) -> None:
    fake_op.discovery["revocation_endpoint"] = f"{ISSUER}/revoke"
    fake_op.mock.add("POST", f"{ISSUER}/revoke", body="")
    sign_in(csrf_client, fake_op)
    post_logout(csrf_client)
    assert [b["token_type_hint"] for b in revocations(fake_op)] == [["refresh_token"],
                                                                    ["access_token"]]


def test_revocation_can_be_turned_off(csrf_client: Client, fake_op: FakeProvider,
                                      settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "REVOKE_TOKENS_ON_LOGOUT": False}
    fake_op.discovery["revocation_endpoint"] = f"{ISSUER}/revoke"
    sign_in(csrf_client, fake_op)
    post_logout(csrf_client)
    assert revocations(fake_op) == []


def test_invalid_client_at_revocation_is_an_error_log(csrf_client: Client,
                                                      fake_op: FakeProvider,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    fake_op.discovery["revocation_endpoint"] = f"{ISSUER}/revoke"
    fake_op.mock.add("POST", f"{ISSUER}/revoke", status=401,
                     json={"error": "invalid_client"})
    sign_in(csrf_client, fake_op)
    caplog.set_level(logging.INFO, logger="django_idp_logout")
    response = post_logout(csrf_client)
    assert response.status_code == 302
    levels = {r.levelno for r in records(caplog, "revocation")}
    assert logging.ERROR in levels
    assert "rt-secret" not in caplog.text
    assert "at-secret" not in caplog.text


def test_transient_revocation_failure_is_a_warning(csrf_client: Client, fake_op: FakeProvider,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    fake_op.discovery["revocation_endpoint"] = f"{ISSUER}/revoke"
    fake_op.mock.add("POST", f"{ISSUER}/revoke", body=requests.ConnectionError("down"))
    sign_in(csrf_client, fake_op)
    caplog.set_level(logging.INFO, logger="django_idp_logout")
    assert post_logout(csrf_client).status_code == 302
    assert [r.levelno for r in records(caplog, "revocation")] == [logging.WARNING]


# --- headers ------------------------------------------------------------------------------------


def test_login_and_callback_send_no_referrer(fake_op: FakeProvider) -> None:
    client = Client()
    response = client.get("/oidc/login/")
    assert response["Referrer-Policy"] == "no-referrer"
    assert client.get("/oidc/callback/", {"state": "x", "code": "y"})[
        "Referrer-Policy"] == "no-referrer"


def test_logout_confirmation_cannot_be_framed(csrf_client: Client, fake_op: FakeProvider) -> None:
    sign_in(csrf_client, fake_op)
    response = csrf_client.get("/oidc/logout/")
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_logout_is_csrf_protected_without_the_csrf_middleware(settings: Any,
                                                              fake_op: FakeProvider) -> None:
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "Csrf" not in m]
    client = Client(enforce_csrf_checks=True)
    sign_in(client, fake_op)
    assert client.post("/oidc/logout/").status_code == 403
    assert SESSION_KEY in client.session


# --- the POST binding for long end-session requests ------------------------------------------


def long_sign_in(client: Client, fake_op: FakeProvider) -> None:
    params = start_login(client)
    claims = fake_op.claims(params["nonce"], groups=[f"group-{i:04d}" for i in range(800)])
    fake_op.token_response({"id_token": fake_op.sign(claims), "access_token": "at",
                            "token_type": "Bearer"})
    assert client.get("/oidc/callback/", {"code": "c", "state": params["state"]}
                      ).status_code == 302


def test_long_end_session_request_uses_a_form_post(csrf_client: Client,
                                                   fake_op: FakeProvider) -> None:
    long_sign_in(csrf_client, fake_op)
    response = post_logout(csrf_client)
    assert response.status_code == 200
    body = response.content.decode()
    assert f'action="{ISSUER}/logout"' in body
    assert 'name="id_token_hint"' in body
    assert 'name="state"' in body
    assert "<script>" not in body  # no inline script: a strict CSP does not break it
    assert "no-store" in response["Cache-Control"]
    assert SESSION_KEY not in csrf_client.session


def test_logout_method_setting_forces_get(csrf_client: Client, fake_op: FakeProvider,
                                          settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "LOGOUT_METHOD": "GET"}
    long_sign_in(csrf_client, fake_op)
    assert post_logout(csrf_client).status_code == 302


def test_logout_method_setting_forces_post(csrf_client: Client, fake_op: FakeProvider,
                                           settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "LOGOUT_METHOD": "POST"}
    sign_in(csrf_client, fake_op)
    response = post_logout(csrf_client)
    assert response.status_code == 200
    assert b'method="post"' in response.content


def test_profiles_documented_with_get_only_keep_get() -> None:
    from django_idp_logout.providers import REGISTRY

    assert not REGISTRY["akamai"].accepts_logout_post
    assert not REGISTRY["cidaas"].accepts_logout_post
    assert REGISTRY["generic"].accepts_logout_post


# --- misconfiguration found at request time ---------------------------------------------------


def test_missing_client_id_is_a_clear_configuration_error(settings: Any,
                                                           caplog: pytest.LogCaptureFixture
                                                           ) -> None:
    settings.IDP_LOGOUT = {"ISSUER": ISSUER}
    with pytest.raises(ConfigurationError, match="CLIENT_ID"):
        Client(raise_request_exception=True).get("/oidc/login/")
    assert "CLIENT_ID" in caplog.text


def test_missing_middleware_is_a_clear_configuration_error(settings: Any,
                                                           fake_op: FakeProvider) -> None:
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "IdPSession" not in m]
    with pytest.raises(ConfigurationError, match="IdPSessionMiddleware"):
        Client().get("/oidc/login/")
    assert not fake_op.mock.calls  # nothing was sent to the provider


def test_not_installed_is_reported_by_the_url_check() -> None:
    from django.urls import URLPattern
    from django.urls.resolvers import RoutePattern

    from django_idp_logout import urls
    from django_idp_logout.conf import require_installed

    pattern = urls._NotInstalled(RoutePattern(""), urls._not_installed)
    assert isinstance(pattern, URLPattern)
    assert [m.id for m in pattern.check()] == ["django_idp_logout.E030"]
    apps_without = ["django.contrib.auth", "django.contrib.contenttypes",
                    "django.contrib.sessions"]
    with override_settings(INSTALLED_APPS=apps_without), \
            pytest.raises(ConfigurationError, match="INSTALLED_APPS"):
        require_installed()
    require_installed()


# --- Django 5.1+ LoginRequiredMiddleware -------------------------------------------------------


def test_every_view_works_behind_login_required_middleware(fake_op: FakeProvider) -> None:
    pytest.importorskip("django.contrib.auth.middleware", reason="Django 5.1+")
    from django.contrib.auth import middleware

    if not hasattr(middleware, "LoginRequiredMiddleware"):
        pytest.skip("LoginRequiredMiddleware is Django 5.1+")
    from . import settings_login_required

    with override_settings(MIDDLEWARE=settings_login_required.MIDDLEWARE,
                           LOGIN_URL="/oidc/login/"):
        client = Client()
        assert client.get("/home/").status_code == 302  # the middleware is on
        sign_in(client, fake_op)
        assert client.get("/oidc/logout/").status_code == 200
        assert client.get("/oidc/logout/complete/").status_code == 302
        assert client.get("/oidc/frontchannel-logout/").status_code == 200
        assert client.post("/oidc/backchannel-logout/").status_code == 415
        assert OIDCSession.objects.exists()


def test_backend_of_a_site_without_the_app_names_the_fix() -> None:
    import subprocess
    import sys

    script = (
        "import django\n"
        "from django.conf import settings\n"
        "settings.configure(INSTALLED_APPS=['django.contrib.auth', "
        "'django.contrib.contenttypes'], DATABASES={'default': {'ENGINE': "
        "'django.db.backends.sqlite3', 'NAME': ':memory:'}})\n"
        "django.setup()\n"
        "import django_idp_logout.backends\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode != 0
    assert "django_idp_logout.E030" in result.stderr
    assert "INSTALLED_APPS" in result.stderr.splitlines()[-1]


def test_logout_fallback_never_uses_a_plain_http_endpoint(csrf_client: Client,
                                                          fake_op: FakeProvider,
                                                          settings: Any) -> None:
    """Discovery down: the settings' endpoints are used, but never one that would carry a
    token in clear (the https rule discovery applies)."""
    sign_in(csrf_client, fake_op)
    from django.core.cache import cache

    cache.clear()
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "ENDPOINTS": {
        "end_session_endpoint": "http://idp.example.test/logout",
        "revocation_endpoint": "http://idp.example.test/revoke"}}
    fake_op.mock.replace("GET", f"{ISSUER}/.well-known/openid-configuration",
                         body=requests.ConnectionError("down"))
    response = post_logout(csrf_client, {"next": "/bye/"})
    assert response["Location"] == "/bye/"  # signed out locally, nothing sent in clear
    assert not [c for c in fake_op.mock.calls if c.request.url.startswith("http://")]
    assert SESSION_KEY not in csrf_client.session
