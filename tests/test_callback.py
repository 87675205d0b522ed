"""The callback view against a provider that misbehaves on purpose (``responses``).

Every rejection: the user stays anonymous (or stays who they were), no 500, a safe page.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import jwt
import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from django_idp_logout.models import OIDCIdentity

from .conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    ISSUER,
    FakeProvider,
    key,
    start_login,
    unsigned_token,
)

pytestmark = pytest.mark.django_db


def callback(client: Client, params: dict[str, str], **extra: str) -> Any:
    return client.get("/oidc/callback/", {"code": "the-code", "state": params["state"], **extra})


def tokens(id_token: str, **extra: Any) -> dict[str, Any]:
    return {"id_token": id_token, "access_token": "at-1", "token_type": "Bearer",
            "expires_in": 300, **extra}


def assert_anonymous(client: Client) -> None:
    assert SESSION_KEY not in client.session


def test_valid_login(client: Client, fake_op: FakeProvider) -> None:
    params = start_login(client)
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"]))))
    response = callback(client, params)
    assert response.status_code == 302
    assert response["Location"] == "/home/"
    assert client.session[SESSION_KEY]
    assert OIDCIdentity.objects.filter(issuer=ISSUER, subject="user-1").exists()
    # client_secret_basic with the form-encoded pair, PKCE verifier, one token call.
    (call,) = fake_op.token_calls()
    assert call.request.headers["Authorization"].startswith("Basic ")
    assert "code_verifier=" in call.request.body
    assert "client_secret" not in call.request.body


def test_authorization_request_parameters(client: Client, fake_op: FakeProvider,
                                          settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "AUTH_PARAMS": {
        "prompt": "login", "ui_locales": "fr", "state": "attacker-chosen"}}
    params = start_login(client)
    assert params["response_type"] == "code"
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == "http://testserver/oidc/callback/"
    assert params["scope"] == "openid email profile"
    assert params["code_challenge_method"] == "S256"
    assert params["prompt"] == "login"
    assert params["ui_locales"] == "fr"
    assert params["state"] != "attacker-chosen"
    assert len(params["code_challenge"]) == 43


def test_several_pending_attempts_are_bounded(client: Client, fake_op: FakeProvider,
                                              settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "MAX_PENDING_LOGINS": 3}
    attempts = [start_login(client, f"/home/?n={i}") for i in range(5)]
    assert len(client.session["_idp_logout_attempts"]) == 3
    # The oldest were dropped: their callbacks are "expired", the newest still work.
    response = callback(client, attempts[0])
    assert response.status_code == 400
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(attempts[4]["nonce"]))))
    assert callback(client, attempts[4])["Location"] == "/home/?n=4"


def test_expired_attempt(client: Client, fake_op: FakeProvider, settings: Any,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    params = start_login(client)
    later = time.time() + 601
    monkeypatch.setattr("django_idp_logout.state.time.time", lambda: later)
    response = callback(client, params)
    assert response.status_code == 400
    assert b"Your sign-in expired" in response.content
    assert fake_op.token_calls() == []
    assert_anonymous(client)


@pytest.mark.parametrize("state", ["", "unknown", "x" * 5000])
def test_unknown_state(client: Client, fake_op: FakeProvider, state: str) -> None:
    start_login(client)
    response = client.get("/oidc/callback/", {"code": "c", "state": state})
    assert response.status_code == 400
    assert "no-store" in response["Cache-Control"]
    assert fake_op.token_calls() == []
    assert_anonymous(client)


def test_state_from_another_browser_is_rejected(client: Client, fake_op: FakeProvider) -> None:
    params = start_login(client)
    other = Client()
    response = callback(other, params)
    assert response.status_code == 400
    assert fake_op.token_calls() == []


def test_replayed_state_is_single_use(client: Client, fake_op: FakeProvider) -> None:
    params = start_login(client)
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"]))))
    assert callback(client, params).status_code == 302
    client.logout()
    response = callback(client, params)
    assert response.status_code == 400
    assert len(fake_op.token_calls()) == 1
    assert_anonymous(client)


def test_concurrent_callbacks_exchange_the_code_once(client: Client,
                                                     fake_op: FakeProvider) -> None:
    """Two requests that loaded the same session: only one may reach the token endpoint."""
    params = start_login(client)
    cookie = client.cookies["sessionid"].value
    twin = Client()
    twin.cookies["sessionid"] = cookie
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"]))))
    from django_idp_logout import state

    # Simulate the race: the twin request claims the state between the session load and
    # the claim of the first request.
    assert state.claim_once("state", params["state"], 600)
    response = callback(client, params)
    assert response.status_code == 400
    assert fake_op.token_calls() == []
    assert_anonymous(client)


def test_double_submit_after_success_continues(client: Client, fake_op: FakeProvider) -> None:
    params = start_login(client, "/home/?after")
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"]))))
    assert callback(client, params)["Location"] == "/home/?after"
    again = callback(client, params)
    assert again.status_code == 302
    assert again["Location"] == "/home/?after"
    assert len(fake_op.token_calls()) == 1


@pytest.mark.parametrize("next_url", [
    "https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)",
    "http://testserver.evil.example/", "https:///evil.example", " https://evil.example",
])
def test_open_redirect_in_next_is_replaced(client: Client, fake_op: FakeProvider,
                                           next_url: str) -> None:
    params = start_login(client, next_url)
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"]))))
    assert callback(client, params)["Location"] == "/home/"


def test_allowed_redirect_hosts(client: Client, fake_op: FakeProvider, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "ALLOWED_REDIRECT_HOSTS": ["app.example.test"]}
    params = start_login(client, "http://app.example.test/x")
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"]))))
    assert callback(client, params)["Location"] == "http://app.example.test/x"


# --- ID token rejections -----------------------------------------------------------------

def _hs256_with_public_key(fake: FakeProvider, claims: dict[str, Any]) -> str:
    """The classic confusion attack: HMAC keyed with the provider's public key."""
    from cryptography.hazmat.primitives import serialization

    pem = fake.keys[0].private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = jwt.utils.base64url_encode(json.dumps({"alg": "HS256", "kid": "k1"}).encode())
    payload = jwt.utils.base64url_encode(json.dumps(claims).encode())
    import hashlib
    import hmac

    signature = hmac.new(pem, header + b"." + payload, hashlib.sha256).digest()
    return b".".join([header, payload, jwt.utils.base64url_encode(signature)]).decode()


