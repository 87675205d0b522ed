"""mozilla-django-oidc's documentation, run through this app.

``MyOIDCAB`` is the backend subclass its "Installation" page builds up (``filter_users_by_claims``
through a unique e-mail, ``create_user``/``update_user`` filling names, ``verify_claims``
requiring a group), with one change: the base class. Each test signs in through the callback
with :class:`FakeProvider` and checks that the hooks ran, with the validated claims. The
settings block of the same page configures a working sign-in through the ``OIDC_*`` fallbacks.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import SESSION_KEY, get_user_model
from django.test import Client

from django_idp_logout.backends import OIDCBackend, VerifiedIdentity
from django_idp_logout.exceptions import ConfigurationError
from django_idp_logout.models import OIDCIdentity

from .conftest import CLIENT_ID, CLIENT_SECRET, ISSUER, FakeProvider, start_login

pytestmark = pytest.mark.django_db

User = get_user_model()
CALLS: list[tuple[str, dict[str, Any]]] = []


class MyOIDCAB(OIDCBackend):
    """mozilla-django-oidc's documented examples; only the base class differs."""

    def verify_claims(self, claims: Any) -> Any:
        CALLS.append(("verify_claims", dict(claims)))
        verified = super().verify_claims(claims)
        is_admin = "admin" in claims.get("group", [])
        return verified and is_admin

    def filter_users_by_claims(self, claims: Any) -> Any:
        CALLS.append(("filter_users_by_claims", dict(claims)))
        email = claims.get("email")
        if not email:
            return self.UserModel.objects.none()
        try:  # their Profile table with a unique e-mail; here, the user table
            return [self.UserModel.objects.get(email=email)]
        except self.UserModel.DoesNotExist:
            return self.UserModel.objects.none()

    def create_user(self, claims: Any) -> Any:
        CALLS.append(("create_user", dict(claims)))
        user = super().create_user(claims)
        user.first_name = claims.get("given_name", "")
        user.last_name = claims.get("family_name", "")
        user.save()
        return user

    def update_user(self, user: Any, claims: Any) -> Any:
        CALLS.append(("update_user", dict(claims)))
        user.first_name = claims.get("given_name", "")
        user.last_name = claims.get("family_name", "")
        user.save()
        return user


def generate_username(email: str) -> str:
    """``OIDC_USERNAME_ALGO`` as their documentation writes it."""
    return unicodedata.normalize("NFKC", email)[:150]


@pytest.fixture
def my_backend(fake_op: FakeProvider, settings: Any) -> Iterator[None]:
    settings.AUTHENTICATION_BACKENDS = ["tests.test_mozilla_upgrade.MyOIDCAB",
                                        "django.contrib.auth.backends.ModelBackend"]
    CALLS.clear()
    yield
    CALLS.clear()


def sign_in(client: Client, fake_op: FakeProvider, **claims: Any) -> tuple[int, dict[str, str]]:
    """One sign-in through login/ and callback/; the status and the authorization request."""
    params = start_login(client)
    signed = fake_op.sign(fake_op.claims(params["nonce"], group=["admin"], **claims))
    fake_op.token_response({"id_token": signed, "access_token": "at", "token_type": "Bearer",
                            "expires_in": 300})
    response = client.get("/oidc/callback/", {"code": "c", "state": params["state"]})
    return response.status_code, params


def hooks() -> list[str]:
    return [name for name, _ in CALLS]


def assert_validated(claims: dict[str, Any], nonce: str) -> None:
    """The claims of the ID token the callback validated for this attempt."""
    assert claims["iss"] == ISSUER
    assert claims["aud"] == CLIENT_ID
    assert claims["nonce"] == nonce
    assert claims["sub"] == "user-1"


