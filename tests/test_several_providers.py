"""Several providers on one site (``IDP_LOGOUT["PROVIDERS"]``), against two fake providers.

Each provider keeps to its own: its redirect URI, its keys and audience, its sessions, its
cache entries. The end-to-end twin, with two real providers, is ``test_e2e_providers``.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import responses
from django.contrib.auth import SESSION_KEY
from django.test import Client

from django_idp_logout import conf
from django_idp_logout.models import OIDCSession
from django_idp_logout.session import SESSION_KEY as IDP_SESSION_KEY
from django_idp_logout.store import provider_cache_key

from .conftest import CLIENT_ID, CLIENT_SECRET, ISSUER, FakeProvider, key
from .test_session_check import age
from .test_token_renewal import expire

pytestmark = pytest.mark.django_db

OTHER = "https://other.example.test"
EVENT = "http://schemas.openid.net/event/backchannel-logout"


@dataclass
class Two:
    staff: FakeProvider
    public: FakeProvider


def two_providers(**shared: Any) -> dict[str, Any]:
    return {**shared, "PROVIDERS": {
        "staff": {"ISSUER": ISSUER, "CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET,
                  "DISPLAY_NAME": "Staff account"},
        "public": {"ISSUER": OTHER, "CLIENT_ID": "public-client", "CLIENT_SECRET": "p" * 40},
    }}


@pytest.fixture
def two(settings: Any) -> Iterator[Two]:
    settings.IDP_LOGOUT = two_providers(POST_LOGOUT_REDIRECT_URL="/bye/")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield Two(FakeProvider(mock),
                  FakeProvider(mock, issuer=OTHER, client_id="public-client",
                               signing_key=key("other")))


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def sent_to_public(response: Any) -> dict[str, str]:
    """The authorization request of a redirect to the public provider, back to its callback."""
    assert response.status_code == 302
    assert response["Location"].startswith(f"{OTHER}/authorize?")
    params = query(response["Location"])
    assert params["redirect_uri"] == "http://testserver/oidc/callback/public/"
    return params


def start(client: Client, provider: str, next_url: str = "/home/") -> dict[str, str]:
    response = client.get("/oidc/login/", {"provider": provider, "next": next_url})
    assert response.status_code == 302, response.content
    return query(response["Location"])


def sign_in(client: Client, op: FakeProvider, provider: str, *, sid: str = "sid-1",
            sub: str = "user-1", refresh: bool = True) -> None:
    params = start(client, provider)
    op.token_response({"id_token": op.sign(op.claims(params["nonce"], sid=sid, sub=sub)),
                       "access_token": f"at-{provider}", "token_type": "Bearer",
                       "expires_in": 300, **({"refresh_token": f"rt-{provider}"} if refresh
                                             else {})})
    response = client.get(f"/oidc/callback/{provider}/", {"code": "c", "state": params["state"]})
    assert response.status_code == 302, response.content
    assert response["Location"] == "/home/"


def logout_token(op: FakeProvider, **overrides: Any) -> str:
    now = int(time.time())
    claims = {"iss": op.issuer, "aud": op.client_id, "iat": now, "exp": now + 120,
              "jti": str(uuid.uuid4()), "sid": "sid-1", "events": {EVENT: {}}, **overrides}
    return op.sign({k: v for k, v in claims.items() if v is not None})


def post_logout_token(token: str) -> Any:
    return Client().post("/oidc/backchannel-logout/", urlencode({"logout_token": token}),
                         content_type="application/x-www-form-urlencoded")


def signed_in(client: Client) -> bool:
    return client.get("/home/").content != b"home anonymous"


# --- settings -------------------------------------------------------------------------------


def test_the_flat_form_is_one_provider_named_default(settings: Any) -> None:
    settings.IDP_LOGOUT = {"ISSUER": ISSUER, "CLIENT_ID": CLIENT_ID}
    assert conf.provider_names() == ("default",)
    assert not conf.uses_provider_list()
    assert conf.get_config().name == "default"
    assert conf.get_config("default").issuer == ISSUER


def test_shared_keys_are_defaults_a_provider_may_override(settings: Any) -> None:
    settings.IDP_LOGOUT = two_providers(LEEWAY=30, SCOPES="openid email")
    settings.IDP_LOGOUT["PROVIDERS"]["public"]["LEEWAY"] = 5
    staff, public = conf.get_config("staff"), conf.get_config("public")
    assert (staff.name, staff.issuer, staff.leeway) == ("staff", ISSUER, 30)
    assert (public.name, public.issuer, public.leeway) == ("public", OTHER, 5)
    assert staff.scopes == public.scopes == ("openid", "email")
    assert conf.provider_names() == ("staff", "public")
    # Nothing active: the first is the default; activation switches, and nests.
    assert conf.get_config().name == "staff"
    with conf.using_provider("public"):
        assert conf.get_config().name == "public"
        with conf.using_provider("unknown"):
            assert conf.get_config().name == "staff"
        assert conf.active_provider() == "public"
    assert conf.active_provider() == "staff"


def test_cache_keys_are_per_provider_and_unchanged_for_the_flat_form(settings: Any) -> None:
    settings.IDP_LOGOUT = two_providers()
    settings.IDP_LOGOUT["PROVIDERS"]["public"].update(ISSUER=ISSUER, CLIENT_ID=CLIENT_ID)
    staff, public = conf.get_config("staff"), conf.get_config("public")
    assert provider_cache_key(staff, "jwks") != provider_cache_key(public, "jwks")
    settings.IDP_LOGOUT = {"ISSUER": ISSUER, "CLIENT_ID": CLIENT_ID}
    from django_idp_logout.store import cache_key

    assert provider_cache_key(conf.get_config(), "jwks") == cache_key("jwks", ISSUER, CLIENT_ID)


def test_check_messages_name_the_provider(settings: Any) -> None:
    from django_idp_logout.checks import check_settings

    settings.IDP_LOGOUT = two_providers(LEEWAY=-1)
    settings.IDP_LOGOUT["PROVIDERS"]["public"].update(TIMEOUT="x", CLIENT_ID="")
    messages = {m.msg for m in check_settings()}
    assert "IDP_LOGOUT['LEEWAY'] must be between 0 and 600 seconds." in messages  # once
    assert "IDP_LOGOUT['PROVIDERS']['public']['CLIENT_ID'] is required." in messages
    assert any(m.startswith("IDP_LOGOUT['PROVIDERS']['public']['TIMEOUT'] must be")
               for m in messages)
    assert not any("['staff']" in m for m in messages)


# --- sign-in --------------------------------------------------------------------------------


def test_login_without_a_provider_shows_the_chooser(client: Client, two: Two) -> None:
    response = client.get("/oidc/login/", {"next": "/reports/?q=1"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Sign in with Staff account" in page
    assert "Sign in with public" in page  # no DISPLAY_NAME, generic profile: the key
    assert 'href="/oidc/login/?provider=public&amp;next=%2Freports%2F%3Fq%3D1"' in page
    assert response["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert not two.staff.mock.calls  # nothing was asked of any provider


def test_the_chooser_keeps_only_a_safe_next(client: Client, two: Two) -> None:
    page = client.get("/oidc/login/", {"next": "https://evil.example/"}).content.decode()
    assert "evil" not in page


def test_login_with_a_provider_goes_to_that_provider(client: Client, two: Two) -> None:
    response = client.post("/oidc/login/", {"provider": "public", "next": "/x/"})
    assert sent_to_public(response)["client_id"] == "public-client"


def test_an_unknown_provider_is_a_400_page(client: Client, two: Two) -> None:
    response = client.get("/oidc/login/", {"provider": "nope", "next": "/x/"})
    assert response.status_code == 400
    assert b"nope" not in response.content
    assert not two.staff.mock.calls


def test_sign_in_with_each_provider(two: Two) -> None:
    staff, public = Client(), Client()
    sign_in(staff, two.staff, "staff")
    sign_in(public, two.public, "public")
    assert staff.session[IDP_SESSION_KEY]["provider"] == "staff"
    assert public.session[IDP_SESSION_KEY]["iss"] == OTHER
    rows = dict(OIDCSession.objects.values_list("provider", "issuer"))
    assert rows == {"staff": ISSUER, "public": OTHER}
    # Same sub at two issuers: two identities, two users (matched by issuer and sub).
    assert staff.session[SESSION_KEY] != public.session[SESSION_KEY]


def test_a_response_at_another_providers_callback_is_refused(client: Client, two: Two) -> None:
    """Mix-up (RFC 9700 §4.4): an attempt sent to staff, answered at public's redirect URI."""
    params = start(client, "staff")
    response = client.get("/oidc/callback/public/", {"code": "c", "state": params["state"]})
    assert response.status_code == 400
    assert b'href="/oidc/login/?provider=staff&amp;next=%2Fhome%2F' in response.content
    assert SESSION_KEY not in client.session
    assert not two.staff.token_calls()
    assert not two.public.token_calls()
    # The attempt was not used up: its own callback still completes it.
    two.staff.token_response({"id_token": two.staff.sign(two.staff.claims(params["nonce"])),
                              "access_token": "a", "token_type": "Bearer"})
    assert client.get("/oidc/callback/staff/",
                      {"code": "c", "state": params["state"]}).status_code == 302
    assert SESSION_KEY in client.session


