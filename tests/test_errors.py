"""Every failure is a page a person understands and one log line support can use."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth import SESSION_KEY
from django.test import Client, override_settings

from django_idp_logout import errors
from django_idp_logout.signals import login_failed

from .conftest import FakeProvider, start_login

pytestmark = pytest.mark.django_db

AUTHORIZE_CODES = [
    "invalid_request", "unauthorized_client", "access_denied", "unsupported_response_type",
    "invalid_scope", "server_error", "temporarily_unavailable", "interaction_required",
    "login_required", "account_selection_required", "consent_required", "invalid_request_uri",
    "invalid_request_object", "request_not_supported", "request_uri_not_supported",
    "registration_not_supported",
]
TOKEN_CODES = ["invalid_grant", "invalid_client", "invalid_request", "unauthorized_client",
               "unsupported_grant_type", "invalid_scope"]

HOSTILE_DESCRIPTION = "<script>alert(1)</script>\r\nstage=token code=forged\x1b[31m" + "x" * 2000


def one_record(caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    records = [r for r in caplog.records if r.name == "django_idp_logout"]
    assert len(records) == 1, [r.getMessage() for r in records]
    return records[0]


def assert_sanitized(record: logging.LogRecord) -> None:
    message = record.getMessage()
    assert "\r" not in message
    assert "\n" not in message
    assert "\x1b" not in message
    assert len(message) < 1200


@pytest.mark.parametrize("code", [*AUTHORIZE_CODES, "made_up_code", "<bad code>"])
def test_authorize_errors(client: Client, fake_op: FakeProvider, code: str,
                          caplog: pytest.LogCaptureFixture) -> None:
    params = start_login(client, "/home/?keep")
    with caplog.at_level(logging.INFO, logger="django_idp_logout"):
        response = client.get("/oidc/callback/", {
            "state": params["state"], "error": code, "error_description": HOSTILE_DESCRIPTION,
            "error_uri": "https://idp.example.test/help\r\nInjected: yes"})
    expected_status = {"server_error": 502, "temporarily_unavailable": 503}.get(code, 400)
    assert response.status_code == expected_status
    body = response.content.decode()
    assert "<script>alert" not in body
    assert "stage=token" not in body
    assert "Reference:" in body
    assert SESSION_KEY not in client.session
    assert fake_op.token_calls() == []
    record = one_record(caplog)
    assert_sanitized(record)
    message = record.getMessage()
    assert "stage=authorize" in message
    safe_code = code if code.isidentifier() else "unknown_error"
    assert f"code={safe_code}" in message
    assert "&lt;script&gt;" not in message
    assert "<script>alert(1)</script>" in message  # logged sanitized, not HTML-escaped
    explanation = errors.explain(errors.IdPLogoutError(code=safe_code, stage="authorize"))
    assert str(explanation.message) in body.replace("&#x27;", "'")
    # The attempt is consumed: the same state does not work twice.
    assert client.get("/oidc/callback/", {"state": params["state"], "error": code}
                      ).status_code == 400


def test_every_documented_code_has_its_own_message() -> None:
    from pathlib import Path

    doc = (Path(__file__).parent.parent / "docs" / "errors.rst").read_text()
    for code in [*AUTHORIZE_CODES, *TOKEN_CODES]:
        assert f"``{code}``" in doc
    for code in AUTHORIZE_CODES:
        assert code in errors.EXPLANATIONS, code
    messages = {str(errors.EXPLANATIONS[c].message) for c in AUTHORIZE_CODES}
    assert len(messages) == len(AUTHORIZE_CODES)


def test_cancel_is_not_called_an_error(client: Client, fake_op: FakeProvider) -> None:
    params = start_login(client, "/home/?again")
    response = client.get("/oidc/callback/", {"state": params["state"],
                                              "error": "access_denied"})
    body = response.content.decode()
    assert "Sign-in cancelled" in body
    assert "error" not in body.lower().replace("error_", "")
    link = parse_qs(urlsplit(body.split('href="')[1].split('"')[0].replace("&amp;", "&")).query)
    assert link["next"] == ["/home/?again"]


def test_error_without_valid_state_is_not_trusted(client: Client, fake_op: FakeProvider,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    start_login(client)
    with caplog.at_level(logging.INFO, logger="django_idp_logout"):
        response = client.get("/oidc/callback/", {"state": "forged", "error": "access_denied"})
    assert response.status_code == 400
    assert "Your sign-in expired" in response.content.decode()
    assert "code=login_expired" in one_record(caplog).getMessage()


def test_error_never_logs_out_a_signed_in_user(client: Client, fake_op: FakeProvider) -> None:
    params = start_login(client)
    fake_op.token_response({"id_token": fake_op.sign(fake_op.claims(params["nonce"])),
                            "access_token": "a", "token_type": "Bearer"})
    client.get("/oidc/callback/", {"code": "c", "state": params["state"]})
    user_id = client.session[SESSION_KEY]
    params = start_login(client)
    response = client.get("/oidc/callback/", {"state": params["state"], "error": "server_error"})
    assert response.status_code == 502
    assert client.session[SESSION_KEY] == user_id


def test_silent_sign_in_never_loops(client: Client, fake_op: FakeProvider,
                                    settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "AUTH_PARAMS": {"prompt": "none"}}
    params = start_login(client, "/home/")
    assert params["prompt"] == "none"
    response = client.get("/oidc/callback/", {"state": params["state"],
                                              "error": "login_required"})
    assert response.status_code == 400  # a page, not a redirect back to the provider
    body = response.content.decode().replace("&amp;", "&")
    retry = body.split('href="')[1].split('"')[0]
    assert "interactive=1" in retry
    again = client.get(retry)
    assert again.status_code == 302
    assert "prompt" not in parse_qs(urlsplit(again["Location"]).query)


@pytest.mark.parametrize("code", TOKEN_CODES)
def test_token_errors(client: Client, fake_op: FakeProvider, code: str,
                      caplog: pytest.LogCaptureFixture) -> None:
    params = start_login(client)
    fake_op.token_response({"error": code, "error_description": HOSTILE_DESCRIPTION},
                           status=401 if code == "invalid_client" else 400)
    with caplog.at_level(logging.INFO, logger="django_idp_logout"):
        response = client.get("/oidc/callback/", {"code": "secret-code-value",
                                                  "state": params["state"]})
    assert response.status_code == (400 if code == "invalid_grant" else 502)
    assert "<script>alert" not in response.content.decode()
    assert SESSION_KEY not in client.session
    record = one_record(caplog)
    assert_sanitized(record)
    assert f"code={code}" in record.getMessage()
    assert "stage=token" in record.getMessage()
    assert "secret-code-value" not in record.getMessage()
    assert "test-secret" not in record.getMessage()


@pytest.mark.parametrize(("kwargs", "status"), [
    ({"body": "<html>oops</html>", "status": 200}, 502),
    ({"body": "<html>oops</html>", "status": 400}, 502),
    ({"body": "{}", "status": 500}, 502),
    ({"body": "{}", "status": 503}, 503),
    ({"body": requests.Timeout("slow")}, 504),
    ({"body": requests.ConnectionError("refused")}, 503),
    ({"json": {"access_token": "a", "token_type": "Bearer"}}, 502),
    ({"json": {"id_token": 42, "token_type": "Bearer"}}, 502),
    ({"json": [1, 2, 3]}, 502),
    ({"json": {"id_token": "x.y.z", "access_token": 5, "token_type": "Bearer"}}, 502),
    ({"json": {"id_token": "x.y.z", "access_token": "a", "token_type": "MAC"}}, 502),
])
def test_token_endpoint_failures(client: Client, fake_op: FakeProvider,
                                 kwargs: dict[str, Any], status: int) -> None:
    params = start_login(client)
    fake_op.mock.add("POST", "https://idp.example.test/token", **kwargs)
    response = client.get("/oidc/callback/", {"code": "c", "state": params["state"]})
    assert response.status_code == status
    assert SESSION_KEY not in client.session


def test_login_failed_signal(client: Client, fake_op: FakeProvider) -> None:
    received: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        received.append(kwargs)

    login_failed.connect(receiver)
    try:
        params = start_login(client)
        client.get("/oidc/callback/", {"state": params["state"], "error": "access_denied"})
    finally:
        login_failed.disconnect(receiver)
    (event,) = received
    assert event["code"] == "access_denied"
    assert event["stage"] == "authorize"
    assert len(event["reference"]) == 8


def test_failure_redirect_url(client: Client, fake_op: FakeProvider, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "FAILURE_REDIRECT_URL": "/oops/"}
    params = start_login(client)
    response = client.get("/oidc/callback/", {"state": params["state"],
                                              "error": "access_denied"})
    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["error"] == ["access_denied"]
    assert len(query["reference"][0]) == 8


@pytest.mark.parametrize("debug", [True, False])
def test_description_only_in_debug_when_enabled(client: Client, fake_op: FakeProvider,
                                                settings: Any, debug: bool) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "SHOW_ERROR_DESCRIPTION": True}
    params = start_login(client)
    with override_settings(DEBUG=debug):
        response = client.get("/oidc/callback/", {
            "state": params["state"], "error": "invalid_scope",
            "error_description": "<b>scope x</b> is not allowed"})
    body = response.content.decode()
    assert "<b>scope x</b>" not in body
    assert ("&lt;b&gt;scope x&lt;/b&gt; is not allowed" in body) is debug


def test_custom_error_template(client: Client, fake_op: FakeProvider, settings: Any,
                               tmp_path: Any) -> None:
    (tmp_path / "mine.html").write_text("custom {{ code }} {{ reference }}")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "ERROR_TEMPLATE": "mine.html"}
    params = start_login(client)
    response = client.get("/oidc/callback/", {"state": params["state"],
                                              "error": "access_denied"})
    assert response.content.decode().startswith("custom access_denied ")


def test_error_page_has_no_inline_script_or_style(client: Client, fake_op: FakeProvider) -> None:
    params = start_login(client)
    body = client.get("/oidc/callback/", {"state": params["state"],
                                          "error": "access_denied"}).content.decode()
    assert "<script" not in body
    assert "<style" not in body
    assert "style=" not in body


def test_error_pages_are_translated(client: Client, fake_op: FakeProvider,
                                   settings: Any) -> None:
    settings.MIDDLEWARE = [settings.MIDDLEWARE[0], "django.middleware.locale.LocaleMiddleware",
                           *settings.MIDDLEWARE[1:]]
    params = start_login(client)
    response = client.get("/oidc/callback/", {"state": params["state"],
                                              "error": "access_denied"},
                          HTTP_ACCEPT_LANGUAGE="de")
    body = response.content.decode()
    assert "Anmeldung abgebrochen" in body
    assert "Referenz:" in body


def test_german_translation_is_complete() -> None:
    from django.utils import translation

    texts = [e.title for e in errors.EXPLANATIONS.values()] + [
        e.message for e in errors.EXPLANATIONS.values()]
    with translation.override("en"):
        english = [str(t) for t in texts]
    with translation.override("de"):
        german = [str(t) for t in texts]
    untranslated = [e for e, g in zip(english, german, strict=True) if e == g]
    assert untranslated == []


def test_sanitize() -> None:
    assert errors.sanitize("a\r\nb\x00c\u202ed") == "a  b c d"
    assert errors.sanitize("x" * 500).endswith("…")
    assert len(errors.sanitize("x" * 500)) == errors.MAX_LOGGED_TEXT + 1


def test_database_failure_during_sign_in_is_a_503_and_rolls_back(
    client: Client, fake_op: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import OperationalError

    from django_idp_logout import session as idp_session
    from django_idp_logout.models import OIDCIdentity

    def locked(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("database is locked")

    monkeypatch.setattr(idp_session, "record", locked)
    params = start_login(client)
    fake_op.token_response({"id_token": fake_op.sign(fake_op.claims(params["nonce"])),
                            "access_token": "a", "token_type": "Bearer"})
    response = client.get("/oidc/callback/", {"code": "c", "state": params["state"]})
    assert response.status_code == 503
    assert "The site is busy" in response.content.decode()
    assert SESSION_KEY not in client.session
    assert not OIDCIdentity.objects.exists()  # the user and identity writes rolled back
