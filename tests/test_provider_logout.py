"""Back-channel and front-channel logout: token validation (Back-Channel Logout 1.0 §2.6) and
ending sessions in every Django session engine."""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from django_idp_logout import session_end
from django_idp_logout.models import OIDCSession
from django_idp_logout.signals import backchannel_logout

from .conftest import CLIENT_ID, ISSUER, FakeProvider, key, start_login, unsigned_token

pytestmark = pytest.mark.django_db

EVENT = "http://schemas.openid.net/event/backchannel-logout"


def sign_in(fake_op: FakeProvider, *, sub: str = "user-1", sid: str | None = "sid-1",
            client: Client | None = None) -> Client:
    client = client or Client()
    params = start_login(client)
    fake_op.token_response({"id_token": fake_op.sign(fake_op.claims(params["nonce"], sub=sub,
                                                                    sid=sid)),
                            "access_token": "a", "token_type": "Bearer"})
    response = client.get("/oidc/callback/", {"code": "c", "state": params["state"]})
    assert response.status_code == 302
    return client


def logout_claims(**overrides: Any) -> dict[str, Any]:
    claims = {"iss": ISSUER, "aud": CLIENT_ID, "iat": int(time.time()), "jti": str(uuid.uuid4()),
              "exp": int(time.time()) + 120,  # required (Back-Channel Logout 1.0 final §2.4)
              "sid": "sid-1", "sub": "user-1", "events": {EVENT: {}}}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def post_token(token: str, client: Client | None = None) -> Any:
    return (client or Client()).post("/oidc/backchannel-logout/",
                                     urlencode({"logout_token": token}),
                                     content_type="application/x-www-form-urlencoded")


def signed_in(client: Client) -> bool:
    return client.get("/home/").content != b"home anonymous"




def test_logout_by_sid_ends_that_session_only(fake_op: FakeProvider, engine: str) -> None:
    first = sign_in(fake_op, sid="sid-1")
    second = sign_in(fake_op, sid="sid-2")
    assert signed_in(first)
    assert signed_in(second)
    response = post_token(fake_op.sign(logout_claims(sid="sid-1", sub=None)))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert not signed_in(first)
    assert signed_in(second)


def test_logout_by_sub_ends_every_session_of_the_user(fake_op: FakeProvider,
                                                      engine: str) -> None:
    sessions = [sign_in(fake_op, sid=f"sid-{i}") for i in range(3)]
    other = sign_in(fake_op, sub="someone-else", sid="sid-x")
    assert post_token(fake_op.sign(logout_claims(sid=None))).status_code == 200
    assert not any(signed_in(c) for c in sessions)
    assert signed_in(other)


def test_sign_in_after_logout_by_sub_works(fake_op: FakeProvider, engine: str) -> None:
    sign_in(fake_op)
    assert post_token(fake_op.sign(logout_claims(sid=None))).status_code == 200
    time.sleep(0.01)
    fresh = sign_in(fake_op)
    assert signed_in(fresh)


def test_mapping_is_recorded_and_cleaned(fake_op: FakeProvider, engine: str) -> None:
    client = sign_in(fake_op)
    row = OIDCSession.objects.get()
    assert row.sid == "sid-1"
    assert row.subject == "user-1"
    assert (row.session_key == "") is (engine == "signed_cookies")
    if engine != "signed_cookies":
        client.get("/oidc/logout/")  # CSRF cookie
        client.post("/oidc/logout/")
        assert not OIDCSession.objects.exists()


def test_signal(fake_op: FakeProvider) -> None:
    events: list[dict[str, Any]] = []
    backchannel_logout.connect(lambda **kw: events.append(kw), weak=False,
                               dispatch_uid="t-signal")
    try:
        sign_in(fake_op)
        post_token(fake_op.sign(logout_claims()))
    finally:
        backchannel_logout.disconnect(dispatch_uid="t-signal")
    (event,) = events
    assert event["sid"] == "sid-1"
    assert event["sub"] == "user-1"
    assert event["sessions"] == 1
    assert len(event["users"]) == 1


def test_no_matching_session_is_still_200(fake_op: FakeProvider) -> None:
    assert post_token(fake_op.sign(logout_claims(sid="unknown"))).status_code == 200


now = int(time.time())