def test_the_flat_form_ignores_a_provider_parameter(client: Client, fake_op: Any) -> None:
    response = client.get("/oidc/login/", {"provider": "anything"})
    assert response.status_code == 302
    assert response["Location"].startswith(f"{ISSUER}/authorize?")


def test_the_unnamed_callback_takes_no_named_providers_response(client: Client,
                                                                two: Two) -> None:
    params = start(client, "staff")
    response = client.get("/oidc/callback/", {"code": "c", "state": params["state"]})
    assert response.status_code == 400
    assert not two.staff.token_calls()


def test_the_unnamed_callback_serves_a_provider_with_its_own_redirect_uri(
        client: Client, two: Two, settings: Any) -> None:
    settings.IDP_LOGOUT["PROVIDERS"]["staff"]["REDIRECT_URI"] = "https://site.test/oidc/callback/"
    params = start(client, "staff")
    assert params["redirect_uri"] == "https://site.test/oidc/callback/"
    two.staff.token_response({"id_token": two.staff.sign(two.staff.claims(params["nonce"])),
                              "access_token": "a", "token_type": "Bearer"})
    assert client.get("/oidc/callback/", {"code": "c", "state": params["state"]}
                      ).status_code == 302
    assert SESSION_KEY in client.session


def test_an_unknown_providers_callback_is_404(client: Client, two: Two) -> None:
    assert client.get("/oidc/callback/nope/", {"code": "c", "state": "s"}).status_code == 404


