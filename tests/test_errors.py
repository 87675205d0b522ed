"""Every failure is a page a person understands and one log line support can use."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth import SESSION_KEY
from django.test import Client, override_settings

from django_idp_logout import errors
from django_idp_logout.exceptions import InvalidToken, ProviderUnavailable, TokenError
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


def retry_href(body: str) -> str:
    """The page's "Sign in again" link (the stylesheet's comes first)."""
    match = re.search(r'href="(/oidc/login/[^"]*)"', body)
    assert match, body
    return match.group(1)


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
    expected_status = (200 if code in errors.USER_CODES else  # the user's own choice
                       {"server_error": 502, "temporarily_unavailable": 503}.get(code, 400))
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
    link = parse_qs(urlsplit(retry_href(body).replace("&amp;", "&")).query)
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
    assert response.status_code == 200  # a page, not a redirect back to the provider
    body = response.content.decode().replace("&amp;", "&")
    retry = retry_href(body)
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


# --- codes added by the hardening round: each has its own safe, translated page ------------------


def failure_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The records of ``log_failure`` (one per failure; other lines have no reference)."""
    return [r for r in caplog.records
            if r.name == "django_idp_logout" and "reference=" in r.getMessage()]


def page_text(response: Any) -> str:
    return response.content.decode().replace("&#x27;", "'")


def test_insecure_endpoint_is_an_operator_page(client: Client, fake_op: FakeProvider,
                                               caplog: pytest.LogCaptureFixture) -> None:
    fake_op.discovery["token_endpoint"] = "http://idp.example.test/token"
    with caplog.at_level(logging.INFO, logger="django_idp_logout"):
        response = client.get("/oidc/login/", {"next": "/home/"})
    assert response.status_code == 502
    body = page_text(response)
    explanation = errors.EXPLANATIONS["insecure_endpoint"]
    assert str(explanation.title) in body
    assert str(explanation.message) in body
    assert explanation.retry is False
    assert "Sign in again" not in body  # retrying cannot help: an operator must act
    # Neither the provider's URL nor the operator's fix reaches the page.
    assert "http://idp.example.test" not in body
    assert "ENDPOINTS" not in body
    (record,) = failure_records(caplog)
    assert record.levelno == logging.ERROR
    assert "stage=discovery" in record.getMessage()
    assert "code=insecure_endpoint" in record.getMessage()
    assert not [c for c in fake_op.mock.calls if c.request.url.startswith("http://")]


ACR_REQUIRED = {"AUTH_PARAMS": {"acr_values": "urn:example:acr:mfa"}}


def test_invalid_acr_asks_for_a_stronger_sign_in(client: Client, fake_op: FakeProvider,
                                                 settings: Any,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, **ACR_REQUIRED}
    params = start_login(client, "/home/?step-up")
    fake_op.token_response({"id_token": fake_op.sign(fake_op.claims(
        params["nonce"], acr="urn:example:acr:password-only")),
        "access_token": "a", "token_type": "Bearer"})
    with caplog.at_level(logging.INFO, logger="django_idp_logout"):
        response = client.get("/oidc/callback/", {"code": "c", "state": params["state"]})
    assert response.status_code == 502
    assert SESSION_KEY not in client.session
    body = page_text(response)
    explanation = errors.EXPLANATIONS["id_token:invalid_acr"]
    assert explanation is errors.explain(InvalidToken(code="invalid_acr"))
    assert str(explanation.title) in body
    assert str(explanation.message) in body
    assert "password-only" not in body  # the token's claims never reach the page
    # The retry is offered, interactive (no prompt=none), and keeps the attempt's next.
    retry = parse_qs(urlsplit(retry_href(body).replace("&amp;", "&"))
                     .query)
    assert retry["interactive"] == ["1"]
    assert retry["next"] == ["/home/?step-up"]
    (record,) = failure_records(caplog)
    assert record.levelno == logging.WARNING  # a rejected token, not an outage
    assert "stage=id_token" in record.getMessage()
    assert "code=invalid_acr" in record.getMessage()


def test_database_unavailable_has_its_own_page_and_is_an_error() -> None:
    exc = errors.IdPLogoutError(code="database_unavailable", stage="login", status=503)
    explanation = errors.explain(exc)
    assert explanation is errors.EXPLANATIONS["database_unavailable"]
    assert explanation is not errors.DEFAULT_EXPLANATION
    assert explanation.retry is True
    assert errors.level_for(exc) == logging.ERROR


