"""Issue #10, protocol hardening: timeouts that hold, https-only endpoints, the signing
algorithm allow-list, logout token claims, ``acr``, and JWKS refetches under attack."""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client

from django_idp_logout import discovery, http, jwks, tokens
from django_idp_logout.conf import SUPPORTED_ALGORITHMS, get_config
from django_idp_logout.exceptions import InvalidToken, ProviderUnavailable

from .conftest import CLIENT_ID, ISSUER, FakeProvider, capture_outbound_kwargs, key, start_login

pytestmark = pytest.mark.django_db

EVENT = "http://schemas.openid.net/event/backchannel-logout"


# --- helpers ---------------------------------------------------------------------------------


def logout_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": CLIENT_ID, "iat": now, "exp": now + 120,
              "jti": str(uuid.uuid4()), "sid": "sid-1", "sub": "user-1", "events": {EVENT: {}}}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def post_logout_token(token: str) -> Any:
    return Client().post("/oidc/backchannel-logout/", urlencode({"logout_token": token}),
                         content_type="application/x-www-form-urlencoded")


def sign_in_with(client: Client, fake_op: FakeProvider,
                 make_token: Callable[[str], str]) -> Any:
    """Run login + callback with the ID token ``make_token(nonce)``; return the response."""
    params = start_login(client)
    fake_op.token_response({"id_token": make_token(params["nonce"]), "access_token": "at",
                            "token_type": "Bearer"})
    return client.get("/oidc/callback/", {"code": "c", "state": params["state"]})


def jwks_fetches(fake_op: FakeProvider) -> int:
    return len([c for c in fake_op.mock.calls if c.request.url == f"{ISSUER}/jwks"])


def id_token_check(fake_op: FakeProvider, signing_key: Any = None, **claims: Any) -> None:
    """Validate an ID token as the callback does (raises :class:`InvalidToken`)."""
    nonce = "n-" + uuid.uuid4().hex
    tokens.validate_id_token(fake_op.sign(fake_op.claims(nonce, **claims), signing_key),
                             nonce=nonce)


# --- 1. timeouts that hold -------------------------------------------------------------------


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files (the certificate is its own CA)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(private.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(private, hashes.SHA256()))
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return cert_file, key_file


class Trickle:
    """An HTTP server on 127.0.0.1 that sends its headers, then one byte every 0.2 s."""

    def __init__(self, *, chunked: bool, limit: int = 60,
                 tls: tuple[Path, Path] | None = None) -> None:
        stop = self.stop = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Content-Length", "100000")
                self.end_headers()
                self.wfile.flush()
                try:
                    # Chunked: a chunk-size line that never ends (inside one read1 call).
                    for _ in range(limit):
                        if stop.wait(0.2):
                            return
                        self.wfile.write(b"1" if chunked else b" ")
                        self.wfile.flush()
                except OSError:
                    return

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(params=[False, True], ids=["content-length", "chunked"])
def trickle(request: pytest.FixtureRequest) -> Iterator[Trickle]:
    server = Trickle(chunked=request.param)
    yield server
    server.close()


def test_trickling_provider_fails_within_the_deadline(settings: Any, trickle: Trickle) -> None:
    settings.IDP_LOGOUT = {"ISSUER": trickle.url, "CLIENT_ID": "c", "TIMEOUT": 0.5}
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable) as info:
        http.request("GET", f"{trickle.url}/slow", stage="discovery")
    elapsed = time.monotonic() - started
    assert info.value.code == "provider_timeout"
    assert info.value.status == 504
    # Deadline: DEADLINE_FACTOR x TIMEOUT = 1 s; each single read is well within TIMEOUT.
    assert 0.8 < elapsed < 2.5