@pytest.mark.usefixtures("my_backend")
def test_documented_subclass_creates_then_updates_the_user(client: Client,
                                                          fake_op: FakeProvider) -> None:
    status, params = sign_in(client, fake_op, given_name="Ada", family_name="Lovelace")
    assert status == 302
    assert hooks() == ["verify_claims", "filter_users_by_claims", "create_user"]
    for _, claims in CALLS:
        assert_validated(claims, params["nonce"])
    user = User.objects.get(pk=client.session[SESSION_KEY])
    assert (user.first_name, user.last_name) == ("Ada", "Lovelace")
    assert OIDCIdentity.objects.get(user=user).subject == "user-1"

    client.logout()
    CALLS.clear()
    status, params = sign_in(client, fake_op, given_name="Ada", family_name="King")
    assert status == 302
    # The identity is known now: no lookup, no creation.
    assert hooks() == ["verify_claims", "update_user"]
    assert_validated(CALLS[-1][1], params["nonce"])
    user.refresh_from_db()
    assert user.last_name == "King"


@pytest.mark.usefixtures("my_backend")
def test_documented_filter_links_an_existing_user(client: Client, fake_op: FakeProvider) -> None:
    existing = User.objects.create_user("ada", email="user1@example.test")
    status, _ = sign_in(client, fake_op, given_name="Ada")
    assert status == 302
    assert hooks() == ["verify_claims", "filter_users_by_claims", "update_user"]
    assert int(client.session[SESSION_KEY]) == existing.pk
    existing.refresh_from_db()
    assert existing.first_name == "Ada"
    assert OIDCIdentity.objects.get(issuer=ISSUER, subject="user-1").user == existing


@pytest.mark.usefixtures("my_backend")
def test_documented_filter_never_sees_an_unverified_email(client: Client,
                                                          fake_op: FakeProvider) -> None:
    existing = User.objects.create_user("ada", email="user1@example.test")
    status, _ = sign_in(client, fake_op, email_verified=False)
    assert status == 302
    filter_claims = dict(CALLS)["filter_users_by_claims"]
    assert "email" not in filter_claims
    assert int(client.session[SESSION_KEY]) != existing.pk


@pytest.mark.usefixtures("my_backend")
def test_documented_filter_never_links_a_user_with_an_identity(client: Client,
                                                               fake_op: FakeProvider) -> None:
    existing = User.objects.create_user("ada", email="user1@example.test")
    OIDCIdentity.objects.create(user=existing, issuer="https://other.example.test", subject="x")
    status, _ = sign_in(client, fake_op)
    assert status == 302
    assert hooks() == ["verify_claims", "filter_users_by_claims", "create_user"]
    assert int(client.session[SESSION_KEY]) != existing.pk


@pytest.mark.usefixtures("my_backend")
def test_documented_verify_claims_refuses(client: Client, fake_op: FakeProvider) -> None:
    params = start_login(client)
    signed = fake_op.sign(fake_op.claims(params["nonce"], group=["staff"]))
    fake_op.token_response({"id_token": signed, "access_token": "at", "token_type": "Bearer"})
    response = client.get("/oidc/callback/", {"code": "c", "state": params["state"]})
    assert response.status_code == 403
    assert SESSION_KEY not in client.session
    assert hooks() == ["verify_claims"]
    assert not User.objects.exists()


@pytest.mark.usefixtures("my_backend")
def test_documented_username_algo(client: Client, fake_op: FakeProvider, settings: Any) -> None:
    settings.OIDC_USERNAME_ALGO = "tests.test_mozilla_upgrade.generate_username"
    # Their function normalizes (NFKC): a fullwidth "A" becomes "A".
    status, _ = sign_in(client, fake_op, email="\uff21da@example.test")
    assert status == 302
    assert User.objects.get(pk=client.session[SESSION_KEY]).username == "Ada@example.test"


# --- what cannot apply says so -----------------------------------------------------------

@pytest.mark.parametrize(("method", "args", "where"), [
    ("get_token", ({"code": "c"},), "token request"),
    ("verify_token", ("a.b.c",), "validates the ID token"),
    ("retrieve_matching_jwk", ("a.b.c",), "JWKS"),
    ("get_userinfo", ("at", "a.b.c", {}), "USE_USERINFO"),
    ("store_tokens", ("at", "a.b.c"), "server-side"),
    ("get_or_create_user", ("at", None, None), "OIDC_DRF_AUTH_BACKEND"),
])
def test_inherited_flow_methods_say_where_their_step_lives(method: str, args: tuple[Any, ...],
                                                           where: str) -> None:
    with pytest.raises(NotImplementedError, match=where):
        getattr(OIDCBackend(), method)(*args)