INVALID: dict[str, Any] = {
    "alg none": lambda f: unsigned_token(logout_claims()),
    "wrong alg (HS256 with client secret, not allowed)": lambda f: __import__("jwt").encode(
        logout_claims(), "test-secret-0123456789abcdef0123456789abcdef", algorithm="HS256"),
    "bad signature": lambda f: f.sign(logout_claims(), signing_key=key("attacker", kid="k1")),
    "wrong iss": lambda f: f.sign(logout_claims(iss="https://evil.example.test")),
    "wrong aud": lambda f: f.sign(logout_claims(aud="other")),
    "iat too old": lambda f: f.sign(logout_claims(iat=now - 3600)),
    "iat in the future": lambda f: f.sign(logout_claims(iat=now + 600)),
    "expired": lambda f: f.sign(logout_claims(exp=now - 120)),
    "no jti": lambda f: f.sign(logout_claims(jti=None)),
    "no events": lambda f: f.sign(logout_claims(events=None)),
    "wrong event": lambda f: f.sign(logout_claims(events={"urn:other": {}})),
    "event not an object": lambda f: f.sign(logout_claims(events={EVENT: "yes"})),
    "with nonce": lambda f: f.sign(logout_claims(nonce="n")),
    "no sid and no sub": lambda f: f.sign(logout_claims(sid=None, sub=None)),
    "sid not a string": lambda f: f.sign(logout_claims(sid=5)),
    "an ID token": lambda f: f.sign(f.claims("some-nonce")),
    "garbage": lambda f: "garbage",
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_logout_tokens_are_rejected(fake_op: FakeProvider, case: str) -> None:
    client = sign_in(fake_op)
    response = post_token(INVALID[case](fake_op))
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "invalid_request"
    assert response["Cache-Control"] == "no-store"
    assert signed_in(client)


def test_replayed_jti_is_rejected(fake_op: FakeProvider) -> None:
    token = fake_op.sign(logout_claims(sid="unknown"))
    assert post_token(token).status_code == 200
    assert post_token(token).status_code == 400


def test_forged_token_does_not_burn_the_jti(fake_op: FakeProvider) -> None:
    claims = logout_claims()
    forged = fake_op.sign(claims, signing_key=key("attacker", kid="k1"))
    assert post_token(forged).status_code == 400
    assert post_token(fake_op.sign(claims)).status_code == 200


def test_typ_logout_jwt_accepted_and_required_when_configured(fake_op: FakeProvider,
                                                              settings: Any) -> None:
    assert post_token(fake_op.sign(logout_claims(), headers={"typ": "logout+jwt"})
                      ).status_code == 200
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "REQUIRE_LOGOUT_TOKEN_TYP": True}
    assert post_token(fake_op.sign(logout_claims())).status_code == 400
    assert post_token(fake_op.sign(logout_claims(), headers={"typ": "logout+jwt"})
                      ).status_code == 200


def test_key_rotation_applies_to_logout_tokens(fake_op: FakeProvider) -> None:
    sign_in(fake_op)  # JWKS cached with k1
    fake_op.keys = [key("k1"), key("k-new")]
    assert post_token(fake_op.sign(logout_claims(), key("k-new"))).status_code == 200


def test_method_content_type_and_shape(fake_op: FakeProvider) -> None:
    client = Client()
    assert client.get("/oidc/backchannel-logout/").status_code == 405
    assert client.post("/oidc/backchannel-logout/", "{}", content_type="application/json"
                       ).status_code == 415
    assert client.post("/oidc/backchannel-logout/", {}).status_code == 415  # multipart
    assert client.post("/oidc/backchannel-logout/", "other=1",
                       content_type="application/x-www-form-urlencoded").status_code == 400
    assert client.post("/oidc/backchannel-logout/",
                       "logout_token=a&logout_token=b",
                       content_type="application/x-www-form-urlencoded").status_code == 400


def test_csrf_exempt(fake_op: FakeProvider) -> None:
    client = Client(enforce_csrf_checks=True)
    assert post_token(fake_op.sign(logout_claims()), client).status_code == 200


def test_provider_keys_unavailable_is_503(fake_op: FakeProvider) -> None:
    import requests

    fake_op.mock.replace("GET", f"{ISSUER}/jwks", body=requests.ConnectionError("down"))
    response = post_token(fake_op.sign(logout_claims()))
    assert response.status_code == 503


