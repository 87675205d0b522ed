"""Entra ID's multi-tenant issuers (issue 13): the discovery document's ``{tenantid}`` issuer,
each token checked against its own ``tid``; and the claims rules other vendors need."""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import parse_qs

import pytest
import responses

from django_idp_logout.discovery import ProviderMetadata
from django_idp_logout.providers import BoundProvider, get_provider
from django_idp_logout.tokens import validate_id_token

from .conftest import CLIENT_SECRET, ISSUER, FakeProvider, key
from .test_vendor_profiles import bound

pytestmark = pytest.mark.django_db


# --- Entra ID's multi-tenant issuer -------------------------------------------------------------

TEMPLATE = "https://login.microsoftonline.com/{tenantid}/v2.0"
MULTI = "https://login.microsoftonline.com/organizations/v2.0"
TENANT_A, TENANT_B = str(uuid.uuid4()), str(uuid.uuid4())


@pytest.fixture
def entra(settings: Any) -> Any:
    """A multi-tenant Entra ID app: discovery's issuer is the {tenantid} template."""
    settings.IDP_LOGOUT = {"PROVIDER": "entra", "ISSUER": MULTI, "CLIENT_ID": "cid",
                           "CLIENT_SECRET": CLIENT_SECRET}
    signing = key("entra")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, f"{MULTI}/.well-known/openid-configuration", json={
            "issuer": TEMPLATE,
            "authorization_endpoint": f"{MULTI.rsplit('/', 1)[0]}/oauth2/v2.0/authorize",
            "token_endpoint": f"{MULTI.rsplit('/', 1)[0]}/oauth2/v2.0/token",
            "jwks_uri": "https://login.microsoftonline.com/common/discovery/v2.0/keys",
            "end_session_endpoint": f"{MULTI.rsplit('/', 1)[0]}/oauth2/v2.0/logout"})
        mock.add(responses.GET, "https://login.microsoftonline.com/common/discovery/v2.0/keys",
                 json={"keys": [signing.public_jwk()]})
        yield signing


def entra_token(signing: Any, *, tid: str | None, iss: str) -> str:
    import jwt

    now = int(time.time())
    claims = {"iss": iss, "sub": "s-1", "aud": "cid", "iat": now, "exp": now + 300,
              "nonce": "n", "tid": tid}
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, signing.private,
                      algorithm="RS256", headers={"kid": signing.kid})


@pytest.mark.parametrize("tid", [TENANT_A, TENANT_B])
def test_entra_accepts_tokens_from_each_tenant(entra: Any, tid: str) -> None:
    metadata = BoundProvider.discover(get_provider()).metadata
    token = validate_id_token(entra_token(entra, tid=tid, iss=TEMPLATE.replace("{tenantid}", tid)),
                              nonce="n", metadata=metadata)
    assert token.issuer == f"https://login.microsoftonline.com/{tid}/v2.0"


@pytest.mark.parametrize(("tid", "iss"), [
    (TENANT_A, f"https://login.microsoftonline.com/{TENANT_B}/v2.0"),  # iss of another tenant
    (None, f"https://login.microsoftonline.com/{TENANT_A}/v2.0"),      # no tid
    ("not-a-guid", "https://login.microsoftonline.com/not-a-guid/v2.0"),
    (TENANT_A, TEMPLATE),                                               # the template itself
    (TENANT_A, MULTI),
], ids=["other-tenant", "no-tid", "bad-tid", "template", "organizations"])
def test_entra_rejects_an_iss_that_is_not_its_tenants(entra: Any, tid: str | None,
                                                      iss: str) -> None:
    from django_idp_logout.exceptions import InvalidToken

    metadata = BoundProvider.discover(get_provider()).metadata
    with pytest.raises(InvalidToken) as info:
        validate_id_token(entra_token(entra, tid=tid, iss=iss), nonce="n", metadata=metadata)
    assert info.value.code == "invalid_issuer"


def test_a_tenant_template_is_refused_for_other_profiles(entra: Any, settings: Any) -> None:
    from django_idp_logout.exceptions import ProviderUnavailable

    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "PROVIDER": "generic"}
    with pytest.raises(ProviderUnavailable) as info:
        BoundProvider.discover(get_provider())
    assert info.value.code == "discovery_issuer_mismatch"


def test_response_iss_of_a_tenant_is_accepted_only_as_a_tenant() -> None:
    from django_idp_logout.exceptions import InvalidCallback
    from django_idp_logout.flow.signin import check_response_issuer

    metadata = ProviderMetadata({"issuer": TEMPLATE})
    check_response_issuer({"iss": f"https://login.microsoftonline.com/{TENANT_A}/v2.0"},
                          metadata)
    for bad in (f"https://login.microsoftonline.com/{TENANT_A}/v2.0/x", MULTI,
                "https://evil.example/" + TENANT_A):
        with pytest.raises(InvalidCallback):
            check_response_issuer({"iss": bad}, metadata)


# --- claims rules some vendors need -------------------------------------------------------------


def signed_id_token(fake_op: FakeProvider, **claims: Any) -> str:
    return fake_op.sign(fake_op.claims("n", **claims))