@pytest.mark.parametrize(("exc", "level"), [
    (ProviderUnavailable(code="insecure_endpoint", stage="discovery"), logging.ERROR),
    (ProviderUnavailable(code="provider_timeout", stage="token"), logging.ERROR),
    (TokenError(code="invalid_client"), logging.ERROR),
    (TokenError(code="invalid_grant"), logging.WARNING),
    (InvalidToken(code="invalid_acr"), logging.WARNING),
    (InvalidToken(code="disallowed_algorithm"), logging.WARNING),
    (errors.IdPLogoutError(code="access_denied", stage="authorize"), logging.INFO),
    (errors.IdPLogoutError(code="login_required", stage="authorize"), logging.INFO),
])
def test_log_level_says_who_must_act(exc: errors.IdPLogoutError, level: int) -> None:
    assert errors.level_for(exc) == level


def test_new_codes_are_translated(client: Client, fake_op: FakeProvider, settings: Any) -> None:
    from django.utils import translation

    for key in ("insecure_endpoint", "id_token:invalid_acr", "database_unavailable"):
        explanation = errors.EXPLANATIONS[key]
        with translation.override("de"):
            german = (str(explanation.title), str(explanation.message))
        assert german != (str(explanation.title), str(explanation.message)), key
        assert all(german), key
    settings.MIDDLEWARE = [settings.MIDDLEWARE[0], "django.middleware.locale.LocaleMiddleware",
                           *settings.MIDDLEWARE[1:]]
    fake_op.discovery["jwks_uri"] = "http://idp.example.test/jwks"
    body = client.get("/oidc/login/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Anmeldung nicht möglich" in body
    assert "nicht sicher eingerichtet" in body


# --- the German catalogue covers every translatable string of the package ---------------------

PACKAGE = Path(__file__).parent.parent / "django_idp_logout"
CATALOGUE = PACKAGE / "locale" / "de" / "LC_MESSAGES"
GETTEXT_NAMES = {"_", "gettext", "gettext_lazy", "gettext_noop", "pgettext", "pgettext_lazy"}


def source_strings() -> set[str]:
    """Every literal passed to gettext in the package's code and templates."""
    import ast
    import re

    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in GETTEXT_NAMES and node.args
                    and isinstance(node.args[-1] if node.func.id.startswith("p")
                                   else node.args[0], ast.Constant)):
                value = (node.args[-1] if node.func.id.startswith("p") else node.args[0]).value
                if isinstance(value, str):
                    found.add(value)
    tag = re.compile(r"""{%\s*(?:translate|trans)\s+(["'])(.*?)\1""")
    block = re.compile(r"{%\s*blocktrans(?:late)?\s*%}(.*?){%\s*endblocktrans(?:late)?\s*%}",
                       re.S)
    for path in (PACKAGE / "templates").rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        found.update(m.group(2) for m in tag.finditer(text))
        found.update(re.sub(r"{{\s*(\w+)\s*}}", r"%(\1)s", m.group(1))
                     for m in block.finditer(text))
    return found


def read_po(path: Path) -> dict[str, tuple[str, bool]]:
    """``{msgid: (msgstr, fuzzy)}`` of a .po file without plural forms (obsolete entries
    skipped)."""
    import ast

    entries: dict[str, tuple[str, bool]] = {}
    for chunk in path.read_text(encoding="utf-8").split("\n\n"):
        lines = [line for line in chunk.splitlines() if not line.startswith("#~")]
        fuzzy = any(line.startswith("#,") and "fuzzy" in line for line in lines)
        parts: dict[str, str] = {}
        current = None
        for line in lines:
            if line.startswith(("msgid ", "msgstr ", "msgctxt ", "msgid_plural ")):
                current, _, rest = line.partition(" ")
                parts[current] = ast.literal_eval(rest)
            elif line.startswith('"') and current is not None:
                parts[current] += ast.literal_eval(line)
        assert "msgid_plural" not in parts, "plural forms: extend read_po"
        if parts.get("msgid"):
            entries[parts["msgid"]] = (parts.get("msgstr", ""), fuzzy)
    return entries


def test_german_catalogue_covers_the_whole_package() -> None:
    import gettext

    po = read_po(CATALOGUE / "django.po")
    strings = source_strings()
    assert "Signing out" in strings  # the extraction itself works (templates)
    assert "short-lived shared value" in strings  # and Python
    missing = sorted(s for s in strings if s not in po)
    assert missing == [], "run makemessages -l de in django_idp_logout/ and translate"
    untranslated = sorted(s for s, (t, fuzzy) in po.items() if not t or fuzzy)
    assert untranslated == []
    with (CATALOGUE / "django.mo").open("rb") as mo_file:
        compiled = gettext.GNUTranslations(mo_file)
    stale = sorted(s for s, (t, _) in po.items() if compiled.gettext(s) != t)
    assert stale == [], "run compilemessages -l de in django_idp_logout/"


def test_logout_post_page_is_translated() -> None:
    from django.template.loader import render_to_string
    from django.utils import translation

    with translation.override("de"):
        body = render_to_string("django_idp_logout/logout_post.html",
                                {"action": "https://idp.example.test/logout", "params": []})
    assert "Abmeldung läuft" in body
    assert "Weiter" in body
    assert "Signing out" not in body
