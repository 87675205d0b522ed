"""Operator tools (issue 16): the admin pages and "End sessions", ``clear_idp_sessions
--user/--issuer``, readable usernames, groups and flags from a claim, and the audit signals."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from django_idp_logout.models import OIDCIdentity, OIDCSession
from django_idp_logout.signals import signed_in, signed_out

from .conftest import ISSUER, FakeProvider, start_login
from .test_token_renewal import sign_in

pytestmark = pytest.mark.django_db


def sign_in_with(fake_op: FakeProvider, client: Client, **claims: Any) -> None:
    params = start_login(client)
    fake_op.token_response({"id_token": fake_op.sign(fake_op.claims(params["nonce"], **claims)),
                            "access_token": "at", "token_type": "Bearer"})
    response = client.get("/oidc/callback/", {"code": "c", "state": params["state"]})
    assert response.status_code == 302, response.content


@pytest.fixture
def events() -> Iterator[list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []

    def record(signal: Any, **kwargs: Any) -> None:
        seen.append({"signal": "signed_in" if signal is signed_in else "signed_out",
                     **{k: v for k, v in kwargs.items() if k not in {"request", "sender"}}})

    signed_in.connect(record)
    signed_out.connect(record)
    yield seen
    signed_in.disconnect(record)
    signed_out.disconnect(record)


@pytest.fixture
def operator() -> Client:
    admin = User.objects.create_superuser("operator", "op@example.test", "pw")
    client = Client()
    client.force_login(admin)
    return client


# --- the admin --------------------------------------------------------------------------------


def test_identities_and_sessions_in_the_admin_never_tokens(fake_op: FakeProvider,
                                                           operator: Client) -> None:
    sign_in(fake_op, Client(), sub="alice")
    identity = OIDCIdentity.objects.get()
    assert identity.last_signed_in is not None
    page = operator.get("/admin/django_idp_logout/oidcidentity/").content.decode()
    assert "alice" in page
    session = OIDCSession.objects.get()
    page = operator.get(f"/admin/django_idp_logout/oidcsession/{session.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "sid-1" in text
    for secret in ("at-1", "rt-1", session.session_key, "token_version"):
        assert secret not in text
    user_page = operator.get(f"/admin/auth/user/{identity.user.pk}/change/").content.decode()
    assert "live OpenID Connect sessions" in user_page.replace("Live", "live")
    assert 'id="idp-end-sessions"' in user_page
    assert "rt-1" not in user_page
    # Read-only: nothing to add or edit by hand; nothing to filter secrets by.
    assert operator.get("/admin/django_idp_logout/oidcsession/add/").status_code == 403
    for probe in ("tokens__contains=rt", "session_key__startswith=a", "token_version=0"):
        listing = operator.get(f"/admin/django_idp_logout/oidcsession/?{probe}")
        assert listing.status_code in {302, 400}, probe  # Django refuses the lookup
        assert "sid-1" not in listing.content.decode()
    assert operator.get("/admin/django_idp_logout/oidcsession/end-user/abc/").status_code == 404


def test_the_user_page_button_ends_sessions_on_every_engine(
        fake_op: FakeProvider, engine: str, operator: Client,
        events: list[dict[str, Any]]) -> None:
    browser = Client()
    sign_in(fake_op, browser, sub="alice")
    user = OIDCIdentity.objects.get().user
    url = f"/admin/django_idp_logout/oidcsession/end-user/{user.pk}/"
    confirm = operator.get(url)
    assert confirm.status_code == 200
    assert b"idp-confirm-end-sessions" in confirm.content
    assert OIDCSession.objects.count() == 1  # a GET changes nothing
    response = operator.post(url)
    assert response.status_code == 302
    assert OIDCSession.objects.count() == 0
    assert browser.get("/home/").content == b"home anonymous"
    assert [e for e in events if e["signal"] == "signed_out"] == [
        {"signal": "signed_out", "user": user, "how": "admin", "provider": "default"}]


def test_the_actions_end_sessions_and_revoke(fake_op: FakeProvider, operator: Client) -> None:
    import responses

    fake_op.discovery["revocation_endpoint"] = f"{ISSUER}/revoke"
    fake_op.mock.add(responses.POST, f"{ISSUER}/revoke", status=200)
    alice, bob = Client(), Client()
    sign_in(fake_op, alice, sub="alice")
    sign_in(fake_op, bob, sub="bob")
    rows = {row.subject: row for row in OIDCSession.objects.all()}
    operator.post("/admin/django_idp_logout/oidcsession/", {
        "action": "end_selected_sessions", "_selected_action": [rows["alice"].pk]})
    assert alice.get("/home/").content == b"home anonymous"
    assert bob.get("/home/").content != b"home anonymous"
    revoked = [c for c in fake_op.mock.calls if c.request.url == f"{ISSUER}/revoke"]
    assert len(revoked) == 2  # refresh token, then access token
    operator.post("/admin/auth/user/", {
        "action": "end_users_sessions", "_selected_action": [rows["bob"].user_id]})
    assert bob.get("/home/").content == b"home anonymous"


def test_ending_needs_the_permission(fake_op: FakeProvider) -> None:
    sign_in(fake_op, Client(), sub="alice")
    staff = User.objects.create_user("viewer", password="pw", is_staff=True)
    client = Client()
    client.force_login(staff)
    user = OIDCIdentity.objects.get().user
    client.post(f"/admin/django_idp_logout/oidcsession/end-user/{user.pk}/")
    assert OIDCSession.objects.count() == 1


# --- clear_idp_sessions --user / --issuer ------------------------------------------------------


def test_the_command_ends_a_users_sessions(fake_op: FakeProvider) -> None:
    alice, bob = Client(), Client()
    sign_in(fake_op, alice, sub="alice")
    sign_in(fake_op, bob, sub="bob")
    username = OIDCSession.objects.get(subject="alice").user.get_username()
    out = StringIO()
    call_command("clear_idp_sessions", "--user", username, "--no-revoke", stdout=out)
    assert "ended 1 session(s)" in out.getvalue()
    assert alice.get("/home/").content == b"home anonymous"
    assert bob.get("/home/").content != b"home anonymous"
    call_command("clear_idp_sessions", "--issuer", ISSUER, "--no-revoke", stdout=out)
    assert bob.get("/home/").content == b"home anonymous"
    with pytest.raises(CommandError, match="no such user: nobody"):
        call_command("clear_idp_sessions", "--user", "nobody", stdout=out)


# --- users the admin can work with -------------------------------------------------------------


def test_readable_usernames_unique_and_kept(fake_op: FakeProvider, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "USERNAME_CLAIM": "preferred_username"}
    User.objects.create_user("jane")
    sign_in_with(fake_op, Client(), sub="s1", preferred_username="jane")
    sign_in_with(fake_op, Client(), sub="s2", preferred_username="Jane")
    sign_in_with(fake_op, Client(), sub="s3", preferred_username="j ane/<x>")
    sign_in_with(fake_op, Client(), sub="s4")  # no such claim: the opaque name
    names = [OIDCIdentity.objects.get(subject=s).user.username for s in ("s1", "s2", "s3", "s4")]
    assert names[:3] == ["jane-2", "Jane-3", "j_ane_x_"]
    assert names[3].startswith("oidc-")
    # Existing users keep theirs; users are matched by (iss, sub), not by username.
    sign_in_with(fake_op, Client(), sub="s1", preferred_username="renamed")
    assert OIDCIdentity.objects.get(subject="s1").user.username == "jane-2"


ROLES = {"CLAIM": "realm_access.roles", "GROUPS": {"editor": "Editors", "viewer": "Viewers"},
         "STAFF": ["editor"], "SUPERUSER": ["root"]}


def test_groups_and_flags_follow_the_claim(fake_op: FakeProvider, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "ROLES": ROLES}
    sign_in_with(fake_op, Client(), realm_access={"roles": ["editor", "viewer", "other"]})
    user = OIDCIdentity.objects.get().user
    manual = Group.objects.create(name="Hand-picked")
    user.groups.add(manual)
    assert {g.name for g in user.groups.all()} == {"Editors", "Viewers", "Hand-picked"}
    assert user.is_staff
    assert not user.is_superuser
    sign_in_with(fake_op, Client(), realm_access={"roles": ["viewer"]})
    user.refresh_from_db()
    assert {g.name for g in user.groups.all()} == {"Viewers", "Hand-picked"}
    assert not user.is_staff
    sign_in_with(fake_op, Client())  # no claim: nothing removed
    assert {g.name for g in user.groups.all()} == {"Viewers", "Hand-picked"}
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "ROLES": {**ROLES, "WHEN_MISSING": "remove"}}
    sign_in_with(fake_op, Client())
    assert {g.name for g in user.groups.all()} == {"Hand-picked"}


def test_roles_as_a_space_separated_claim(fake_op: FakeProvider, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "ROLES": {
        "CLAIM": "roles", "SUPERUSER": ["Admin"], "STAFF": ["Admin"]}}
    sign_in_with(fake_op, Client(), roles="Reader Admin")
    user = OIDCIdentity.objects.get().user
    assert user.is_staff
    assert user.is_superuser


# --- signals ---------------------------------------------------------------------------------


def test_signed_in_and_signed_out_locally_or_at_the_provider(
        fake_op: FakeProvider, events: list[dict[str, Any]]) -> None:
    client = Client()
    sign_in(fake_op, client, sub="alice")
    user = OIDCIdentity.objects.get().user
    assert events == [{"signal": "signed_in", "user": user, "provider": "default",
                       "sid": "sid-1"}]
    client.post("/oidc/logout/")
    assert events[-1] == {"signal": "signed_out", "user": user, "how": "rp_initiated",
                          "provider": "default"}
    del fake_op.discovery["end_session_endpoint"]

    from django.core.cache import caches

    caches["default"].clear()
    sign_in(fake_op, client, sub="alice")
    client.post("/oidc/logout/")
    assert events[-1]["how"] == "local"


def test_signed_out_by_back_channel(fake_op: FakeProvider, events: list[dict[str, Any]]) -> None:
    import time

    client = Client()
    sign_in(fake_op, client, sub="alice")
    user = OIDCIdentity.objects.get().user
    token = fake_op.sign({"iss": ISSUER, "aud": fake_op.client_id, "iat": int(time.time()),
                          "exp": int(time.time()) + 120,
                          "jti": "j-1", "sid": "sid-1", "events": {
                              "http://schemas.openid.net/event/backchannel-logout": {}}},
                         headers={"typ": "logout+jwt"})
    response = Client().post("/oidc/backchannel-logout/", f"logout_token={token}",
                             content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert events[-1] == {"signal": "signed_out", "user": user, "how": "backchannel",
                          "provider": "default"}


@pytest.mark.parametrize(("claims", "path", "expected"), [
    ({"https://example.com/roles": ["admin"]}, "https://example.com/roles", {"admin"}),
    ({"urn:zitadel:iam:org:project:roles": {"admin": {"1": "x"}}},
     "urn:zitadel:iam:org:project:roles", {"admin"}),
    ({"cognito:groups": ["a", "b"]}, "cognito:groups", {"a", "b"}),
    ({"realm_access": {"roles": ["r"]}}, "realm_access.roles", {"r"}),
    ({"realm_access": {}}, "realm_access.roles", None),
    ({"roles": 3}, "roles", None),  # an odd type: as if absent
    ({"roles": None}, "roles", None),
])
def test_role_claims_of_each_provider(claims: dict[str, Any], path: str,
                                      expected: set[str] | None) -> None:
    from django_idp_logout.users import role_values

    assert role_values(claims, path) == expected