def test_zitadel_trusts_its_project_audience_only_for_tokens_issued_to_this_client(
        fake_op: FakeProvider, settings: Any) -> None:
    from django_idp_logout.exceptions import InvalidToken

    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "PROVIDER": "zitadel"}
    metadata = BoundProvider.discover(get_provider()).metadata
    client_id = settings.IDP_LOGOUT["CLIENT_ID"]
    token = signed_id_token(fake_op, aud=[client_id, "243864426485212395"], azp=client_id)
    assert validate_id_token(token, nonce="n", metadata=metadata).subject == "user-1"
    for azp in ("243864426485212395", None):  # issued to the project, or no azp at all
        with pytest.raises(InvalidToken):
            validate_id_token(signed_id_token(fake_op, aud=[client_id, "243864426485212395"],
                                              azp=azp), nonce="n", metadata=metadata)
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "PROVIDER": "generic"}
    with pytest.raises(InvalidToken):  # other profiles: Core 3.1.3.7 step 3 as ever
        validate_id_token(token, nonce="n", metadata=metadata)


def test_google_legacy_issuer_spelling_is_recorded_under_issuer(fake_op: FakeProvider,
                                                                settings: Any) -> None:
    from django_idp_logout.exceptions import InvalidToken

    google = "https://accounts.google.com"
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "PROVIDER": "google", "ISSUER": google}
    metadata = ProviderMetadata({"issuer": google, "jwks_uri": f"{ISSUER}/jwks"})
    token = validate_id_token(signed_id_token(fake_op, iss="accounts.google.com"), nonce="n",
                              metadata=metadata)
    assert token.issuer == google
    assert validate_id_token(signed_id_token(fake_op, iss=google), nonce="n",
                             metadata=metadata).issuer == google
    with pytest.raises(InvalidToken):
        validate_id_token(signed_id_token(fake_op, iss="evil.example"), nonce="n",
                          metadata=metadata)
    # Only as a spelling of Google's own issuer: not for another ISSUER, nor another profile.
    for provider, issuer in (("google", ISSUER), ("generic", google)):
        settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "PROVIDER": provider, "ISSUER": issuer}
        with pytest.raises(InvalidToken):
            validate_id_token(signed_id_token(fake_op, iss="accounts.google.com"), nonce="n",
                              metadata=ProviderMetadata({"issuer": issuer,
                                                         "jwks_uri": f"{ISSUER}/jwks"}))


@pytest.mark.parametrize(("name", "hints"), [
    ("auth0", [["refresh_token"]]), ("cognito", [["refresh_token"]]),
    ("okta", [["refresh_token"], ["access_token"]]),
])
def test_what_each_profile_revokes(settings: Any, name: str,
                                   hints: list[list[str]]) -> None:
    from django_idp_logout.flow.signout import revoke_tokens
    from django_idp_logout.token_store import TokenSet

    revoke = "https://idp.example.test/revoke"
    provider = bound(name, settings, {"ISSUER": "https://idp.example.test/",
                                      "CLIENT_SECRET": CLIENT_SECRET},
                     {"revocation_endpoint": revoke})
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, revoke, status=200)
        revoke_tokens(provider, TokenSet(access_token="at", refresh_token="rt", id_token=None,
                                         expires_at=None))
        sent = [parse_qs(str(c.request.body))["token_type_hint"] for c in mock.calls]
    assert sent == hints


def test_zitadel_logout_tokens_carry_the_project_audience_without_azp(
        fake_op: FakeProvider, settings: Any) -> None:
    """zitadel.md §5: logout tokens list the client and the project in aud, with no azp."""
    from django_idp_logout.exceptions import InvalidToken
    from django_idp_logout.tokens import validate_logout_token

    from .test_provider_logout import logout_claims

    client_id = settings.IDP_LOGOUT["CLIENT_ID"]
    token = fake_op.sign(logout_claims(aud=[client_id, "243864426485212395"]))
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "PROVIDER": "zitadel"}
    assert validate_logout_token(token).sid == "sid-1"
    with pytest.raises(InvalidToken):  # another client's logout token stays refused
        validate_logout_token(fake_op.sign(logout_claims(aud=["another", "243864426485212395"])))
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "PROVIDER": "generic"}
    with pytest.raises(InvalidToken):
        validate_logout_token(token)


def test_issuer_set_to_the_template_itself_accepts_no_token(entra: Any, settings: Any) -> None:
    """The {tenantid} rule is the multi-tenant ISSUER's only, for a profile that checks
    tenants: ISSUER written as the template (discovery then "matches") is refused."""
    from django_idp_logout.exceptions import InvalidToken

    metadata = ProviderMetadata({"issuer": TEMPLATE, "jwks_uri":
                                 "https://login.microsoftonline.com/common/discovery/v2.0/keys"})
    token = entra_token(entra, tid=TENANT_A, iss=TEMPLATE.replace("{tenantid}", TENANT_A))
    for provider, issuer in (("entra", TEMPLATE), ("generic", MULTI)):
        settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "PROVIDER": provider, "ISSUER": issuer}
        with pytest.raises(InvalidToken) as info:
            validate_id_token(token, nonce="n", metadata=metadata)
        assert info.value.code == "invalid_issuer"