def test_trickling_over_tls_fails_within_the_deadline(settings: Any, tmp_path: Path) -> None:
    """The watchdog shuts an SSL socket down too (a chunk-size line trickled inside TLS)."""
    cert, private_key = self_signed_certificate(tmp_path)
    server = Trickle(chunked=True, tls=(cert, private_key))
    try:
        settings.IDP_LOGOUT = {"ISSUER": server.url, "CLIENT_ID": "c", "TIMEOUT": 0.5,
                               "CA_BUNDLE": str(cert)}
        started = time.monotonic()
        with pytest.raises(ProviderUnavailable) as info:
            http.request("GET", f"{server.url}/slow", stage="discovery")
        assert info.value.code == "provider_timeout"
        assert time.monotonic() - started < 2.5
    finally:
        server.close()


def test_trickling_discovery_is_a_504_page(settings: Any, client: Client,
                                           trickle: Trickle) -> None:
    settings.IDP_LOGOUT = {"ISSUER": trickle.url, "CLIENT_ID": "c", "TIMEOUT": 0.5}
    started = time.monotonic()
    assert client.get("/oidc/login/").status_code == 504
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize("overrides", [
    {"IDP_LOGOUT": {"ISSUER": ISSUER, "CLIENT_ID": "c", "TIMEOUT": None}},
    {"IDP_LOGOUT": {"ISSUER": ISSUER, "CLIENT_ID": "c"}, "OIDC_TIMEOUT": None},
    {"IDP_LOGOUT": {"ISSUER": ISSUER, "CLIENT_ID": "c", "TIMEOUT": None}, "OIDC_TIMEOUT": None},
    {"IDP_LOGOUT": {"ISSUER": ISSUER, "CLIENT_ID": "c", "TIMEOUT": 0}},
    {"IDP_LOGOUT": {"ISSUER": ISSUER, "CLIENT_ID": "c", "TIMEOUT": -1}},
    {"IDP_LOGOUT": {"ISSUER": ISSUER, "CLIENT_ID": "c"}, "OIDC_TIMEOUT": (None, None)},
])
def test_no_timeout_means_the_default_never_forever(settings: Any, overrides: dict[str, Any],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in overrides.items():
        setattr(settings, name, value)
    assert get_config().timeout == 5.0
    seen = capture_outbound_kwargs(monkeypatch)
    with pytest.raises(ProviderUnavailable):
        http.request("GET", f"{ISSUER}/x", stage="discovery")
    assert seen["timeout"] == 5.0


def test_mozilla_timeout_pair_uses_the_longer_value(settings: Any) -> None:
    settings.IDP_LOGOUT = {"ISSUER": ISSUER, "CLIENT_ID": "c"}
    settings.OIDC_TIMEOUT = (3, 10)
    assert get_config().timeout == 10.0


def test_mozilla_client_secret_none_is_a_public_client(settings: Any) -> None:
    settings.IDP_LOGOUT = {"ISSUER": ISSUER, "CLIENT_ID": "c"}
    settings.OIDC_RP_CLIENT_SECRET = None
    config = get_config()
    assert config.client_secret is None
    assert config.is_public_client


# --- 2. https only -------------------------------------------------------------------------

SENSITIVE = ["authorization_endpoint", "token_endpoint", "userinfo_endpoint",
             "revocation_endpoint", "introspection_endpoint", "jwks_uri", "end_session_endpoint"]


@pytest.mark.parametrize("name", SENSITIVE)
@pytest.mark.parametrize("host", ["idp.example.test", "127.0.0.1"])
def test_plain_http_endpoint_refuses_the_document(fake_op: FakeProvider, name: str, host: str,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    fake_op.discovery[name] = f"http://{host}/{name}"
    with caplog.at_level(logging.INFO, logger="django_idp_logout"), \
            pytest.raises(ProviderUnavailable) as info:
        discovery.get_metadata()
    assert info.value.code == "insecure_endpoint"
    assert name in info.value.detail
    assert "ENDPOINTS" in info.value.detail  # the fix is named
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert name in record.getMessage()


def test_plain_http_override_is_refused(fake_op: FakeProvider, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT,
                           "ENDPOINTS": {"revocation_endpoint": "http://idp.example.test/rv"}}
    with pytest.raises(ProviderUnavailable) as info:
        discovery.get_metadata()
    assert info.value.code == "insecure_endpoint"
    assert "IDP_LOGOUT['ENDPOINTS']['revocation_endpoint']" in info.value.detail


def test_no_token_is_sent_to_a_plain_http_token_endpoint(fake_op: FakeProvider,
                                                         client: Client) -> None:
    fake_op.discovery["token_endpoint"] = "http://idp.example.test/token"
    response = client.get("/oidc/login/")
    assert response.status_code == 502
    assert b"Reference:" in response.content
    assert not [c for c in fake_op.mock.calls if c.request.url.startswith("http://")]


def test_loopback_http_issuer_may_use_loopback_http_endpoints(settings: Any) -> None:
    issuer = "http://127.0.0.1:9999"
    settings.IDP_LOGOUT = {
        "ISSUER": issuer, "CLIENT_ID": "c", "USE_DISCOVERY": False,
        "ENDPOINTS": {"authorization_endpoint": f"{issuer}/a", "token_endpoint": f"{issuer}/t",
                      "jwks_uri": "http://localhost:9999/k",
                      "end_session_endpoint": f"{issuer}/logout"}}
    metadata = discovery.get_metadata()
    assert metadata.token_endpoint == f"{issuer}/t"
    assert metadata.endpoint("end_session_endpoint") == f"{issuer}/logout"


def test_loopback_http_issuer_refuses_remote_http_endpoints(settings: Any) -> None:
    issuer = "http://127.0.0.1:9999"
    settings.IDP_LOGOUT = {
        "ISSUER": issuer, "CLIENT_ID": "c", "USE_DISCOVERY": False,
        "ENDPOINTS": {"authorization_endpoint": f"{issuer}/a", "token_endpoint": f"{issuer}/t",
                      "jwks_uri": f"{issuer}/k", "userinfo_endpoint": "http://remote.test/u"}}
    with pytest.raises(ProviderUnavailable) as info:
        discovery.get_metadata()
    assert info.value.code == "insecure_endpoint"


@pytest.mark.parametrize("value", [42, ["https://x.test"], "not a url", "ftp://idp/x", ""])
def test_garbage_optional_endpoint_is_ignored_with_a_warning(
        fake_op: FakeProvider, value: Any, caplog: pytest.LogCaptureFixture) -> None:
    fake_op.discovery["revocation_endpoint"] = value
    with caplog.at_level(logging.WARNING, logger="django_idp_logout"):
        metadata = discovery.get_metadata()
    assert metadata.endpoint("revocation_endpoint") is None
    assert any("revocation_endpoint" in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)


# --- 3. signing algorithm --------------------------------------------------------------------


def test_default_algorithms_are_rs256_only(settings: Any) -> None:
    settings.IDP_LOGOUT = {"ISSUER": ISSUER, "CLIENT_ID": "c"}
    assert get_config().algorithms == ("RS256",)
    assert {"ES256", "PS256", "EdDSA", "HS256"} <= SUPPORTED_ALGORITHMS


def test_other_provider_key_with_other_alg_is_rejected(fake_op: FakeProvider,
                                                       client: Client) -> None:
    ec = key("ec-other", kind="EC")
    fake_op.keys = [key("k1"), ec]
    response = sign_in_with(client, fake_op, lambda n: fake_op.sign(fake_op.claims(n), ec))
    assert response.status_code == 502
    with pytest.raises(InvalidToken) as info:
        tokens.validate_logout_token(fake_op.sign(logout_claims(), ec))
    assert info.value.code == "disallowed_algorithm"
    assert post_logout_token(fake_op.sign(logout_claims(), ec)).status_code == 400
    # The RS256 key of the same provider still works.
    assert sign_in_with(client, fake_op, lambda n: fake_op.sign(fake_op.claims(n))
                        ).status_code == 302


def test_mozilla_sign_algo_still_selects_the_algorithm(fake_op: FakeProvider,
                                                       settings: Any) -> None:
    settings.OIDC_RP_SIGN_ALGO = "ES256"
    ec = key("ec-only", kind="EC")
    fake_op.keys = [ec]
    assert get_config().algorithms == ("ES256",)
    id_token_check(fake_op, ec)


# --- 4. logout token claims ------------------------------------------------------------------


@pytest.mark.parametrize(("claims", "code"), [
    ({"exp": None}, "token_expired"),
    ({"exp": str(int(time.time()) + 120)}, "token_expired"),
    ({"sid": "s" * 256}, "invalid_sid"),
    ({"sub": "u" * 256, "sid": None}, "invalid_subject"),
    ({"jti": None}, "invalid_jti"),
])
def test_logout_token_claim_rules(fake_op: FakeProvider, claims: dict[str, Any],
                                  code: str) -> None:
    token = fake_op.sign(logout_claims(**claims))
    with pytest.raises(InvalidToken) as info:
        tokens.validate_logout_token(token)
    assert info.value.code == code
    assert post_logout_token(token).status_code == 400


def test_identifiers_of_255_characters_are_fine(fake_op: FakeProvider) -> None:
    token = tokens.validate_logout_token(fake_op.sign(logout_claims(sid="s" * 255,
                                                                    sub="u" * 255)))
    assert token.sid == "s" * 255


def test_validation_does_not_claim_the_jti(fake_op: FakeProvider) -> None:
    iat = int(time.time()) - 5
    raw = fake_op.sign(logout_claims(iat=iat))
    first = tokens.validate_logout_token(raw)
    second = tokens.validate_logout_token(raw)  # a retry after a 503 must still validate
    assert first == second
    assert first.iat == float(iat)
    assert isinstance(first.iat, float)
    assert (first.issuer, first.subject, first.sid) == (ISSUER, "user-1", "sid-1")
    config = get_config()
    ttl = tokens.jti_claim_ttl(config)
    assert ttl >= config.logout_token_max_age + 2 * config.leeway


# --- 5. acr ---------------------------------------------------------------------------------

ACR = {"AUTH_PARAMS": {"acr_values": "urn:acr:silver urn:acr:gold"}}


@pytest.mark.parametrize(("acr", "ok"), [
    ("urn:acr:gold", True),
    ("urn:acr:silver", True),
    (None, False),
    ("urn:acr:bronze", False),
    (["urn:acr:gold"], False),
    ("urn:acr:silver urn:acr:gold", False),
])
def test_acr_must_be_one_requested(fake_op: FakeProvider, settings: Any, acr: Any,
                                   ok: bool) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, **ACR}
    if ok:
        id_token_check(fake_op, acr=acr)
    else:
        with pytest.raises(InvalidToken) as info:
            id_token_check(fake_op, acr=acr)
        assert info.value.code == "invalid_acr"


def test_acr_check_follows_the_configuration_not_the_url(fake_op: FakeProvider,
                                                         settings: Any) -> None:
    """A user who removes acr_values from the authorization URL still does not get in."""
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, **ACR}
    client = Client()
    params = start_login(client)
    assert params["acr_values"] == "urn:acr:silver urn:acr:gold"
    fake_op.token_response({"id_token": fake_op.sign(fake_op.claims(params["nonce"])),
                            "access_token": "at", "token_type": "Bearer"})
    response = client.get("/oidc/callback/", {"code": "c", "state": params["state"]})
    assert response.status_code == 502
    assert sign_in_with(client, fake_op, lambda n: fake_op.sign(
        fake_op.claims(n, acr="urn:acr:gold"))).status_code == 302


