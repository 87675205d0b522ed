"""Sessions end when they should: account switches, key cycles, front-channel logout without
third-party cookies, retried back-channel logout, and cookie sessions after a local logout."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError
from django.test import Client

from django_idp_logout import session as idp_session
from django_idp_logout import session_end
from django_idp_logout.models import OIDCSession
from django_idp_logout.session import SESSION_KEY as IDP_SESSION_KEY

from .conftest import ISSUER, FakeProvider, start_login
from .test_provider_logout import logout_claims, post_token, signed_in

pytestmark = pytest.mark.django_db

User = get_user_model()


def sign_in_as(fake_op: FakeProvider, client: Client, *, sub: str, sid: str) -> None:
    params = start_login(client)
    fake_op.token_response({
        "id_token": fake_op.sign(fake_op.claims(params["nonce"], sub=sub, sid=sid)),
        "access_token": f"at-{sub}", "refresh_token": f"rt-{sub}", "token_type": "Bearer"})
    response = client.get("/oidc/callback/", {"code": "c", "state": params["state"]})
    assert response.status_code == 302, response.content


def database_down(*args: Any, **kwargs: Any) -> Any:
    raise DatabaseError("database is down")


def frontchannel(client: Client, sid: str, iss: str = ISSUER) -> Any:
    return client.get("/oidc/frontchannel-logout/", {"iss": iss, "sid": sid})


# --- account switch and key cycles ------------------------------------------------------------


def test_account_switch_then_backchannel_for_the_second_account(fake_op: FakeProvider,
                                                                engine: str) -> None:
    client = Client()
    sign_in_as(fake_op, client, sub="alice", sid="sid-a")
    sign_in_as(fake_op, client, sub="bob", sid="sid-b")
    assert client.get("/home/").content.startswith(b"home oidc-")
    assert post_token(fake_op.sign(logout_claims(sub="bob", sid="sid-b"))).status_code == 200
    assert not signed_in(client)


@pytest.mark.parametrize("path", ["/cycle/", "/password-changed/"])
def test_key_cycle_after_sign_in_keeps_backchannel_working(fake_op: FakeProvider, engine: str,
                                                          path: str) -> None:
    client = Client()
    sign_in_as(fake_op, client, sub="alice", sid="sid-a")
    before = client.session.session_key
    assert client.get(path).status_code == 200
    if engine != "signed_cookies":
        assert client.session.session_key != before
        assert OIDCSession.objects.get(sid="sid-a").session_key == client.session.session_key
    assert signed_in(client)
    assert post_token(fake_op.sign(logout_claims(sub="alice", sid="sid-a"))).status_code == 200
    assert not signed_in(client)


def test_sub_only_logout_spares_sessions_started_after_its_iat(fake_op: FakeProvider,
                                                               engine: str) -> None:
    old, new = Client(), Client()
    sign_in_as(fake_op, old, sub="alice", sid="sid-old")
    # The token's iat has whole seconds: the first session started within that second, the
    # second one starts in the next.
    issued_at = int(time.time())
    time.sleep(max(issued_at + 1.05 - time.time(), 0))
    sign_in_as(fake_op, new, sub="alice", sid="sid-new")
    token = fake_op.sign(logout_claims(sub="alice", sid=None, iat=issued_at))
    assert post_token(token).status_code == 200
    assert not signed_in(old)
    assert signed_in(new)


# --- front-channel without third-party cookies --------------------------------------------------


def test_frontchannel_ends_the_session_without_its_cookie(fake_op: FakeProvider,
                                                          engine: str) -> None:
    user, other = Client(), Client()
    sign_in_as(fake_op, user, sub="alice", sid="sid-a")
    sign_in_as(fake_op, other, sub="bob", sid="sid-b")
    cookieless = Client()  # the provider's iframe: the browser withholds this site's cookie
    response = frontchannel(cookieless, "sid-a")
    assert response.status_code == 200
    assert not signed_in(user)
    assert signed_in(other)


@pytest.mark.parametrize("params", [
    {"iss": "https://evil.example", "sid": "sid-a"},
    {"iss": ISSUER},
    {"iss": ISSUER, "sid": "x" * 300},
])
def test_frontchannel_ignores_requests_that_do_not_match(fake_op: FakeProvider,
                                                         params: dict[str, str]) -> None:
    user = Client()
    sign_in_as(fake_op, user, sub="alice", sid="sid-a")
    assert Client().get("/oidc/frontchannel-logout/", params).status_code == 200
    assert signed_in(user)


def test_frontchannel_with_the_cookie_still_ends_this_browser(fake_op: FakeProvider,
                                                              engine: str) -> None:
    user = Client()
    sign_in_as(fake_op, user, sub="alice", sid="sid-a")
    assert frontchannel(user, "sid-a").status_code == 200
    assert not signed_in(user)


# --- back-channel retries -----------------------------------------------------------------------


def test_backchannel_after_a_database_error_can_be_retried(fake_op: FakeProvider,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    user = Client()
    sign_in_as(fake_op, user, sub="alice", sid="sid-a")
    token = fake_op.sign(logout_claims(sub="alice", sid="sid-a"))
    real = session_end.end_sessions

    monkeypatch.setattr(session_end, "end_sessions", database_down)
    response = post_token(token)
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert signed_in(user)
    monkeypatch.setattr(session_end, "end_sessions", real)
    assert post_token(token).status_code == 200  # the provider's retry, same jti
    assert not signed_in(user)
    assert post_token(token).status_code == 400  # a replay after success


def test_backchannel_sid_longer_than_the_column_is_a_400(fake_op: FakeProvider) -> None:
    token = fake_op.sign(logout_claims(sid="s" * 300))
    assert post_token(token).status_code == 400


# --- signed-cookie sessions -----------------------------------------------------------------


def test_signed_cookie_sessions_never_hold_access_or_refresh_tokens(fake_op: FakeProvider,
                                                                    settings: Any) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    client = Client()
    sign_in_as(fake_op, client, sub="alice", sid="sid-a")
    data = client.session[IDP_SESSION_KEY]
    assert data["access_token"] is None
    assert data.get("refresh_token") is None
    assert data["id_token"]
    cookie = client.cookies["sessionid"].value
    assert "at-alice" not in cookie
    assert "rt-alice" not in cookie


def test_signed_cookie_copied_before_logout_stops_working(fake_op: FakeProvider,
                                                          settings: Any) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    client = Client(enforce_csrf_checks=True)
    sign_in_as(fake_op, client, sub="alice", sid="sid-a")
    copied = client.cookies["sessionid"].value
    client.get("/oidc/logout/")
    token = client.cookies["csrftoken"].value
    assert client.post("/oidc/logout/", {"csrfmiddlewaretoken": token}).status_code == 302
    thief = Client()
    thief.cookies["sessionid"] = copied
    assert thief.get("/home/").content == b"home anonymous"


def test_signed_cookie_logout_token_marker_uses_the_shared_store(fake_op: FakeProvider,
                                                                 settings: Any) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    client = Client()
    sign_in_as(fake_op, client, sub="alice", sid="sid-a")
    body = urlencode({"logout_token": fake_op.sign(logout_claims(sub="alice", sid="sid-a"))})
    assert Client().post("/oidc/backchannel-logout/", body,
                         content_type="application/x-www-form-urlencoded").status_code == 200
    assert not signed_in(client)


# --- a sign-in that fails after login() -----------------------------------------------------


def test_database_failure_after_login_leaves_nobody_signed_in(fake_op: FakeProvider,
                                                              engine: str,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    from django.contrib.auth import SESSION_KEY

    monkeypatch.setattr(idp_session, "record", database_down)
    client = Client()
    params = start_login(client)
    fake_op.token_response({"id_token": fake_op.sign(fake_op.claims(params["nonce"])),
                            "access_token": "a", "token_type": "Bearer"})
    response = client.get("/oidc/callback/", {"code": "c", "state": params["state"]})
    assert response.status_code == 503
    assert SESSION_KEY not in client.session
    assert not signed_in(client)


def test_failed_sign_in_as_another_user_keeps_the_first(fake_op: FakeProvider,
                                                       monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    """With the default ``db`` engine the failed sign-in's session changes roll back."""
    client = Client()
    sign_in_as(fake_op, client, sub="alice", sid="sid-a")

    monkeypatch.setattr(idp_session, "record", database_down)
    params = start_login(client)
    fake_op.token_response({"id_token": fake_op.sign(fake_op.claims(params["nonce"],
                                                                    sub="bob")),
                            "access_token": "a", "token_type": "Bearer"})
    assert client.get("/oidc/callback/", {"code": "c", "state": params["state"]}
                      ).status_code == 503
    assert client.get("/home/").content == b"home " + User.objects.get(
        idp_identities__subject="alice").get_username().encode()


