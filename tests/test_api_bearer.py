"""Bearer tokens on the site's API (``IDP_LOGOUT["API"]``): plain views and DRF, against a
fake provider (``responses``). Every refusal is a 4xx with RFC 6750's header, never a 500;
the end-to-end twin with the real provider is ``test_e2e_api``."""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from django_idp_logout.models import OIDCIdentity

from .conftest import CLIENT_ID, CLIENT_SECRET, ISSUER, FakeProvider, key, unsigned_token

pytestmark = pytest.mark.django_db

AUDIENCE = "https://api.example.test/"
INTROSPECTION = f"{ISSUER}/introspect"


class Api:
    """The fake provider, with an introspection endpoint whose answers the test sets."""

    def __init__(self, op: FakeProvider) -> None:
        self.op = op
        self.answers: dict[str, dict[str, Any]] = {}
        op.discovery["introspection_endpoint"] = INTROSPECTION
        op.mock.add_callback(responses.POST, INTROSPECTION, callback=self._introspect)

    def _introspect(self, request: Any) -> tuple[int, dict[str, str], str]:
        form = dict(p.split("=", 1) for p in request.body.split("&"))
        answer = self.answers.get(form["token"], {"active": False})
        return (answer.pop("_status", 200), {}, json.dumps(answer))

    def introspections(self) -> int:
        return sum(1 for c in self.op.mock.calls if c.request.url == INTROSPECTION)

    def token(self, header: dict[str, Any] | None = None, **overrides: Any) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "user-1", "client_id": CLIENT_ID,
                  "scope": "api:read api:write", "iat": now, "exp": now + 300,
                  "jti": str(uuid.uuid4()), **overrides}
        return self.op.sign({k: v for k, v in claims.items() if v is not None},
                            headers={"typ": "at+jwt", **(header or {})})


@pytest.fixture
def api(settings: Any) -> Iterator[Api]:
    settings.IDP_LOGOUT = {"ISSUER": ISSUER, "CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET,
                           "API": {"AUDIENCE": AUDIENCE, "INTROSPECT": True}}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield Api(FakeProvider(mock))


def call(path: str, token: str | None, method: str = "get", **extra: Any) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
    return getattr(Client(), method)(f"/api/{path}/", **headers, **extra)


def linked_user(username: str = "alice", subject: str = "user-1") -> Any:
    user = get_user_model().objects.create_user(username)
    OIDCIdentity.objects.create(user=user, issuer=ISSUER, subject=subject)
    return user


def assert_refused(response: Any, status: int = 401, error: str = "invalid_token") -> None:
    assert response.status_code == status
    assert response["WWW-Authenticate"] == f'Bearer realm="api", error="{error}"'
    assert response.json() == {"error": error}  # nothing that helps an attacker


# --- accepted ---------------------------------------------------------------------------------


def test_a_valid_jwt_access_token_and_its_user(api: Api) -> None:
    linked_user()
    response = call("plain", api.token())
    assert response.status_code == 200
    assert response.json() == {"user": "alice", "subject": "user-1", "client_id": CLIENT_ID,
                               "scopes": ["api:read", "api:write"], "provider": "default"}


def test_a_warm_key_cache_makes_no_outbound_request(api: Api) -> None:
    call("plain", api.token())
    before = api.op.outbound_calls()
    for _ in range(3):
        assert call("plain", api.token()).status_code == 200
    assert api.op.outbound_calls() == before


def test_a_clients_own_token_is_anonymous_with_its_client_id(api: Api) -> None:
    body = call("plain", api.token(sub=None, client_id="machine")).json()
    assert body["user"] is None
    assert body["client_id"] == "machine"


def test_an_unknown_identity_is_anonymous_unless_users_are_created(api: Api,
                                                                    settings: Any) -> None:
    assert call("plain", api.token()).json()["user"] is None
    assert not get_user_model().objects.exists()
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "API": {"AUDIENCE": AUDIENCE,
                                                          "CREATE_USERS": True}}
    assert call("plain", api.token()).json()["user"].startswith("oidc-")
    assert OIDCIdentity.objects.filter(issuer=ISSUER, subject="user-1").exists()


@pytest.mark.parametrize(("header", "claims"), [
    ({"typ": "application/at+jwt"}, {}),
    ({"typ": "JWT"}, {"scp": ["api:read", "api:write"], "scope": None}),  # Okta, Entra style
    ({"typ": "JWT"}, {"aud": ["other", AUDIENCE], "azp": "x"}),
    ({"typ": "JWT"}, {"nonce": "n", "azp": CLIENT_ID}),  # Keycloak before 25
    ({"typ": "JWT"}, {"token_use": "access"}),
])
def test_provider_variants_accepted(api: Api, header: dict[str, Any],
                                    claims: dict[str, Any]) -> None:
    assert call("plain", api.token(header, **claims)).status_code == 200