now = int(time.time())

REJECTIONS: dict[str, Any] = {
    "bad signature": lambda f, n: f.sign(f.claims(n), signing_key=key("attacker", kid="k1")),
    "alg none": lambda f, n: unsigned_token(f.claims(n)),
    "HS256 with the public key": lambda f, n: _hs256_with_public_key(f, f.claims(n)),
    "HS256 with the client secret, not configured": lambda f, n: jwt.encode(
        f.claims(n), CLIENT_SECRET, algorithm="HS256"),
    "wrong iss": lambda f, n: f.sign(f.claims(n, iss="https://evil.example.test")),
    "iss with trailing slash": lambda f, n: f.sign(f.claims(n, iss=ISSUER + "/")),
    "wrong aud": lambda f, n: f.sign(f.claims(n, aud="other-client")),
    "extra untrusted aud": lambda f, n: f.sign(f.claims(n, aud=[CLIENT_ID, "other"],
                                                        azp=CLIENT_ID)),
    "several aud without azp": lambda f, n: f.sign(f.claims(n, aud=[CLIENT_ID, CLIENT_ID])),
    "wrong azp": lambda f, n: f.sign(f.claims(n, azp="other")),
    "expired": lambda f, n: f.sign(f.claims(n, iat=now - 1000, exp=now - 61)),
    "exp as numeric string": lambda f, n: f.sign(f.claims(n, exp=str(now + 300))),
    "no exp": lambda f, n: f.sign({k: v for k, v in f.claims(n).items() if k != "exp"}),
    "future iat beyond leeway": lambda f, n: f.sign(f.claims(n, iat=now + 120)),
    "no iat": lambda f, n: f.sign({k: v for k, v in f.claims(n).items() if k != "iat"}),
    "nbf in the future": lambda f, n: f.sign(f.claims(n, nbf=now + 120)),
    "wrong nonce": lambda f, n: f.sign(f.claims("another-nonce")),
    "no nonce": lambda f, n: f.sign({k: v for k, v in f.claims(n).items() if k != "nonce"}),
    "no sub": lambda f, n: f.sign({k: v for k, v in f.claims(n).items() if k != "sub"}),
    "unknown kid": lambda f, n: f.sign(f.claims(n), signing_key=key("rogue")),
    "logout token typ": lambda f, n: f.sign(f.claims(n), headers={"typ": "logout+jwt"}),
    "logout token events": lambda f, n: f.sign(f.claims(n, events={
        "http://schemas.openid.net/event/backchannel-logout": {}})),
    "bad at_hash": lambda f, n: f.sign(f.claims(n, at_hash="AAAAAAAAAAAAAAAAAAAAAA")),
    "not a JWT": lambda f, n: "not.a.jwt",
    "JWE shape": lambda f, n: "a.b.c.d.e",
    "crit header": lambda f, n: f.sign(f.claims(n), headers={"crit": ["exp"], "exp": 1}),
}


