"""Discovery, JWKS fetch and the outbound HTTP layer: failures are pages, never 500s."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import responses
from django.test import Client

from django_idp_logout import discovery, http
from django_idp_logout.exceptions import ProviderUnavailable

from .conftest import ISSUER, FakeProvider, capture_outbound_kwargs

pytestmark = pytest.mark.django_db


def test_discovery_is_cached(fake_op: FakeProvider, client: Client) -> None:
    client.get("/oidc/login/")
    client.get("/oidc/login/")
    discovery_calls = [c for c in fake_op.mock.calls if "well-known" in c.request.url]
    assert len(discovery_calls) == 1


def test_discovery_ttl(fake_op: FakeProvider, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "DISCOVERY_TTL": 1}
    discovery.get_metadata()
    time.sleep(1.1)
    discovery.get_metadata()
    assert len([c for c in fake_op.mock.calls if "well-known" in c.request.url]) == 2


def test_issuer_mismatch_is_rejected(fake_op: FakeProvider, client: Client) -> None:
    fake_op.discovery["issuer"] = ISSUER + "/"
    response = client.get("/oidc/login/")
    assert response.status_code == 502
    assert "_idp_logout_attempts" not in client.session


def test_discovery_url_strips_trailing_slash() -> None:
    assert discovery.discovery_url("https://a.test/realm/") == (
        "https://a.test/realm/.well-known/openid-configuration")


@pytest.mark.parametrize(("url", "issuer", "status"), [
    ("https://idp.test/t", "https://idp.test", "ok"),
    ("https://idp.test/t", "http://localhost:8000", "ok"),
    ("http://localhost:8000/t", "http://127.0.0.1:8000", "ok"),
    ("http://[::1]:8000/t", "http://localhost", "ok"),
    ("http://127.0.0.1/t", "https://idp.test", "insecure"),  # https issuer: never plain http
    ("http://idp.test/t", "http://localhost", "insecure"),
    ("http://localhost/t", "http://idp.test", "insecure"),
    ("HTTP://idp.test/t", "https://idp.test", "insecure"),
    ("http:///t", "http://localhost", "unusable"),
    ("ftp://idp.test/t", "https://idp.test", "unusable"),
    ("idp.test/t", "https://idp.test", "unusable"),
    ("https://[::1", "https://idp.test", "unusable"),
    (42, "https://idp.test", "unusable"),
])
def test_endpoint_status_is_the_https_rule(url: Any, issuer: str, status: str) -> None:
    assert discovery.endpoint_status(url, issuer) == status


def test_insecure_endpoints_in_discovery_are_rejected(fake_op: FakeProvider) -> None:
    fake_op.discovery["token_endpoint"] = "http://idp.example.test/token"
    with pytest.raises(ProviderUnavailable) as info:
        discovery.get_metadata()
    assert info.value.code == "insecure_endpoint"


def test_endpoint_overrides_without_discovery(settings: Any) -> None:
    settings.IDP_LOGOUT = {
        "ISSUER": ISSUER, "CLIENT_ID": "c", "USE_DISCOVERY": False,
        "ENDPOINTS": {"authorization_endpoint": f"{ISSUER}/a", "token_endpoint": f"{ISSUER}/t",
                      "jwks_uri": f"{ISSUER}/k"}}
    with responses.RequestsMock():  # fails on any outbound call
        metadata = discovery.get_metadata()
    assert metadata.token_endpoint == f"{ISSUER}/t"


def test_mozilla_endpoint_settings_are_honoured(fake_op: FakeProvider, settings: Any) -> None:
    settings.OIDC_OP_TOKEN_ENDPOINT = f"{ISSUER}/custom-token"
    assert discovery.get_metadata().token_endpoint == f"{ISSUER}/custom-token"


@pytest.mark.parametrize(("body", "status", "expected"), [
    ("not json", 200, 502),
    ("[1, 2]", 200, 502),
    ("{}", 500, 502),
    ("{}", 503, 502),
    ("{}", 404, 502),
])
def test_garbage_discovery(settings: Any, client: Client, body: str, status: int,
                           expected: int) -> None:
    settings.IDP_LOGOUT = {"ISSUER": ISSUER, "CLIENT_ID": "c"}
    with responses.RequestsMock() as mock:
        mock.add("GET", f"{ISSUER}/.well-known/openid-configuration", body=body, status=status)
        response = client.get("/oidc/login/")
    assert response.status_code == expected
    assert b"Reference:" in response.content


def test_connection_refused_is_503(settings: Any, client: Client) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.IDP_LOGOUT = {"ISSUER": f"http://127.0.0.1:{port}", "CLIENT_ID": "c"}
    response = client.get("/oidc/login/")
    assert response.status_code == 503


@pytest.fixture
def hanging_server() -> Iterator[str]:
    """A server on 127.0.0.1 that accepts and never answers (bounded: 5 s per request)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(5)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_hanging_provider_times_out_with_504(settings: Any, client: Client,
                                             hanging_server: str) -> None:
    settings.IDP_LOGOUT = {"ISSUER": hanging_server, "CLIENT_ID": "c", "TIMEOUT": 0.3}
    started = time.monotonic()
    response = client.get("/oidc/login/")
    assert response.status_code == 504
    assert time.monotonic() - started < 3


def test_body_size_is_capped(settings: Any) -> None:
    settings.IDP_LOGOUT = {"ISSUER": ISSUER, "CLIENT_ID": "c"}
    with responses.RequestsMock() as mock:
        mock.add("GET", f"{ISSUER}/big", body=b"x" * (http.MAX_BODY_BYTES + 1))
        with pytest.raises(ProviderUnavailable):
            http.request("GET", f"{ISSUER}/big", stage="discovery")


def test_every_request_has_timeout_and_verification(settings: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    settings.IDP_LOGOUT = {"ISSUER": ISSUER, "CLIENT_ID": "c", "TIMEOUT": 2.5,
                           "CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt"}
    seen = capture_outbound_kwargs(monkeypatch)
    with pytest.raises(ProviderUnavailable):
        http.request("GET", f"{ISSUER}/x", stage="discovery")
    assert seen["timeout"] == 2.5
    assert seen["verify"] == "/etc/ssl/certs/ca-certificates.crt"
    assert seen["allow_redirects"] is False


def test_token_endpoint_errors_are_safe_pages(fake_op: FakeProvider, client: Client) -> None:
    from .conftest import start_login

    params = start_login(client)
    fake_op.token_response({"error": "invalid_grant",
                            "error_description": "<script>alert(1)</script>\r\nFAKE LOG"}, 400)
    response = client.get("/oidc/callback/", {"code": "c", "state": params["state"]})
    assert response.status_code == 400
    assert b"<script>" not in response.content
    assert b"FAKE LOG" not in response.content
