"""``LINK_USERS_BY_EMAIL`` cannot attach one person's sign-in to another person's account.

The attack it must resist: register the victim's address, unverified, at a provider (or as a
second account at the same one), sign in here so that an account carries that address, and
wait for the victim's verified sign-in to be linked into it. Hence: only verified addresses are
matched *and stored*, a user who already has a provider identity is never linked, and linking
happens only when exactly one user has the address (compared case-insensitively).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.base_user import AbstractBaseUser
from django.test import Client

from django_idp_logout.backends import OIDCBackend, VerifiedIdentity
from django_idp_logout.models import OIDCIdentity

from .conftest import ISSUER, FakeProvider, start_login

pytestmark = pytest.mark.django_db

OTHER_ISSUER = "https://other-idp.example.test"
VICTIM = "victim@example.test"


@pytest.fixture
def linking(settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "LINK_USERS_BY_EMAIL": True}


def sign_in(subject: str, issuer: str = ISSUER, backend: OIDCBackend | None = None,
            **claims: Any) -> AbstractBaseUser | None:
    """What the callback view does once the ID token is valid: hand the backend a
    :class:`VerifiedIdentity`."""
    claims = {"iss": issuer, "sub": subject, **claims}
    identity = VerifiedIdentity(issuer=issuer, subject=subject, claims=claims)
    return (backend or OIDCBackend()).authenticate(None, idp_identity=identity)


def user_of(subject: str, issuer: str = ISSUER) -> AbstractBaseUser:
    return OIDCIdentity.objects.get(issuer=issuer, subject=subject).user


# --- an unverified address is never stored while linking is on -----------------------------

@pytest.mark.usefixtures("linking")
@pytest.mark.parametrize("verified", [False, None, "true", 1, "missing"])
def test_unverified_email_is_not_stored_on_create(verified: Any) -> None:
    claims = {"email": VICTIM, "given_name": "Mallory"}
    if verified != "missing":
        claims["email_verified"] = verified
    user = sign_in("attacker", **claims)
    assert user is not None
    user.refresh_from_db()
    assert user.email == ""  # type: ignore[attr-defined]
    assert user.first_name == "Mallory"  # type: ignore[attr-defined]  # other claims are kept


@pytest.mark.usefixtures("linking")
def test_unverified_email_is_not_stored_on_update() -> None:
    user = sign_in("user-1", email="old@example.test", email_verified=True)
    assert user is not None
    sign_in("user-1", email=VICTIM, email_verified=False)
    user.refresh_from_db()
    assert user.email == "old@example.test"  # type: ignore[attr-defined]
    sign_in("user-1", email="new@example.test", email_verified=True)
    user.refresh_from_db()
    assert user.email == "new@example.test"  # type: ignore[attr-defined]


@pytest.mark.usefixtures("linking")
def test_email_field_is_filled_from_the_verified_email_claim_only(settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT,
                           "CLAIMS_MAPPING": {"email": "preferred_username"}}
    user = sign_in("user-1", preferred_username=VICTIM, email="other@example.test",
                   email_verified=True)
    assert user is not None
    user.refresh_from_db()
    assert user.email == ""  # type: ignore[attr-defined]


@pytest.mark.usefixtures("linking")
def test_hooks_do_not_see_an_unverified_email() -> None:
    seen: list[Mapping[str, Any]] = []

    class Backend(OIDCBackend):
        def create_user(self, claims: Mapping[str, Any]) -> AbstractBaseUser:
            seen.append(claims)
            return super().create_user(claims)

        def update_user(self, user: AbstractBaseUser,
                        claims: Mapping[str, Any]) -> AbstractBaseUser:
            seen.append(claims)
            return super().update_user(user, claims)

    sign_in("user-1", backend=Backend(), email=VICTIM, email_verified=False)
    sign_in("user-1", backend=Backend(), email=VICTIM, email_verified=False)
    assert len(seen) == 2
    assert all("email" not in claims for claims in seen)


def test_without_linking_the_email_is_stored_as_before() -> None:
    user = sign_in("user-1", email=VICTIM, email_verified=False)
    assert user is not None
    user.refresh_from_db()
    assert user.email == VICTIM  # type: ignore[attr-defined]


# --- the attack, end to end ------------------------------------------------------------------

@pytest.mark.usefixtures("linking")
@pytest.mark.parametrize("victim_issuer", [ISSUER, OTHER_ISSUER])
def test_unverified_address_cannot_capture_the_owners_sign_in(victim_issuer: str) -> None:
    attacker = sign_in("attacker", email=VICTIM, email_verified=False)
    victim = sign_in("victim", issuer=victim_issuer, email=VICTIM, email_verified=True)
    assert attacker is not None
    assert victim is not None
    assert victim.pk != attacker.pk
    assert user_of("victim", victim_issuer).pk == victim.pk


def test_unverified_address_cannot_capture_the_owners_sign_in_through_the_callback(
        client: Client, fake_op: FakeProvider, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "LINK_USERS_BY_EMAIL": True}

    def callback(subject: str, verified: bool) -> int:
        params = start_login(client)
        claims = fake_op.claims(params["nonce"], sub=subject, email=VICTIM,
                                email_verified=verified)
        fake_op.token_response({"id_token": fake_op.sign(claims), "access_token": "at",
                                "token_type": "Bearer", "expires_in": 300})
        response = client.get("/oidc/callback/", {"code": "c", "state": params["state"]})
        assert response.status_code == 302, response.content
        user_id = int(client.session[SESSION_KEY])
        client.logout()
        return user_id

    attacker = callback("attacker", verified=False)
    victim = callback("victim", verified=True)
    assert victim != attacker
    assert user_of("attacker").email == ""  # type: ignore[attr-defined]


# --- a user who already has a provider identity is never linked ------------------------------

@pytest.mark.usefixtures("linking")
@pytest.mark.parametrize(("issuer", "subject"), [(ISSUER, "user-2"), (OTHER_ISSUER, "user-1")])
def test_user_with_an_identity_is_not_linked(django_user_model: Any, issuer: str,
                                             subject: str) -> None:
    first = sign_in("user-1", email="alice@example.test", email_verified=True)
    assert first is not None
    second = sign_in(subject, issuer=issuer, email="alice@example.test", email_verified=True)
    assert second is not None
    assert second.pk != first.pk
    assert OIDCIdentity.objects.filter(user=first).count() == 1


@pytest.mark.usefixtures("linking")
def test_user_with_an_identity_is_not_linked_even_if_created_before_linking(
        settings: Any, django_user_model: Any) -> None:
    existing = django_user_model.objects.create_user("alice", email="alice@example.test")
    OIDCIdentity.objects.create(user=existing, issuer=OTHER_ISSUER, subject="alice")
    user = sign_in("user-1", email="alice@example.test", email_verified=True)
    assert user is not None
    assert user.pk != existing.pk


@pytest.mark.usefixtures("linking")
def test_a_concurrent_link_wins_and_the_other_sign_in_gets_its_own_user(
        django_user_model: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both sign-ins found the unlinked user; the first to insert its identity keeps it."""
    existing = django_user_model.objects.create_user("alice", email="alice@example.test")
    found = OIDCBackend._user_to_link

    def link_then_lose_the_race(self: OIDCBackend, claims: Mapping[str, Any]) -> Any:
        user = found(self, claims)
        OIDCIdentity.objects.create(user=existing, issuer=OTHER_ISSUER, subject="first")
        return user

    monkeypatch.setattr(OIDCBackend, "_user_to_link", link_then_lose_the_race)
    user = sign_in("second", email="alice@example.test", email_verified=True)
    assert user is not None
    assert user.pk != existing.pk
    assert OIDCIdentity.objects.filter(user=existing).count() == 1