@pytest.mark.parametrize("case", list(REJECTIONS))
def test_id_token_rejections(client: Client, fake_op: FakeProvider, case: str,
                             caplog: pytest.LogCaptureFixture) -> None:
    params = start_login(client)
    fake_op.token_response(tokens(REJECTIONS[case](fake_op, params["nonce"])))
    with caplog.at_level(logging.WARNING, logger="django_idp_logout"):
        response = callback(client, params)
    assert response.status_code in (400, 502), response.status_code
    assert b"Reference:" in response.content
    assert_anonymous(client)
    assert not OIDCIdentity.objects.exists()
    (record,) = [r for r in caplog.records if r.name == "django_idp_logout"
                 and "stage=" in r.getMessage() and "reference=" in r.getMessage()]
    assert "the-code" not in record.getMessage()


def test_missing_kid_with_one_key_works(client: Client, fake_op: FakeProvider) -> None:
    fake_op.keys = [key("solo", kid=None)]
    params = start_login(client)
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"]))))
    assert callback(client, params).status_code == 302


def test_missing_kid_with_several_keys_is_rejected(client: Client,
                                                   fake_op: FakeProvider) -> None:
    fake_op.keys = [key("a", kid=None), key("b", kid=None)]
    params = start_login(client)
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"]))))
    assert callback(client, params).status_code == 502
    assert_anonymous(client)


def test_unusable_keys_in_jwks_are_ignored(client: Client, fake_op: FakeProvider) -> None:
    """The conformance suite publishes decoy keys; a conformant RP skips them."""
    good = key("k1")
    decoys = [{"kty": "AKP", "kid": "pq", "alg": "ML-DSA-99", "pub": "AAAA"},
              {"kty": "made-up", "kid": "x"},
              {**key("k2").public_jwk(), "alg": "RS999"},
              {"kty": "EC", "crv": "P-999", "kid": "bad-curve", "x": "AA", "y": "AA"}]
    fake_op.mock.replace("GET", f"{ISSUER}/jwks",
                         json={"keys": [*decoys, good.public_jwk()]})
    params = start_login(client)
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"]), good)))
    assert callback(client, params).status_code == 302


def test_key_rotation_refetches_jwks_once(client: Client, fake_op: FakeProvider) -> None:
    params = start_login(client)
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"]))))
    assert callback(client, params).status_code == 302  # JWKS cached with k1
    fake_op.keys = [key("k1"), key("k-new")]
    client.logout()
    params = start_login(client)
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"]),
                                               key("k-new"))))
    assert callback(client, params).status_code == 302
    jwks_calls = [c for c in fake_op.mock.calls if c.request.url.endswith("/jwks")]
    assert len(jwks_calls) == 2