# --- races and failures found in review ---------------------------------------------------


def test_backchannel_while_the_request_cycles_the_key(fake_op: FakeProvider, engine: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A logout token that arrives while a request is cycling the session key: the mapping
    still names the old key, so the session must end on the request's way out."""
    from django.http import HttpRequest, HttpResponse

    from . import urls as test_urls

    client = Client()
    sign_in_as(fake_op, client, sub="alice", sid="sid-a")
    token = fake_op.sign(logout_claims(sub="alice", sid="sid-a"))

    def cycle_during_a_logout(request: HttpRequest) -> HttpResponse:
        request.session.cycle_key()
        assert post_token(token).status_code == 200  # the provider's concurrent logout
        return HttpResponse("cycled")

    pattern = next(p for p in test_urls.urlpatterns if str(p.pattern) == "cycle/")
    monkeypatch.setattr(pattern, "callback", cycle_during_a_logout)
    assert client.get("/cycle/").status_code == 200
    assert not signed_in(client)


class CacheDown(Exception):
    """What a cache backend raises when its server is down (Redis, Memcached …)."""


def cache_down(*args: Any, **kwargs: Any) -> Any:
    raise CacheDown("the cache server is down")


def test_frontchannel_with_the_cache_down_still_signs_this_browser_out(
        fake_op: FakeProvider, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from django_idp_logout import store

    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    client = Client()
    sign_in_as(fake_op, client, sub="alice", sid="sid-a")
    monkeypatch.setattr(store, "set_markers", cache_down)
    assert frontchannel(client, "sid-a").status_code == 503
    monkeypatch.undo()
    assert not signed_in(client)


def test_backchannel_with_the_cache_down_is_a_503_to_retry(fake_op: FakeProvider, settings: Any,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    from django_idp_logout import store

    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    client = Client()
    sign_in_as(fake_op, client, sub="alice", sid="sid-a")
    token = fake_op.sign(logout_claims(sub="alice", sid="sid-a"))
    monkeypatch.setattr(store, "set_markers", cache_down)
    response = post_token(token)
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    monkeypatch.undo()
    assert post_token(token).status_code == 200  # the retry: the jti was not spent
    assert not signed_in(client)


def test_id_token_sid_longer_than_the_mapping_is_refused(fake_op: FakeProvider) -> None:
    client = Client()
    params = start_login(client)
    fake_op.token_response({"id_token": fake_op.sign(fake_op.claims(params["nonce"],
                                                                    sid="s" * 300)),
                            "access_token": "a", "token_type": "Bearer"})
    response = client.get("/oidc/callback/", {"code": "c", "state": params["state"]})
    assert response.status_code == 502
    assert not signed_in(client)
