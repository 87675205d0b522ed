"""Shared fixtures.

Unit tests use ``responses`` (fails closed: an unexpected outbound call is an error) through
:class:`FakeProvider`, which serves discovery and JWKS for ``https://idp.example.test`` and
signs ID tokens with keys the test controls. End-to-end tests use the ``op`` fixture: a real
OpenID Provider process on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import responses
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.cache import caches

from .bff_upstream import Upstream
from .demo import Demo
from .op_server import OpenIDProvider, node_available

ISSUER = "https://idp.example.test"
CLIENT_ID = "test-client"
CLIENT_SECRET = "test-secret-0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    from django.utils import translation

    for cache in caches.all():
        cache.clear()
    yield
    # LocaleMiddleware leaves the request's language active: reset it for the next test.
    translation.deactivate()


class SigningKey:
    def __init__(self, kid: str | None, kind: str = "RSA") -> None:
        self.kid = kid
        self.kind = kind
        if kind == "RSA":
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.alg = "RS256"
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())
            self.alg = "ES256"

    def public_jwk(self) -> dict[str, Any]:
        algo = jwt.algorithms.RSAAlgorithm if self.kind == "RSA" else jwt.algorithms.ECAlgorithm
        jwk = json.loads(algo.to_jwk(self.private.public_key()))
        jwk["use"] = "sig"
        if self.kid is not None:
            jwk["kid"] = self.kid
        return jwk


# RSA key generation is slow-ish: make the test keys once per session.
_KEYS: dict[str, SigningKey] = {}


def key(name: str, kind: str = "RSA", kid: str | None = "__name__") -> SigningKey:
    cache_key = f"{name}:{kind}:{kid}"
    if cache_key not in _KEYS:
        _KEYS[cache_key] = SigningKey(name if kid == "__name__" else kid, kind)
    return _KEYS[cache_key]


class FakeProvider:
    """Discovery, JWKS and token endpoint of ``issuer`` (default ``ISSUER``), served through
    ``responses``."""

    def __init__(self, mock: responses.RequestsMock, issuer: str = ISSUER,
                 client_id: str = CLIENT_ID, signing_key: SigningKey | None = None) -> None:
        self.mock = mock
        self.issuer = issuer
        self.client_id = client_id
        self.keys = [signing_key or key("k1")]
        self.discovery: dict[str, Any] = {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "jwks_uri": f"{issuer}/jwks",
            "userinfo_endpoint": f"{issuer}/userinfo",
            "end_session_endpoint": f"{issuer}/logout",
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }
        mock.add_callback(responses.GET, f"{issuer}/.well-known/openid-configuration",
                          callback=lambda r: (200, {}, json.dumps(self.discovery)))
        mock.add_callback(responses.GET, f"{issuer}/jwks", callback=lambda r: (
            200, {}, json.dumps({"keys": [k.public_jwk() for k in self.keys]})))

    def claims(self, nonce: str, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": "user-1", "aud": self.client_id, "iat": now,
                  "exp": now + 300, "nonce": nonce, "email": "user1@example.test",
                  "email_verified": True, "given_name": "User", "family_name": "One",
                  "sid": "sid-1"}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def sign(self, claims: dict[str, Any], signing_key: SigningKey | None = None,
             headers: dict[str, Any] | None = None, alg: str | None = None,
             raw_key: Any = None) -> str:
        signing_key = signing_key or self.keys[0]
        header = {"kid": signing_key.kid} if signing_key.kid else {}
        header.update(headers or {})
        return jwt.encode(claims, raw_key if raw_key is not None else signing_key.private,
                          algorithm=alg or signing_key.alg, headers=header or None)

    def token_response(self, body: dict[str, Any] | str, status: int = 200) -> None:
        payload = body if isinstance(body, str) else json.dumps(body)
        self.mock.add(responses.POST, f"{self.issuer}/token", body=payload, status=status,
                      content_type="application/json")

    def token_calls(self) -> list[Any]:
        return [c for c in self.mock.calls if c.request.url == f"{self.issuer}/token"]

    def outbound_calls(self) -> int:
        return len(self.mock.calls)


#: Every session engine Django ships (``engine`` fixture).
ENGINES = ["db", "cache", "cached_db", "file", "signed_cookies"]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, settings: Any, tmp_path: Any) -> str:
    settings.SESSION_ENGINE = f"django.contrib.sessions.backends.{request.param}"
    settings.SESSION_FILE_PATH = str(tmp_path)
    return str(request.param)


@pytest.fixture
def fake_op(settings: Any) -> Iterator[FakeProvider]:
    settings.IDP_LOGOUT = {"ISSUER": ISSUER, "CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeProvider(mock)


def capture_outbound_kwargs(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Record the keyword arguments of the next outbound call (which then fails)."""
    import requests

    seen: dict[str, Any] = {}

    def fake(self: Any, method: str, url: str, **kwargs: Any) -> Any:
        seen.update(kwargs)
        raise requests.ConnectionError

    monkeypatch.setattr(requests.Session, "request", fake)
    return seen