def test_no_acr_values_requested_means_any_acr(fake_op: FakeProvider) -> None:
    id_token_check(fake_op, acr="whatever")
    id_token_check(fake_op)


def test_explicit_acr_values_argument(fake_op: FakeProvider) -> None:
    nonce = "n"
    raw = fake_op.sign(fake_op.claims(nonce, acr="a"))
    tokens.validate_id_token(raw, nonce=nonce, acr_values="a b")
    with pytest.raises(InvalidToken):
        tokens.validate_id_token(raw, nonce=nonce, acr_values=["b"])


# --- 6. key refetch under attack -------------------------------------------------------------


def test_forged_logout_tokens_cannot_starve_key_rotation(fake_op: FakeProvider,
                                                         caplog: pytest.LogCaptureFixture
                                                         ) -> None:
    attacker = key("attacker")
    forged = [fake_op.sign(logout_claims(), attacker, headers={"kid": uuid.uuid4().hex})
              for _ in range(25)]
    with caplog.at_level(logging.INFO, logger="django_idp_logout"):
        for raw in forged:
            assert post_logout_token(raw).status_code == 400
    # First fetch, then the untrusted budget, then nothing.
    assert jwks_fetches(fake_op) == 1 + jwks.MAX_UNTRUSTED_REFETCHES_PER_INTERVAL
    warnings = [r for r in caplog.records if r.name == "django_idp_logout"
                and r.levelno == logging.WARNING and "budget" in r.getMessage()]
    assert len(warnings) == 1
    assert not any(raw in r.getMessage() for r in caplog.records for raw in forged)
    # The provider rotates: an ID token with the genuinely new kid still gets its refetch.
    fake_op.keys = [key("k1"), key("k-rotated")]
    id_token_check(fake_op, key("k-rotated"))
    assert jwks_fetches(fake_op) == 2 + jwks.MAX_UNTRUSTED_REFETCHES_PER_INTERVAL