def test_an_id_token_from_the_other_provider_is_refused(client: Client, two: Two) -> None:
    params = start(client, "staff")
    forged = two.public.sign(two.public.claims(params["nonce"], aud=CLIENT_ID))
    two.staff.token_response({"id_token": forged, "access_token": "a", "token_type": "Bearer"})
    response = client.get("/oidc/callback/staff/", {"code": "c", "state": params["state"]})
    assert response.status_code == 502  # no staff key matches: unknown_signing_key
    assert SESSION_KEY not in client.session


@pytest.mark.parametrize("link", [False, True])
def test_linking_a_second_provider_is_an_explicit_opt_in(two: Two, settings: Any,
                                                         link: bool) -> None:
    from django_idp_logout.models import OIDCIdentity

    settings.IDP_LOGOUT["PROVIDERS"]["public"]["LINK_SIGNED_IN_USER"] = link
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT}
    client = Client()
    sign_in(client, two.staff, "staff")
    first = client.session[SESSION_KEY]
    sign_in(client, two.public, "public", sub="someone-else")  # while signed in
    assert (client.session[SESSION_KEY] == first) is link
    users = set(OIDCIdentity.objects.values_list("user_id", flat=True))
    assert len(users) == (1 if link else 2)
    assert client.session[IDP_SESSION_KEY]["provider"] == "public"
    # Linked: either provider signs that one user in.
    sign_in(fresh := Client(), two.staff, "staff")
    assert (fresh.session[SESSION_KEY] == client.session[SESSION_KEY]) is link