def start_login(client: Any, next_url: str = "/home/") -> dict[str, str]:
    """GET login/ and return the authorization request's query parameters."""
    response = client.get("/oidc/login/", {"next": next_url})
    assert response.status_code == 302, response.content
    return {k: v[0] for k, v in parse_qs(urlsplit(response["Location"]).query).items()}


def op_required() -> bool:
    return os.environ.get("IDP_REQUIRE_OP") == "1"


def require_node() -> None:
    """Skip (or, in CI, fail) a test that needs the real provider where Node.js is missing."""
    reason = node_available()
    if reason:
        if op_required():
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def op() -> Iterator[OpenIDProvider]:
    require_node()
    with OpenIDProvider() as provider:
        yield provider


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """``make demo`` running in the background for the whole session."""
    try:
        import oidc_provider  # noqa: F401
    except ImportError:
        if os.environ.get("IDP_REQUIRE_DEMO") == "1":
            pytest.fail("django-oidc-provider (the demo extra) is not installed")
        pytest.skip("the demo extra (django-oidc-provider) is not installed")
    running = Demo(tmp_path_factory.mktemp("demo")).start()
    yield running
    running.stop()


@pytest.fixture
def expired_sessions() -> Iterator[list[dict[str, Any]]]:
    """The ``session_expired`` signals sent during the test."""
    from django_idp_logout.signals import session_expired

    seen: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        seen.append(kwargs)

    session_expired.connect(receiver)
    yield seen
    session_expired.disconnect(receiver)


def unsigned_token(claims: dict[str, Any]) -> str:
    """A JWT with ``alg: none`` and an empty signature (must always be rejected)."""
    header = jwt.utils.base64url_encode(json.dumps({"alg": "none"}).encode())
    payload = jwt.utils.base64url_encode(json.dumps(claims).encode())
    return (header + b"." + payload + b".").decode()


@pytest.fixture
def upstream(fake_op: FakeProvider, settings: Any) -> Iterator[Upstream]:
    """A real API on 127.0.0.1 as ``BFF_APIS["orders"]`` (base path ``/base``)."""
    api = Upstream()
    fake_op.mock.add_passthru(api.url)
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "BFF_APIS": {
        "orders": {"URL": f"{api.url}/base", "TIMEOUT": 0.5, "MAX_REQUEST_BYTES": 1000}}}
    yield api
    api.stop()


@pytest.fixture
def bff_client(fake_op: FakeProvider, upstream: Upstream) -> Any:
    """A browser signed in through the fake provider (sub ``alice``), with ``upstream``."""
    from django.test import Client

    from .test_token_renewal import sign_in

    client = Client()
    sign_in(fake_op, client, sub="alice")
    return client