def test_async_views(api: Api) -> None:
    assert call("async", api.token()).json()["subject"] == "user-1"
    assert_refused(call("async", api.token(aud="other")))


@pytest.mark.django_db(transaction=True)
def test_async_code_sees_the_tokens_user_not_the_sessions(api: Api, rf: Any) -> None:
    import asyncio

    from django_idp_logout.decorators import bearer_token_required

    linked_user()
    seen: list[Any] = []

    @bearer_token_required
    async def view(request: Any) -> Any:
        seen.append(await request.auser())
        from django.http import HttpResponse

        return HttpResponse("ok")

    request = rf.get("/", HTTP_AUTHORIZATION=f"Bearer {api.token()}")
    bob = get_user_model().objects.create_user("session-bob")

    async def session_user() -> Any:
        return bob
    request.user, request.auser = bob, session_user
    assert asyncio.run(view(request)).status_code == 200
    assert seen[0].get_username() == "alice"
    assert request.user.get_username() == "alice"


def test_entra_v1_access_tokens(api: Api, settings: Any) -> None:
    """An API registered without ``requestedAccessTokenVersion: 2`` gets v1.0 tokens, issued
    by ``https://sts.windows.net/<tid>/``: accepted for the configured tenant only."""
    tid, other = "72f988bf-86f1-41af-91ab-2d7cd011db47", "0b9a1b6b-52d0-4b8f-9b6f-3f3b6c1d2e4f"
    entra = FakeProvider(api.op.mock, issuer=f"https://login.microsoftonline.com/{tid}/v2.0",
                         signing_key=key("entra"))
    settings.IDP_LOGOUT = {"PROVIDER": "entra", "ISSUER": entra.issuer, "CLIENT_ID": CLIENT_ID,
                           "API": {"AUDIENCE": "api://orders"}}
    now = int(time.time())

    def v1(**claims: Any) -> str:
        return entra.sign({"iss": f"https://sts.windows.net/{tid}/", "ver": "1.0", "tid": tid,
                           "aud": "api://orders", "sub": "s", "appid": "caller",
                           "scp": "orders.read", "iat": now, "exp": now + 300, **claims},
                          headers={"typ": "JWT"})

    assert call("plain", v1()).json()["scopes"] == ["orders.read"]
    assert_refused(call("plain", v1(ver="2.0")))
    assert_refused(call("plain", v1(tid=other, iss=f"https://sts.windows.net/{other}/")))
    assert_refused(call("plain", v1(iss=f"https://sts.windows.net/{other}/")))


# --- refused ----------------------------------------------------------------------------------


def test_no_token_asks_for_one(api: Api) -> None:
    for response in (call("plain", None),
                     Client().get("/api/plain/", HTTP_AUTHORIZATION="Basic dTpw")):
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer ä", "Bearer\tabc"])
def test_a_malformed_header_is_invalid_request(api: Api, header: str) -> None:
    response = Client().get("/api/plain/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request"}


def _claims(api: Api) -> dict[str, Any]:
    return dict(json.loads(base64.urlsafe_b64decode(api.token().split(".")[1] + "==")))