# --- signed in: tokens, logout ----------------------------------------------------------------


def test_logout_goes_to_the_provider_the_user_signed_in_with(two: Two) -> None:
    client = Client()
    sign_in(client, two.public, "public")
    response = client.post("/oidc/logout/")
    assert response.status_code == 302
    assert response["Location"].startswith(f"{OTHER}/logout?")
    params = query(response["Location"])
    assert params["client_id"] == "public-client"
    assert params["post_logout_redirect_uri"] == "http://testserver/oidc/logout/complete/"
    assert not signed_in(client)


def test_access_tokens_are_renewed_at_the_sessions_provider(two: Two) -> None:
    client = Client()
    sign_in(client, two.public, "public")
    expire(client)
    two.public.token_response({"access_token": "at-2", "token_type": "Bearer",
                               "expires_in": 300, "refresh_token": "rt-2"})
    assert client.get("/token/").content == b"token at-2"
    (renewal,) = two.public.token_calls()[1:]
    assert "refresh_token=rt-public" in renewal.request.body
    assert not two.staff.token_calls()


def test_session_checks_ask_the_sessions_provider(two: Two, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "SESSION_CHECK_INTERVAL": 300}
    client = Client()
    sign_in(client, two.public, "public", refresh=False)  # checked with prompt=none
    age(client, checked_at=301)
    assert sent_to_public(client.get("/home/"))["prompt"] == "none"


def test_lifetimes_are_per_provider(two: Two, settings: Any) -> None:
    settings.IDP_LOGOUT["PROVIDERS"]["staff"]["SESSION_MAX_AGE"] = 60
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT}
    staff, public = Client(), Client()
    sign_in(staff, two.staff, "staff")
    sign_in(public, two.public, "public")
    for client in (staff, public):
        session = client.session
        session[IDP_SESSION_KEY] = {**session[IDP_SESSION_KEY],
                                    "signed_in_at": time.time() - 120}
        session.save()
    assert staff.get("/home/").status_code == 302  # ended: off to sign in again
    assert SESSION_KEY not in staff.session
    assert public.get("/home/").content.startswith(b"home oidc-")


def test_signing_in_again_goes_to_the_sessions_provider(two: Two, settings: Any) -> None:
    settings.IDP_LOGOUT["PROVIDERS"]["public"]["SESSION_MAX_AGE"] = 60
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT}
    client = Client()
    sign_in(client, two.public, "public")
    session = client.session
    session[IDP_SESSION_KEY] = {**session[IDP_SESSION_KEY], "signed_in_at": time.time() - 120}
    session.save()
    response = client.get("/home/", HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    assert response.status_code == 401
    assert response.json()["login_url"] == "/oidc/login/?provider=public&next=%2Fhome%2F"
    # Signed out, nothing remembers the provider: the page offers the chooser.
    page = client.get("/oidc/session-ended/", {"reason": "max_age", "next": "/x/"})
    assert b'href="/oidc/login/?next=%2Fx%2F"' in page.content


def test_a_session_of_a_provider_no_longer_configured_signs_out_locally(
        two: Two, settings: Any) -> None:
    client = Client()
    sign_in(client, two.public, "public")
    del settings.IDP_LOGOUT["PROVIDERS"]["public"]
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT}  # setting_changed: rebuild
    response = client.post("/oidc/logout/")
    assert response["Location"] == "/bye/"  # not staff's end-session endpoint
    assert not signed_in(client)