def test_unknown_kid_refetch_is_rate_limited(client: Client, fake_op: FakeProvider) -> None:
    for _ in range(3):
        params = start_login(client)
        fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"]),
                                                   key("rogue"))))
        assert callback(client, params).status_code == 502
    jwks_calls = [c for c in fake_op.mock.calls if c.request.url.endswith("/jwks")]
    assert len(jwks_calls) == 2  # first fetch + one refetch for "rogue", then no more
    # ...but a genuinely new kid still gets its first refetch.
    fake_op.keys = [key("k1"), key("k-rotated")]
    params = start_login(client)
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"]),
                                               key("k-rotated"))))
    assert callback(client, params).status_code == 302


def test_es256_provider(client: Client, fake_op: FakeProvider, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "ALGORITHMS": ["ES256"]}  # default: RS256
    fake_op.keys = [key("ec1", kind="EC")]
    params = start_login(client)
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"]))))
    assert callback(client, params).status_code == 302


def test_hs256_when_configured(client: Client, fake_op: FakeProvider, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "ALGORITHMS": ["HS256"]}
    params = start_login(client)
    fake_op.token_response(tokens(jwt.encode(fake_op.claims(params["nonce"]), CLIENT_SECRET,
                                             algorithm="HS256")))
    assert callback(client, params).status_code == 302
    assert not [c for c in fake_op.mock.calls if c.request.url.endswith("/jwks")]


def test_hs256_with_wrong_secret_is_rejected(client: Client, fake_op: FakeProvider,
                                             settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "ALGORITHMS": ["HS256"]}
    params = start_login(client)
    fake_op.token_response(tokens(jwt.encode(fake_op.claims(params["nonce"]), "wrong-secret-" * 4,
                                             algorithm="HS256")))
    assert callback(client, params).status_code == 502
    assert_anonymous(client)


def test_valid_at_hash_is_accepted(client: Client, fake_op: FakeProvider) -> None:
    import base64
    import hashlib

    digest = hashlib.sha256(b"at-1").digest()
    at_hash = base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
    params = start_login(client)
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"],
                                                              at_hash=at_hash))))
    assert callback(client, params).status_code == 302


def test_iat_within_leeway_is_accepted(client: Client, fake_op: FakeProvider) -> None:
    params = start_login(client)
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"],
                                                              iat=int(time.time()) + 30))))
    assert callback(client, params).status_code == 302


def test_max_age_requires_auth_time(client: Client, fake_op: FakeProvider,
                                    settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "AUTH_PARAMS": {"max_age": "300"}}
    params = start_login(client)
    assert params["max_age"] == "300"
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"]))))
    assert callback(client, params).status_code == 502
    params = start_login(client)
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(
        params["nonce"], auth_time=int(time.time()) - 10))))
    assert callback(client, params).status_code == 302


# --- iss parameter (RFC 9207) --------------------------------------------------------------

def test_wrong_iss_parameter(client: Client, fake_op: FakeProvider) -> None:
    params = start_login(client)
    response = callback(client, params, iss="https://evil.example.test")
    assert response.status_code == 400
    assert fake_op.token_calls() == []
    assert_anonymous(client)


def test_iss_parameter_required_when_advertised(client: Client, fake_op: FakeProvider) -> None:
    fake_op.discovery["authorization_response_iss_parameter_supported"] = True
    params = start_login(client)
    assert callback(client, params).status_code == 400
    params = start_login(client)
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"]))))
    assert callback(client, params, iss=ISSUER).status_code == 302


# --- UserInfo ------------------------------------------------------------------------------

def test_userinfo_sub_mismatch(client: Client, fake_op: FakeProvider, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "USE_USERINFO": True}
    fake_op.mock.add("GET", f"{ISSUER}/userinfo", json={"sub": "someone-else"})
    params = start_login(client)
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"]))))
    response = callback(client, params)
    assert response.status_code == 502
    assert_anonymous(client)


