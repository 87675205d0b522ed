"""The middleware's session rules (issue 12): ``SESSION_CHECK_INTERVAL`` (refresh token, else
``prompt=none`` for navigations only), ``SESSION_IDLE_TIMEOUT`` and ``SESSION_MAX_AGE``."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from django_idp_logout.models import OIDCSession
from django_idp_logout.session import SESSION_KEY

from .conftest import ISSUER, FakeProvider
from .test_token_renewal import (
    refresh_calls,
    refresh_response,
    sign_in,
    signed_in,
)

pytestmark = pytest.mark.django_db


def configure(settings: Any, **keys: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, **keys}


def age(client: Client, **seconds: float) -> None:
    """Move the session's clocks (``checked_at``, ``seen_at``, ``signed_in_at``,
    ``expires_at``, ``check_after``) back; a check's age is also the stored tokens' age."""
    session = client.session
    data = dict(session[SESSION_KEY])
    for name, delta in seconds.items():
        data[name] = data[name] - delta
    session[SESSION_KEY] = data
    session.save()
    tokens = json.loads(OIDCSession.objects.get().tokens)
    for name, stored in (("checked_at", "issued_at"), ("expires_at", "expires_at")):
        if name in seconds and tokens.get(stored):
            tokens[stored] -= seconds[name]
    OIDCSession.objects.update(tokens=json.dumps(tokens))


def query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


# --- off by default ----------------------------------------------------------------------------


def test_off_by_default_even_for_an_old_session(fake_op: FakeProvider) -> None:
    client = Client()
    sign_in(fake_op, client)
    age(client, checked_at=10**6, seen_at=10**6, signed_in_at=10**6)
    calls = fake_op.outbound_calls()
    assert client.get("/home/").content.startswith(b"home oidc-")
    assert fake_op.outbound_calls() == calls


# --- with a refresh token ----------------------------------------------------------------------


def test_check_not_due_costs_nothing(fake_op: FakeProvider, settings: Any) -> None:
    configure(settings, SESSION_CHECK_INTERVAL=300)
    client = Client()
    sign_in(fake_op, client)
    calls = fake_op.outbound_calls()
    with CaptureQueriesContext(connection) as checked:
        client.get("/home/")
    configure(settings, SESSION_CHECK_INTERVAL=None)
    with CaptureQueriesContext(connection) as unchecked:
        client.get("/home/")
    assert len(checked.captured_queries) == len(unchecked.captured_queries)
    assert fake_op.outbound_calls() == calls


def test_due_check_refreshes_once_per_interval(fake_op: FakeProvider, settings: Any) -> None:
    configure(settings, SESSION_CHECK_INTERVAL=300)
    client = Client()
    sign_in(fake_op, client)
    age(client, checked_at=301)
    refresh_response(fake_op, refresh_token="rt-2")
    assert client.get("/home/").content.startswith(b"home oidc-")
    assert client.get("/home/").content.startswith(b"home oidc-")
    assert len(refresh_calls(fake_op)) == 1
    assert client.session[SESSION_KEY]["access_token"] == "at-2"


def test_expired_token_makes_the_check_due(fake_op: FakeProvider, settings: Any) -> None:
    configure(settings, SESSION_CHECK_INTERVAL=3600)
    client = Client()
    sign_in(fake_op, client)
    age(client, expires_at=4000, checked_at=61)
    refresh_response(fake_op)
    client.get("/home/")
    assert len(refresh_calls(fake_op)) == 1


def test_refused_check_signs_out_with_a_page(fake_op: FakeProvider, settings: Any,
                                             expired_sessions: list[dict[str, Any]]) -> None:
    configure(settings, SESSION_CHECK_INTERVAL=300)
    client = Client()
    sign_in(fake_op, client)
    age(client, checked_at=301)
    refresh_response(fake_op, status=400, error="invalid_grant")
    response = client.get("/home/?tab=2")
    assert response.status_code == 302
    assert query(response["Location"]) == {"reason": "refresh_refused", "next": "/home/?tab=2"}
    assert not signed_in(client)
    assert [e["reason"] for e in expired_sessions] == ["refresh_refused"]
    # No loop: the signed-out user goes on without any further check.
    assert client.get("/home/").content == b"home anonymous"
    assert len(refresh_calls(fake_op)) == 1


def test_refused_check_answers_xhr_with_401_json(fake_op: FakeProvider, settings: Any) -> None:
    configure(settings, SESSION_CHECK_INTERVAL=300)
    client = Client()
    sign_in(fake_op, client)
    age(client, checked_at=301)
    refresh_response(fake_op, status=400, error="invalid_grant")
    response = client.get("/home/", HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    assert response.status_code == 401
    assert response.json()["reason"] == "refresh_refused"
    assert response.json()["signed_out"] is True


def test_provider_down_postpones_the_check(fake_op: FakeProvider, settings: Any) -> None:
    configure(settings, SESSION_CHECK_INTERVAL=300)
    client = Client()
    sign_in(fake_op, client)
    age(client, checked_at=301)
    refresh_response(fake_op, status=503)
    assert client.get("/home/").content.startswith(b"home oidc-")
    assert client.get("/home/").content.startswith(b"home oidc-")  # not retried at once
    assert len(refresh_calls(fake_op)) == 1
    retry = client.session[SESSION_KEY]["check_after"]
    assert time.time() + 55 < retry <= time.time() + 60


def test_the_apps_own_views_are_not_checked(fake_op: FakeProvider, settings: Any) -> None:
    configure(settings, SESSION_CHECK_INTERVAL=300)
    client = Client()
    sign_in(fake_op, client)
    age(client, checked_at=301)
    assert client.get("/oidc/logout/").status_code == 200  # the confirmation page
    assert refresh_calls(fake_op) == []


# --- without a refresh token: prompt=none ------------------------------------------------------


def silent_redirect(client: Client, path: str = "/home/?a=1") -> dict[str, str]:
    response = client.get(path)
    assert response.status_code == 302, response.content
    assert response["Location"].startswith(f"{ISSUER}/authorize?")
    return query(response["Location"])


def due_silent_check(fake_op: FakeProvider, settings: Any) -> tuple[Client, dict[str, str]]:
    """A session without a refresh token whose check is due, and its navigation's
    ``prompt=none`` authorization request."""
    configure(settings, SESSION_CHECK_INTERVAL=300)
    client = Client()
    sign_in(fake_op, client, refresh_token=None)
    age(client, checked_at=301)
    return client, silent_redirect(client)


def answer_silently(fake_op: FakeProvider, client: Client, params: dict[str, str], *,
                    nonce: str | None = None, sub: str = "alice") -> Any:
    """The provider answers the check with a code whose ID token names ``sub``."""
    fake_op.token_response({
        "id_token": fake_op.sign(fake_op.claims(nonce or params["nonce"], sub=sub)),
        "access_token": f"at-{sub}", "token_type": "Bearer", "expires_in": 3600})
    return client.get("/oidc/callback/", {"code": "c2", "state": params["state"]})


def test_silent_check_for_a_navigation(fake_op: FakeProvider, settings: Any) -> None:
    client, params = due_silent_check(fake_op, settings)
    assert params["prompt"] == "none"
    back = answer_silently(fake_op, client, params)
    assert (back.status_code, back["Location"]) == (302, "/home/?a=1")
    assert client.get("/home/").content.startswith(b"home oidc-")  # checked: no redirect
    assert client.session[SESSION_KEY]["access_token"] == "at-alice"
    assert OIDCSession.objects.get().token_version == 1


@pytest.mark.parametrize("error", ["login_required", "interaction_required",
                                   "consent_required"])
def test_silent_check_refused_signs_out(fake_op: FakeProvider, settings: Any, error: str,
                                        expired_sessions: list[dict[str, Any]]) -> None:
    client, params = due_silent_check(fake_op, settings)
    back = client.get("/oidc/callback/", {"error": error, "state": params["state"]})
    assert back.status_code == 302
    assert query(back["Location"]) == {"reason": error, "next": "/home/?a=1"}
    assert not signed_in(client)
    assert [e["reason"] for e in expired_sessions] == [error]
    page = client.get(back["Location"])
    assert b"You have been signed out" in page.content


@pytest.mark.parametrize(("answer", "reason"), [
    ({"sub": "mallory"}, "subject_changed"),
    ({"nonce": "wrong-nonce"}, "id_token_rejected"),
], ids=["another-user", "bad-id-token"])
def test_silent_check_answered_for_someone_else_signs_out(
        fake_op: FakeProvider, settings: Any, answer: dict[str, str], reason: str) -> None:
    client, params = due_silent_check(fake_op, settings)
    back = answer_silently(fake_op, client, params, **answer)
    assert query(back["Location"])["reason"] == reason
    assert not signed_in(client)


def test_silent_check_with_the_provider_down_goes_on(fake_op: FakeProvider,
                                                     settings: Any) -> None:
    client, params = due_silent_check(fake_op, settings)
    back = client.get("/oidc/callback/", {"error": "temporarily_unavailable",
                                          "state": params["state"]})
    assert (back.status_code, back["Location"]) == (302, "/home/?a=1")
    assert client.get("/home/?a=1").content.startswith(b"home oidc-")  # postponed: no loop


def test_failed_silent_check_with_an_expired_token_does_not_loop(fake_op: FakeProvider,
                                                                settings: Any) -> None:
    """The token stays expired after a check the provider could not answer: the next
    navigations are not sent to the provider again before the retry time."""
    configure(settings, SESSION_CHECK_INTERVAL=300)
    client = Client()
    sign_in(fake_op, client, refresh_token=None)
    age(client, checked_at=301, expires_at=4000)
    params = silent_redirect(client)
    back = client.get("/oidc/callback/", {"error": "server_error", "state": params["state"]})
    assert back["Location"] == "/home/?a=1"
    for _ in range(3):
        assert client.get("/home/?a=1").status_code == 200
    age(client, check_after=61)
    assert client.get("/home/?a=1").status_code == 302  # retried a minute later


def test_expired_token_right_after_a_check_waits_a_minute(fake_op: FakeProvider,
                                                          settings: Any) -> None:
    configure(settings, SESSION_CHECK_INTERVAL=300)
    client = Client()
    sign_in(fake_op, client, refresh_token=None)
    age(client, expires_at=4000, checked_at=30)
    assert client.get("/home/").status_code == 200
    age(client, checked_at=31)
    assert client.get("/home/").status_code == 302


@pytest.mark.urls("tests.urls_catchall")
def test_silent_check_never_returns_to_another_site(fake_op: FakeProvider,
                                                    settings: Any) -> None:
    configure(settings, SESSION_CHECK_INTERVAL=300)
    client = Client()
    sign_in(fake_op, client, refresh_token=None)
    age(client, checked_at=301)
    response = client.get("/", PATH_INFO="//evil.example/path")
    assert response.status_code == 302
    params = query(response["Location"])
    back = client.get("/oidc/callback/", {"error": "server_error", "state": params["state"]})
    assert back["Location"] == "/home/"


def test_idle_timeout_turned_on_later_ends_nobody(fake_op: FakeProvider, settings: Any) -> None:
    client = Client()
    sign_in(fake_op, client)
    session = client.session
    data = dict(session[SESSION_KEY])
    del data["seen_at"]  # signed in before SESSION_IDLE_TIMEOUT was set (an older version)
    data["signed_in_at"] -= 10_000
    session[SESSION_KEY] = data
    session.save()
    configure(settings, SESSION_IDLE_TIMEOUT=900)
    assert client.get("/home/").status_code == 200
    assert signed_in(client)


def test_concurrent_check_uses_a_set_renewed_within_the_interval(fake_op: FakeProvider,
                                                                 settings: Any) -> None:
    """Another request (another tab) renewed while this one's session copy was stale: no
    second refresh."""
    configure(settings, SESSION_CHECK_INTERVAL=300)
    client = Client()
    sign_in(fake_op, client)
    age(client, checked_at=301)
    stale = dict(client.session[SESSION_KEY])
    refresh_response(fake_op, refresh_token="rt-2")
    client.get("/home/")
    assert len(refresh_calls(fake_op)) == 1
    session = client.session
    session[SESSION_KEY] = stale  # the other tab's request loaded the session before
    session.save()
    client.get("/home/")
    assert len(refresh_calls(fake_op)) == 1


def test_xhr_is_never_sent_to_the_provider(fake_op: FakeProvider, settings: Any) -> None:
    configure(settings, SESSION_CHECK_INTERVAL=300)
    client = Client()
    sign_in(fake_op, client, refresh_token=None)
    age(client, checked_at=301)
    for headers in ({"HTTP_ACCEPT": "application/json"},
                    {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"},
                    {"HTTP_SEC_FETCH_MODE": "cors", "HTTP_SEC_FETCH_DEST": "empty"}):
        response = client.get("/home/", **headers)
        assert response.status_code == 401, headers
        body = response.json()
        assert body["reason"] == "check_required"
        assert body["signed_out"] is False
        assert body["login_url"].startswith("/oidc/login/?next=")
    assert signed_in(client)


@pytest.mark.parametrize("method", ["post", "put"])
def test_post_is_never_redirected(fake_op: FakeProvider, settings: Any, method: str) -> None:
    configure(settings, SESSION_CHECK_INTERVAL=300)
    client = Client()
    sign_in(fake_op, client, refresh_token=None)
    age(client, checked_at=301)
    response = getattr(client, method)("/home/", {"field": "value"})
    assert response.status_code == 200
    assert response.content.startswith(b"home oidc-")


def test_frames_are_not_redirected(fake_op: FakeProvider, settings: Any) -> None:
    configure(settings, SESSION_CHECK_INTERVAL=300)
    client = Client()
    sign_in(fake_op, client, refresh_token=None)
    age(client, checked_at=301)
    response = client.get("/home/", HTTP_SEC_FETCH_MODE="navigate", HTTP_SEC_FETCH_DEST="iframe")
    assert response.status_code == 200