def test_moving_from_the_flat_form_keeps_sessions_reachable(settings: Any, engine: str) -> None:
    """Signed in under the flat form; the site moves to PROVIDERS with that provider first:
    a back-channel logout still ends the session (its row and data say 'default')."""
    settings.IDP_LOGOUT = {"ISSUER": ISSUER, "CLIENT_ID": CLIENT_ID,
                           "CLIENT_SECRET": CLIENT_SECRET}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        op = FakeProvider(mock)
        client = Client()
        params = query(client.get("/oidc/login/")["Location"])
        op.token_response({"id_token": op.sign(op.claims(params["nonce"])),
                           "access_token": "a", "token_type": "Bearer"})
        assert client.get("/oidc/callback/", {"code": "c", "state": params["state"]}
                          ).status_code == 302
        settings.IDP_LOGOUT = two_providers()
        assert signed_in(client)
        assert post_logout_token(logout_token(op)).status_code == 200
        assert not signed_in(client)


def test_a_logged_out_cookie_of_a_removed_provider_stays_out(two: Two, settings: Any) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    client = Client()
    sign_in(client, two.public, "public")
    copy_of_cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    del settings.IDP_LOGOUT["PROVIDERS"]["public"]
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT}
    client.post("/oidc/logout/")
    thief = Client()
    thief.cookies[settings.SESSION_COOKIE_NAME] = copy_of_cookie
    assert not signed_in(thief)


# --- provider-initiated logout --------------------------------------------------------------


def test_a_logout_token_ends_only_its_providers_sessions(two: Two, engine: str) -> None:
    staff, public = Client(), Client()
    sign_in(staff, two.staff, "staff")
    sign_in(public, two.public, "public")  # same sub and sid, other provider
    from django_idp_logout.signals import backchannel_logout

    received: list[dict[str, Any]] = []
    backchannel_logout.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="t")
    try:
        assert post_logout_token(logout_token(two.public)).status_code == 200
    finally:
        backchannel_logout.disconnect(dispatch_uid="t")
    assert signed_in(staff)
    assert not signed_in(public)
    assert list(OIDCSession.objects.values_list("provider", flat=True)) == ["staff"]
    assert (received[0]["provider"], received[0]["issuer"]) == ("public", OTHER)


@pytest.mark.parametrize("forge", ["other key", "other audience"])
def test_a_logout_token_cannot_end_another_providers_sessions(two: Two, forge: str) -> None:
    staff = Client()
    sign_in(staff, two.staff, "staff")
    if forge == "other key":  # staff's iss and audience, signed by the public provider
        token = two.public.sign({**_claims(two.staff)})
    else:  # public's own token, naming staff's client
        token = logout_token(two.public, aud=CLIENT_ID)
    assert post_logout_token(token).status_code == 400
    assert signed_in(staff)


def _claims(op: FakeProvider) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": op.issuer, "aud": op.client_id, "iat": now, "exp": now + 120,
            "jti": str(uuid.uuid4()), "sid": "sid-1", "events": {EVENT: {}}}


def test_two_clients_at_one_issuer_are_told_apart_by_audience(settings: Any) -> None:
    settings.IDP_LOGOUT = {"ISSUER": ISSUER, "CLIENT_SECRET": CLIENT_SECRET, "PROVIDERS": {
        "web": {"CLIENT_ID": CLIENT_ID}, "admin": {"CLIENT_ID": "admin-client"}}}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        web = FakeProvider(mock)
        admin = copy.copy(web)  # the same provider (keys, endpoints), another client
        admin.client_id = "admin-client"
        web_client, admin_client = Client(), Client()
        sign_in(web_client, web, "web")
        sign_in(admin_client, admin, "admin")
        assert post_logout_token(logout_token(admin)).status_code == 200
        assert signed_in(web_client)
        assert not signed_in(admin_client)


def test_frontchannel_logout_ends_only_that_issuers_sessions(two: Two, engine: str) -> None:
    staff, public = Client(), Client()
    sign_in(staff, two.staff, "staff")
    sign_in(public, two.public, "public")
    response = Client().get("/oidc/frontchannel-logout/", {"iss": OTHER, "sid": "sid-1"})
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == f"frame-ancestors {OTHER}"
    assert signed_in(staff)
    assert not signed_in(public)
    unknown = Client().get("/oidc/frontchannel-logout/", {"iss": "https://x.test", "sid": "s"})
    assert unknown.status_code == 200
    assert signed_in(staff)