def test_signed_cookie_revocation_is_one_cache_lookup_and_no_query(
    fake_op: FakeProvider, settings: Any, django_assert_num_queries: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a shared, atomic cache the revocation check is one cache lookup."""
    from django.core.cache import caches

    from django_idp_logout import store

    monkeypatch.setattr(store, "atomic_shared_cache", lambda config=None: caches["default"])
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    client = sign_in(fake_op)
    with django_assert_num_queries(1):  # the user; no session query with cookie sessions
        assert signed_in(client)


def test_signed_cookie_revocation_on_a_per_process_cache_is_one_query(
    fake_op: FakeProvider, settings: Any, django_assert_num_queries: Any
) -> None:
    """On the default LocMemCache the markers live in the database, so every process sees
    them: one indexed lookup, only for sessions signed in through the provider."""
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    client = sign_in(fake_op)
    with django_assert_num_queries(2):  # the user + the revocation markers
        assert signed_in(client)


def test_server_side_engines_add_no_query(fake_op: FakeProvider,
                                          django_assert_num_queries: Any) -> None:
    client = sign_in(fake_op)
    with django_assert_num_queries(2):  # session + user, as without the app
        assert signed_in(client)


# --- front-channel ------------------------------------------------------------------------------

def test_frontchannel_ends_matching_session(fake_op: FakeProvider) -> None:
    client = sign_in(fake_op)
    response = client.get("/oidc/frontchannel-logout/", {"iss": ISSUER, "sid": "sid-1"})
    assert response.status_code == 200
    assert b"signed out" in response.content
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Security-Policy"] == "frame-ancestors https://idp.example.test"
    assert "X-Frame-Options" not in response
    assert not signed_in(client)
    assert not OIDCSession.objects.exists()


@pytest.mark.parametrize("params", [
    {}, {"iss": ISSUER}, {"sid": "sid-1"}, {"iss": "https://evil.example", "sid": "sid-1"},
    {"iss": ISSUER, "sid": "sid-2"}, {"iss": ISSUER, "sid": ""},
])
def test_frontchannel_mismatch_changes_nothing(fake_op: FakeProvider,
                                               params: dict[str, str]) -> None:
    client = sign_in(fake_op)
    response = client.get("/oidc/frontchannel-logout/", params)
    assert response.status_code == 200
    assert b"no change" in response.content
    assert signed_in(client)
    assert SESSION_KEY in client.session


def test_frontchannel_frame_ancestors_setting(fake_op: FakeProvider, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT,
                           "FRONTCHANNEL_FRAME_ANCESTORS": ["https://a.test", "https://b.test"]}
    response = Client().get("/oidc/frontchannel-logout/")
    assert response["Content-Security-Policy"] == "frame-ancestors https://a.test https://b.test"


def test_frontchannel_rejects_post(fake_op: FakeProvider) -> None:
    assert Client().post("/oidc/frontchannel-logout/").status_code == 405


# --- housekeeping -----------------------------------------------------------------------------

def test_clear_idp_sessions(fake_op: FakeProvider) -> None:
    from django.core.management import call_command
    from django.utils import timezone

    alive = sign_in(fake_op, sid="alive")
    sign_in(fake_op, sid="gone")
    from django.contrib.sessions.models import Session

    gone = OIDCSession.objects.get(sid="gone")
    Session.objects.filter(session_key=gone.session_key).delete()
    OIDCSession.objects.update(expires=timezone.now() - timezone.timedelta(seconds=1))
    call_command("clear_idp_sessions", verbosity=0)
    assert list(OIDCSession.objects.values_list("sid", flat=True)) == ["alive"]
    assert signed_in(alive)


def test_database_error_is_a_503_for_the_provider(fake_op: FakeProvider,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db import OperationalError


    def broken(*args: Any, **kwargs: Any) -> list[Any]:
        raise OperationalError("database is locked")

    monkeypatch.setattr(session_end, "end_sessions", broken)
    response = post_token(fake_op.sign(logout_claims()))
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"


@pytest.mark.parametrize("length", ["abc", "-1", "1e9", "99999999999999999999"])
def test_malformed_content_length_is_not_a_500(fake_op: FakeProvider, length: str) -> None:
    response = Client().post("/oidc/backchannel-logout/", "logout_token=x",
                             content_type="application/x-www-form-urlencoded",
                             CONTENT_LENGTH=length)
    assert response.status_code == 400