def _tampered(api: Api) -> str:
    header, payload, signature = api.token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["scope"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


REFUSED = {
    "wrong audience": lambda api: api.token(aud="https://other-api.test/"),
    "audience is the client (an ID token's)": lambda api: api.token(aud=CLIENT_ID),
    "expired": lambda api: api.token(exp=int(time.time()) - 120),
    "not yet valid": lambda api: api.token(nbf=int(time.time()) + 600),
    "no exp": lambda api: api.token(exp=None),
    "wrong issuer": lambda api: api.token(iss="https://evil.example.test"),
    "ID token (nonce, this site's aud)": lambda api: api.token(
        {"typ": "JWT"}, nonce="n", aud=[AUDIENCE, CLIENT_ID], azp=CLIENT_ID),
    "Cognito ID token": lambda api: api.token({"typ": "JWT"}, token_use="id"),
    "DPoP-bound (cnf)": lambda api: api.token(cnf={"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2Hg"}),
    "ID token (at_hash)": lambda api: api.token({"typ": "JWT"}, at_hash="h"),
    "Keycloak ID token (typ claim)": lambda api: api.token({"typ": "JWT"}, typ="ID"),
    "logout token": lambda api: api.token({"typ": "logout+jwt"}, events={"x": {}}),
    "alg none": lambda api: unsigned_token(_claims(api)),
    "alg not allowed": lambda api: api.op.sign(_claims(api), key("ec", "EC")),
    "unknown key": lambda api: api.op.sign(_claims(api), key("stranger")),
    "tampered": _tampered,
    "not a JWT, not introspected": lambda api: "opaque-token-unknown",
    "garbage": lambda api: "a.b.c",
}


@pytest.mark.parametrize("case", REFUSED)
def test_refused_tokens(api: Api, case: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token = REFUSED[case](api)
    response = call("plain", token)
    if response.status_code == 503:  # an unknown kid: the keys are refetched, then refused
        pytest.fail(f"{case}: 503")
    assert_refused(response)
    assert token not in caplog.text


def test_require_at_jwt(api: Api, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "API": {"AUDIENCE": AUDIENCE,
                                                          "REQUIRE_AT_JWT": True}}
    assert_refused(call("plain", api.token({"typ": "JWT"})))
    assert call("plain", api.token()).status_code == 200


def test_a_missing_scope_is_403_naming_the_scopes(api: Api) -> None:
    response = call("scoped", api.token(scope="api:read"), method="post",
                    data="{}", content_type="application/json")
    assert response.status_code == 403
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", scope="api:write"')
    ok = call("scoped", api.token(), method="post", data='{"a": 1}',
              content_type="application/json")  # no CSRF token needed: no cookie involved
    assert ok.json()["body"] == {"a": 1}


def test_scopes_required_by_settings(api: Api, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "API": {"AUDIENCE": AUDIENCE,
                                                          "SCOPES": "api:admin"}}
    assert call("plain", api.token()).status_code == 403


def test_a_clients_own_token_never_becomes_a_user(api: Api, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "API": {"AUDIENCE": AUDIENCE,
                                                          "CREATE_USERS": True}}
    for sub, client_id in (("machine", "machine"), ("machine@clients", "machine")):
        assert call("plain", api.token(sub=sub, client_id=client_id)).json()["user"] is None
    assert call("plain", api.token(sub="app-oid", idtyp="app")).json()["user"] is None
    assert not get_user_model().objects.exists()


def test_created_users_go_through_the_sites_backend(api: Api, settings: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from django_idp_logout.backends import OIDCBackend

    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "CREATE_USERS": False,
                           "API": {"AUDIENCE": AUDIENCE, "CREATE_USERS": True}}
    monkeypatch.setattr(OIDCBackend, "verify_claims", lambda self, claims: claims["sub"] != "no")
    assert_refused(call("plain", api.token(sub="no")))
    assert call("plain", api.token(sub="yes")).json()["user"].startswith("oidc-")


def test_an_inactive_users_token_is_refused(api: Api) -> None:
    user = linked_user()
    user.is_active = False
    user.save()
    assert_refused(call("plain", api.token()))


def test_keys_unavailable_is_503(api: Api) -> None:
    api.op.mock.replace(responses.GET, f"{ISSUER}/jwks", status=500)
    response = call("plain", api.token())
    assert response.status_code == 503
    assert response["Retry-After"] == "30"


def test_without_an_audience_the_api_refuses_to_work(api: Api, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "API": {}}
    with pytest.raises(ImproperlyConfigured, match="AUDIENCE"):
        call("plain", api.token())
    with pytest.raises(ImproperlyConfigured, match="AUDIENCE"):
        call("drf", api.token())


# --- opaque tokens: introspection -------------------------------------------------------------


def active(api: Api, token: str, **claims: Any) -> None:
    api.answers[token] = {"active": True, "iss": ISSUER, "aud": AUDIENCE, "sub": "user-1",
                          "client_id": CLIENT_ID, "scope": "api:read",
                          "exp": int(time.time()) + 300, **claims}


def test_opaque_tokens_are_introspected_and_cached(api: Api) -> None:
    active(api, "opaque-1")
    assert call("plain", "opaque-1").json()["scopes"] == ["api:read"]
    assert call("plain", "opaque-1").status_code == 200
    assert api.introspections() == 1
    (asked,) = [c.request for c in api.op.mock.calls if c.request.url == INTROSPECTION]
    assert "token=opaque-1" in asked.body
    assert asked.headers["Authorization"].startswith("Basic ")  # the client's credentials


def test_introspection_is_not_cached_past_the_tokens_exp(api: Api) -> None:
    active(api, "opaque-2", exp=int(time.time()) + 1)
    call("plain", "opaque-2")
    active(api, "opaque-2", exp=int(time.time()) + 1)
    call("plain", "opaque-2")
    assert api.introspections() == 2


@pytest.mark.parametrize("answer", [
    {"active": False},
    {"active": "true"},
    {"aud": "https://other-api.test/"},
    {"aud": None},
    {"iss": "https://evil.example.test"},
    {"exp": int(time.time()) - 600},
    {"token_type": "refresh_token"},
])
def test_introspection_refusals(api: Api, answer: dict[str, Any]) -> None:
    active(api, "opaque-3", **answer)
    api.answers["opaque-3"] = {k: v for k, v in api.answers["opaque-3"].items() if v is not None}
    assert_refused(call("plain", "opaque-3"))


@pytest.mark.parametrize("exp", [float("nan"), float("inf"), "1", True])
def test_odd_expiry_times_are_refused(api: Api, exp: Any) -> None:
    active(api, "opaque-5", exp=exp)
    assert_refused(call("plain", "opaque-5"))


def test_a_bound_token_is_refused_by_introspection_too(api: Api) -> None:
    active(api, "opaque-6", cnf={"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"})
    assert_refused(call("plain", "opaque-6"))


def test_inactive_answers_are_not_cached(api: Api) -> None:
    for _ in range(2):
        assert_refused(call("plain", "made-up"))
    assert api.introspections() == 2


@pytest.mark.parametrize("status", [400, 401, 500])
def test_introspection_refusing_our_client_is_503(api: Api, status: int) -> None:
    api.answers["opaque-7"] = {"_status": status, "error": "invalid_client"}
    response = call("plain", "opaque-7")
    assert response.status_code == 503
    assert response.json() == {"error": "temporarily_unavailable"}


def test_introspection_unavailable_is_503_and_not_cached(api: Api) -> None:
    api.answers["opaque-4"] = {"_status": 500}
    assert call("plain", "opaque-4").status_code == 503
    active(api, "opaque-4")
    assert call("plain", "opaque-4").status_code == 200


# --- Django REST framework ---------------------------------------------------------------------


def test_drf_accepts_a_token_with_the_scope(api: Api) -> None:
    linked_user()
    assert call("drf", api.token()).json()["user"] == "alice"


def test_drf_refusals(api: Api) -> None:
    missing = call("drf", None)
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"] == 'Bearer realm="api"'
    invalid = call("drf", api.token(aud="other"))
    assert invalid.status_code == 401
    assert invalid["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'
    scope = call("drf-write", api.token(scope="api:read"))
    assert scope.status_code == 403
    assert scope["WWW-Authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", scope="api:read api:write"')
    malformed = Client().get("/api/drf/", HTTP_AUTHORIZATION="Bearer a b")
    assert malformed.status_code == 400


def test_drf_scopes_required_by_settings_and_outages(api: Api, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "API": {"AUDIENCE": AUDIENCE,
                                                          "SCOPES": "api:admin"}}
    response = call("drf", api.token())
    assert response.status_code == 403
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", scope="api:admin"')
    from django.core.cache import caches

    caches["default"].clear()  # the keys must be fetched again: the provider is down
    api.op.mock.replace(responses.GET, f"{ISSUER}/jwks", status=500)
    down = call("drf", api.token())
    assert down.status_code == 503
    assert down["Retry-After"] == "30"


# --- several providers ---------------------------------------------------------------------------


def test_each_provider_checks_its_own_tokens(api: Api, settings: Any) -> None:
    other = FakeProvider(api.op.mock, issuer="https://other.example.test", client_id="o",
                         signing_key=key("other"))
    settings.IDP_LOGOUT = {"PROVIDERS": {
        "staff": {"ISSUER": ISSUER, "CLIENT_ID": CLIENT_ID, "API": {"AUDIENCE": AUDIENCE}},
        "public": {"ISSUER": other.issuer, "CLIENT_ID": "o",
                   "API": {"AUDIENCE": "https://public-api.test/"}}}}
    now = int(time.time())
    public = other.sign({"iss": other.issuer, "aud": "https://public-api.test/", "sub": "p",
                         "iat": now, "exp": now + 60}, headers={"typ": "at+jwt"})
    assert call("plain", public).json()["provider"] == "public"
    assert call("plain", api.token()).json()["provider"] == "staff"
    # The public provider's key, the staff provider's iss and audience: refused.
    forged = other.sign({"iss": ISSUER, "aud": AUDIENCE, "sub": "p", "iat": now,
                         "exp": now + 60}, headers={"typ": "at+jwt"})
    assert_refused(call("plain", forged))