def test_forged_tokens_naming_the_next_kid_do_not_block_it(fake_op: FakeProvider) -> None:
    forged = fake_op.sign(logout_claims(), key("attacker"), headers={"kid": "k-next"})
    assert post_logout_token(forged).status_code == 400
    assert post_logout_token(forged).status_code == 400
    assert jwks_fetches(fake_op) == 2  # first fetch + one refetch for "k-next"
    fake_op.keys = [key("k1"), key("k-next")]  # the provider publishes it now
    id_token_check(fake_op, key("k-next"))
    assert jwks_fetches(fake_op) == 3


def test_id_token_refetches_are_bounded_too(fake_op: FakeProvider) -> None:
    rogue = key("rogue")
    for _ in range(jwks.MAX_TRUSTED_REFETCHES_PER_INTERVAL + 5):
        nonce = "n"
        raw = fake_op.sign(fake_op.claims(nonce), rogue, headers={"kid": uuid.uuid4().hex})
        with pytest.raises(InvalidToken):
            tokens.validate_id_token(raw, nonce=nonce)
    assert jwks_fetches(fake_op) == 1 + jwks.MAX_TRUSTED_REFETCHES_PER_INTERVAL


# --- 7. a key replaced under the same kid ----------------------------------------------------


def test_key_replaced_under_the_same_kid(fake_op: FakeProvider, client: Client) -> None:
    assert sign_in_with(client, fake_op, lambda n: fake_op.sign(fake_op.claims(n))
                        ).status_code == 302  # JWKS cached with the old k1
    replacement = key("k1-replacement", kid="k1")
    fake_op.keys = [replacement]
    client.logout()
    response = sign_in_with(client, fake_op,
                            lambda n: fake_op.sign(fake_op.claims(n), replacement))
    assert response.status_code == 302
    assert jwks_fetches(fake_op) == 2
    # The logout token signed with the new key validates from the refreshed cache.
    tokens.validate_logout_token(fake_op.sign(logout_claims(), replacement))
    assert jwks_fetches(fake_op) == 2


def test_bad_signatures_under_a_known_kid_refetch_once(fake_op: FakeProvider) -> None:
    forged = [fake_op.sign(logout_claims(), key("attacker", kid="k1")) for _ in range(5)]
    for raw in forged:
        with pytest.raises(InvalidToken) as info:
            tokens.validate_logout_token(raw)
        assert info.value.code == "invalid_signature"
    # First fetch (the key is fresh: no refetch), then one refetch for k1, then none.
    assert jwks_fetches(fake_op) == 2


def test_fresh_key_with_bad_signature_is_not_refetched(fake_op: FakeProvider) -> None:
    with pytest.raises(InvalidToken):
        id_token_check(fake_op, key("attacker", kid="k1"))
    assert jwks_fetches(fake_op) == 1


def test_socket_helper_is_not_leaking() -> None:
    """The deadline watchdog ignores a socket that is already closed."""
    sock = socket.socket()
    sock.close()
    http._abort(sock)