def test_userinfo_claims_cannot_override_identity(client: Client, fake_op: FakeProvider,
                                                  settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "USE_USERINFO": True}
    fake_op.mock.add("GET", f"{ISSUER}/userinfo", json={
        "sub": "user-1", "iss": "https://evil.example", "email": "new@example.test"})
    params = start_login(client)
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"]))))
    assert callback(client, params).status_code == 302
    identity = OIDCIdentity.objects.get()
    assert identity.issuer == ISSUER
    assert identity.user.email == "new@example.test"
    userinfo_call = next(c for c in fake_op.mock.calls if c.request.url.endswith("/userinfo"))
    assert userinfo_call.request.headers["Authorization"] == "Bearer at-1"


# --- users ---------------------------------------------------------------------------------

def test_users_are_matched_by_issuer_and_sub_not_email(client: Client, fake_op: FakeProvider,
                                                       django_user_model: Any) -> None:
    existing = django_user_model.objects.create_user("victim", email="user1@example.test")
    params = start_login(client)
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"]))))
    assert callback(client, params).status_code == 302
    assert int(client.session[SESSION_KEY]) != existing.pk


def test_link_by_verified_email_is_opt_in(client: Client, fake_op: FakeProvider,
                                          settings: Any, django_user_model: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "LINK_USERS_BY_EMAIL": True}
    existing = django_user_model.objects.create_user("known", email="USER1@example.test")
    params = start_login(client)
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"],
                                                              email_verified=False))))
    assert callback(client, params).status_code == 302
    assert int(client.session[SESSION_KEY]) != existing.pk  # unverified: not linked
    client.logout()
    django_user_model.objects.exclude(pk=existing.pk).delete()
    params = start_login(client)
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"], sub="user-2"))))
    assert callback(client, params).status_code == 302
    assert int(client.session[SESSION_KEY]) == existing.pk


def test_create_users_off_refuses_unknown_users(client: Client, fake_op: FakeProvider,
                                                settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "CREATE_USERS": False}
    params = start_login(client)
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"]))))
    response = callback(client, params)
    assert response.status_code == 403
    assert_anonymous(client)


def test_inactive_user_is_refused(client: Client, fake_op: FakeProvider) -> None:
    params = start_login(client)
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"]))))
    callback(client, params)
    user = OIDCIdentity.objects.get().user
    user.is_active = False
    user.save()
    client.logout()
    params = start_login(client)
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"]))))
    assert callback(client, params).status_code == 403
    assert_anonymous(client)


def test_failed_login_keeps_a_signed_in_user_signed_in(client: Client,
                                                       fake_op: FakeProvider) -> None:
    params = start_login(client)
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"]))))
    callback(client, params)
    user_id = client.session[SESSION_KEY]
    params = start_login(client)
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims("wrong"))))
    assert callback(client, params).status_code == 502
    assert client.session[SESSION_KEY] == user_id


def test_public_client_sends_client_id_and_no_secret(client: Client, fake_op: FakeProvider,
                                                     settings: Any) -> None:
    settings.IDP_LOGOUT = {"ISSUER": ISSUER, "CLIENT_ID": CLIENT_ID}
    params = start_login(client)
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"]))))
    assert callback(client, params).status_code == 302
    (call,) = fake_op.token_calls()
    assert "Authorization" not in call.request.headers
    assert f"client_id={CLIENT_ID}" in call.request.body
    assert "client_secret" not in call.request.body


def test_client_secret_post(client: Client, fake_op: FakeProvider, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "TOKEN_AUTH_METHOD": "client_secret_post"}
    params = start_login(client)
    fake_op.token_response(tokens(fake_op.sign(fake_op.claims(params["nonce"]))))
    assert callback(client, params).status_code == 302
    (call,) = fake_op.token_calls()
    assert "Authorization" not in call.request.headers
    assert f"client_secret={CLIENT_SECRET}" in call.request.body


def test_login_view_rejects_other_methods(client: Client, fake_op: FakeProvider) -> None:
    assert client.put("/oidc/login/").status_code == 405
    assert client.post("/oidc/callback/").status_code == 405