def test_a_subclass_overriding_a_method_that_never_runs_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"get_userinfo\(\).*USE_USERINFO"):
        class Lost(OIDCBackend):
            def get_userinfo(self, access_token: str, id_token: str, payload: Any) -> Any:
                return {}


def test_mozilla_callback_view_calling_the_backend_is_refused_with_a_warning(
        rf: Any, caplog: pytest.LogCaptureFixture) -> None:
    """Django's contract: ``None`` for credentials a backend does not handle, so that
    mozilla-django-oidc's own backend (still listed during a migration) can sign in."""
    request = rf.get("/oidc/callback/", {"code": "c", "state": "s"})
    assert OIDCBackend().authenticate(request, nonce="n", code_verifier="v") is None
    assert "django_idp_logout.urls" in caplog.text
    caplog.clear()
    assert OIDCBackend().authenticate(request, username="u", password="p") is None
    assert not caplog.text


def test_get_user_is_djangos_inactive_users_are_none() -> None:
    user = User.objects.create_user("ada", is_active=False)
    assert OIDCBackend().get_user(user.pk) is None
    user.is_active = True
    user.save()
    assert OIDCBackend().get_user(user.pk) == user
    assert OIDCBackend().get_user(user.pk + 1) is None


def test_async_authenticate_and_get_user() -> None:
    """``aauthenticate`` is ``authenticate`` (ModelBackend's would only check passwords)."""
    identity = VerifiedIdentity(issuer=ISSUER, subject="user-1",
                                claims={"iss": ISSUER, "sub": "user-1"})
    backend = OIDCBackend()

    async def sign_in_and_load() -> tuple[Any, Any]:
        user = await backend.aauthenticate(None, idp_identity=identity)
        if user is None or not hasattr(backend, "aget_user"):  # aget_user is Django 5.0+
            return user, user
        return user, await backend.aget_user(user.pk)

    user, loaded = async_to_sync(sign_in_and_load)()
    assert user is not None
    assert loaded == user


# --- their settings block, through the fallbacks -------------------------------------------

#: mozilla-django-oidc's "Add settings to settings.py" values, for the fake provider.
MOZILLA_SETTINGS = {
    "OIDC_RP_CLIENT_ID": CLIENT_ID,
    "OIDC_RP_CLIENT_SECRET": CLIENT_SECRET,
    "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{ISSUER}/authorize",
    "OIDC_OP_TOKEN_ENDPOINT": f"{ISSUER}/token",
    "OIDC_OP_USER_ENDPOINT": f"{ISSUER}/userinfo",
    "OIDC_RP_SIGN_ALGO": "RS256",
    "OIDC_OP_JWKS_ENDPOINT": f"{ISSUER}/jwks",
}


@pytest.mark.parametrize("discovery", [True, False])
def test_their_settings_block_signs_in(client: Client, fake_op: FakeProvider, settings: Any,
                                       discovery: bool) -> None:
    """Only ``ISSUER`` is added: with discovery, the issuer the document states; without,
    the ``iss`` of the ID tokens, exactly."""
    for name, value in MOZILLA_SETTINGS.items():
        setattr(settings, name, value)
    settings.IDP_LOGOUT = {"ISSUER": ISSUER, "USE_DISCOVERY": discovery}
    fake_op.discovery["token_endpoint"] = f"{ISSUER}/not-this-one"  # OIDC_OP_* win
    status, _ = sign_in(client, fake_op)
    assert status == 302
    assert SESSION_KEY in client.session
    discovered = [c for c in fake_op.mock.calls if "well-known" in c.request.url]
    assert bool(discovered) == discovery
    assert len(fake_op.token_calls()) == 1


def test_their_settings_block_needs_issuer(client: Client, fake_op: FakeProvider,
                                           settings: Any) -> None:
    """mozilla-django-oidc never checks ``iss``; this app does: a wrong ISSUER refuses."""
    for name, value in MOZILLA_SETTINGS.items():
        setattr(settings, name, value)
    settings.IDP_LOGOUT = {"ISSUER": "https://elsewhere.example.test", "USE_DISCOVERY": False}
    status, _ = sign_in(client, fake_op)
    assert status >= 400
    assert SESSION_KEY not in client.session
