"""After signing out the user is told so, and whether the provider's session ended too —
decided only from what the server verified. Also: the confirmation page's Cancel link, and
the callback's answers to a cancelled sign-in and to an incomplete link."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.messages import SUCCESS, WARNING, get_messages
from django.test import Client

from django_idp_logout.logout_feedback import provider_label

from . import settings as test_settings
from .conftest import FakeProvider, start_login
from .test_logout import post_logout, sign_in

pytestmark = pytest.mark.django_db

NO_MESSAGES = [m for m in test_settings.MIDDLEWARE if "messages" not in m]


def signed_out_messages(response: Any) -> list[Any]:
    return [m for m in get_messages(response.wsgi_request) if "idp-signed-out" in m.tags]


def logout_state(client: Client, fake_op: FakeProvider, next_url: str = "/after/") -> str:
    sign_in(client, fake_op)
    response = post_logout(client, {"next": next_url})
    assert response.status_code == 302
    return parse_qs(urlsplit(response["Location"]).query)["state"][0]


def test_verified_return_says_provider_session_ended(client: Client, fake_op: FakeProvider,
                                                     settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "DISPLAY_NAME": "Example ID"}
    state = logout_state(client, fake_op)
    response = client.get("/oidc/logout/complete/", {"state": state})
    assert response.status_code == 302
    assert response["Location"] == "/after/"
    [message] = signed_out_messages(response)
    assert message.level == SUCCESS
    assert "Example ID" in message.message
    assert "<" not in message.message


def test_provider_error_on_return_says_it_could_not(client: Client, fake_op: FakeProvider,
                                                     settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "DISPLAY_NAME": "Example ID"}
    state = logout_state(client, fake_op)
    response = client.get("/oidc/logout/complete/", {"state": state, "error": "x"})
    [message] = signed_out_messages(response)
    assert message.level == WARNING
    assert "Example ID" in message.message


def test_unverified_return_trusts_nothing(client: Client, fake_op: FakeProvider,
                                          settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "POST_LOGOUT_REDIRECT_URL": "/public/"}
    logout_state(client, fake_op)
    response = client.get("/oidc/logout/complete/",
                          {"state": "forged", "next": "https://evil.example/"})
    assert response["Location"] == "/public/"
    [message] = signed_out_messages(response)
    assert message.level == WARNING
    assert "evil" not in message.message


def test_replayed_state_is_unconfirmed(client: Client, fake_op: FakeProvider) -> None:
    state = logout_state(client, fake_op)
    assert signed_out_messages(client.get("/oidc/logout/complete/", {"state": state}))[0].level \
        == SUCCESS
    again = client.get("/oidc/logout/complete/", {"state": state})
    assert signed_out_messages(again)[-1].level == WARNING  # the first one was never shown


def test_page_when_site_has_no_messages(client: Client, fake_op: FakeProvider,
                                        settings: Any) -> None:
    settings.MIDDLEWARE = NO_MESSAGES
    state = logout_state(client, fake_op)
    response = client.get("/oidc/logout/complete/", {"state": state})
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-provider-session="ended"' in body
    assert 'href="/after/"' in body
    assert response["Content-Security-Policy"] == "frame-ancestors 'none'"
    forged = client.get("/oidc/logout/complete/", {"state": "forged"}).content.decode()
    assert 'data-provider-session="unconfirmed"' in forged


def test_password_user_is_told_signed_out(client: Client, fake_op: FakeProvider) -> None:
    user = get_user_model().objects.create_user("pw-user", password="pw")
    client.force_login(user)
    response = post_logout(client, {"next": "/after/"})
    assert response["Location"] == "/after/"
    [message] = signed_out_messages(response)
    assert message.level == SUCCESS
    assert SESSION_KEY not in client.session


def test_provider_without_end_session_says_it_could_not(client: Client,
                                                         fake_op: FakeProvider) -> None:
    del fake_op.discovery["end_session_endpoint"]
    sign_in(client, fake_op)
    response = post_logout(client, {"next": "/after/"})
    assert response["Location"] == "/after/"
    [message] = signed_out_messages(response)
    assert message.level == WARNING


def test_page_when_logout_clears_cookies(client: Client, fake_op: FakeProvider,
                                         settings: Any) -> None:
    """A cookie-stored message would be deleted with the cookies it rides in."""
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "CLEAR_SITE_DATA": ["cookies"]}
    user = get_user_model().objects.create_user("pw-user", password="pw")
    client.force_login(user)
    response = post_logout(client, {"next": "/after/"})
    assert response.status_code == 200
    assert 'data-provider-session="none"' in response.content.decode()
    assert response["Clear-Site-Data"] == '"cookies"'


def test_generic_provider_is_not_named(settings: Any, fake_op: FakeProvider) -> None:
    assert provider_label("default") is None
    assert provider_label(None) is None
    assert provider_label("removed") is None
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "PROVIDER": "keycloak"}
    assert provider_label("default") == "Keycloak"


@pytest.mark.parametrize(("referer", "expected"), [
    ("http://testserver/page/?x=1", "http://testserver/page/?x=1"),
    ("/relative/", "/relative/"),
    ("https://evil.example/page/", "/home/"),  # LOGIN_REDIRECT_URL
    ("http://testserver/oidc/logout/", "/home/"),  # never back to itself
    ("", "/home/"),
])
def test_cancel_goes_back_where_the_user_came_from(client: Client, fake_op: FakeProvider,
                                                   referer: str, expected: str) -> None:
    sign_in(client, fake_op)
    response = client.get("/oidc/logout/", headers={"referer": referer} if referer else {})
    assert response.context["cancel_url"] == expected
    assert SESSION_KEY in client.session


def test_cancelled_sign_in_is_info_and_not_a_bad_request(
        client: Client, fake_op: FakeProvider, caplog: pytest.LogCaptureFixture) -> None:
    params = start_login(client)
    with caplog.at_level(logging.INFO):
        response = client.get("/oidc/callback/", {"state": params["state"],
                                                  "error": "access_denied"})
    assert response.status_code == 200
    assert "Sign-in cancelled" in response.content.decode()
    assert [r.levelname for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_callback_without_parameters_says_the_link_is_incomplete(
        client: Client, fake_op: FakeProvider, caplog: pytest.LogCaptureFixture) -> None:
    start_login(client)
    with caplog.at_level(logging.INFO, logger="django_idp_logout"):
        response = client.get("/oidc/callback/")
    assert response.status_code == 400
    body = response.content.decode()
    assert "incomplete" in body
    assert "expired" not in body
    [record] = [r for r in caplog.records if r.name == "django_idp_logout"]
    assert record.levelno == logging.INFO
    assert "code=incomplete_callback" in record.getMessage()


def test_return_for_a_signed_in_user_says_nothing(client: Client, fake_op: FakeProvider) -> None:
    """A link to logout/complete/ (or a late return) must not tell a signed-in user that
    they are signed out."""
    sign_in(client, fake_op)
    response = client.get("/oidc/logout/complete/", {"state": "forged"})
    assert response.status_code == 302
    assert signed_out_messages(response) == []
    assert SESSION_KEY in client.session


def test_single_page_app_logout_queues_no_message(client: Client, fake_op: FakeProvider) -> None:
    """The app shows its own feedback; a queued message would surface on a later page."""
    sign_in(client, fake_op)
    answer = client.post("/oidc/logout/", {"next": "/after/"}, headers={"X-CSRF": "1"})
    navigate = client.get(answer.json()["redirect_url"])  # the handoff, or the provider
    url = navigate["Location"] if navigate.status_code == 302 else answer.json()["redirect_url"]
    state = parse_qs(urlsplit(url).query)["state"][0]
    response = client.get("/oidc/logout/complete/", {"state": state})
    assert response["Location"] == "/after/"
    assert signed_out_messages(response) == []


def test_single_page_app_is_told_when_the_provider_could_not_be_asked(
        client: Client, fake_op: FakeProvider) -> None:
    del fake_op.discovery["end_session_endpoint"]
    sign_in(client, fake_op)
    answer = client.post("/oidc/logout/", headers={"X-CSRF": "1"}).json()
    assert answer["provider_session"] == "failed"
    user = get_user_model().objects.create_user("pw-user", password="pw")
    client.force_login(user)
    assert client.post("/oidc/logout/", headers={"X-CSRF": "1"}).json()[
        "provider_session"] == "none"


def test_cancel_falls_back_to_the_apps_login_redirect_url(
        client: Client, fake_op: FakeProvider, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "LOGIN_REDIRECT_URL": "/idp-home/"}
    sign_in(client, fake_op)
    assert client.get("/oidc/logout/").context["cancel_url"] == "/idp-home/"


@pytest.mark.parametrize("params", [{"code": "c"}, {"error": "access_denied"}])
def test_code_or_error_without_state_is_still_an_expired_sign_in(
        client: Client, fake_op: FakeProvider, caplog: pytest.LogCaptureFixture,
        params: dict[str, str]) -> None:
    """Only a callback/ with nothing at all is "incomplete"; a code or an error without a
    state is a request that does not check out (WARNING)."""
    start_login(client)
    with caplog.at_level(logging.INFO, logger="django_idp_logout"):
        response = client.get("/oidc/callback/", params)
    assert response.status_code == 400
    [record] = [r for r in caplog.records if r.name == "django_idp_logout"]
    assert record.levelno == logging.WARNING
    assert "code=login_expired" in record.getMessage()


@pytest.mark.parametrize("storage", ["fallback.FallbackStorage", "session.SessionStorage"])
def test_message_on_every_session_engine(client: Client, fake_op: FakeProvider,
                                         engine: str, settings: Any, storage: str) -> None:
    """The message survives the flushed session of every engine, in either storage, and
    reaches the landing page's request."""
    settings.MESSAGE_STORAGE = f"django.contrib.messages.storage.{storage}"
    state = logout_state(client, fake_op)
    assert SESSION_KEY not in client.session
    response = client.get("/oidc/logout/complete/", {"state": state})
    landing = client.get(response["Location"])
    shown = [m for m in get_messages(landing.wsgi_request) if "idp-signed-out" in m.tags]
    assert [m.level for m in shown] == [SUCCESS]
    assert SESSION_KEY not in client.session