# --- exactly one match, case-insensitively ---------------------------------------------------

@pytest.mark.usefixtures("linking")
def test_linking_is_case_insensitive(django_user_model: Any) -> None:
    existing = django_user_model.objects.create_user("alice", email="Alice@Example.TEST")
    user = sign_in("user-1", email="alice@example.test", email_verified=True)
    assert user is not None
    assert user.pk == existing.pk
    assert user_of("user-1").pk == existing.pk


@pytest.mark.usefixtures("linking")
def test_two_matching_users_are_never_guessed_between(django_user_model: Any) -> None:
    a = django_user_model.objects.create_user("alice", email="alice@example.test")
    b = django_user_model.objects.create_user("alice2", email="ALICE@example.test")
    user = sign_in("user-1", email="alice@example.test", email_verified=True)
    assert user is not None
    assert user.pk not in {a.pk, b.pk}


@pytest.mark.usefixtures("linking")
def test_unverified_email_is_not_matched(django_user_model: Any) -> None:
    existing = django_user_model.objects.create_user("alice", email="alice@example.test")
    user = sign_in("user-1", email="alice@example.test", email_verified="true")
    assert user is not None
    assert user.pk != existing.pk


def test_linking_is_off_by_default(django_user_model: Any) -> None:
    existing = django_user_model.objects.create_user("alice", email="alice@example.test")
    user = sign_in("user-1", email="alice@example.test", email_verified=True)
    assert user is not None
    assert user.pk != existing.pk
