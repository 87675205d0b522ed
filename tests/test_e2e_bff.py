"""The backend-for-frontend proxy against the real provider and a real API (issue 15).

oidc-provider issues the access tokens (RFC 8707 resource indicators, JWTs per RFC 9068, a
refresh token); the API is the test project's own ``/api/`` (``tests/api_views.py``), served
on 127.0.0.1 by a thread and checking each token against the provider's keys. In between, the proxy:
the session's token for one API, and for another an access token of its own with fewer
scopes, asked for with a refresh token grant (``TOKEN_PARAMS``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from django.core.handlers.wsgi import WSGIHandler

from django_idp_logout.models import OIDCSession

from .conftest import require_node
from .op_server import CALLBACK, LOGOUT_COMPLETE, Browser, OpenIDProvider

pytestmark = [pytest.mark.op, pytest.mark.django_db(transaction=True)]

API = "https://api.example.test/"
CLIENT = {
    "client_id": "rp-bff",
    "client_secret": "rp-bff-secret-0123456789abcdef0123456789abcdef",
    "redirect_uris": [CALLBACK],
    "post_logout_redirect_uris": [LOGOUT_COMPLETE],
    "token_endpoint_auth_method": "client_secret_basic",
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
}
CSRF = {"HTTP_X_CSRF": "1"}


@pytest.fixture(scope="module")
def op() -> Iterator[OpenIDProvider]:
    require_node()
    with OpenIDProvider(clients=[CLIENT], env={"OP_API_RESOURCE": API,
                                               "OP_REFRESH": "1"}) as provider:
        yield provider


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


@pytest.fixture
def api_url() -> Iterator[str]:
    """The test project served on 127.0.0.1 by a thread (its ``/api/`` is the API)."""
    server = make_server("127.0.0.1", 0, WSGIHandler(), server_class=_Server,
                         handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/api/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def browser(op: OpenIDProvider, settings: Any, api_url: str) -> Browser:
    settings.IDP_LOGOUT = op.settings_for(
        "rp-bff", SCOPES="openid offline_access api:read api:write",
        AUTH_PARAMS={"resource": API}, API={"AUDIENCE": API},
        BFF_APIS={
            "full": {"URL": api_url},
            "readonly": {"URL": api_url,
                         "TOKEN_PARAMS": {"resource": API, "scope": "api:read"}},
        })
    browser = Browser()
    browser.go("/oidc/login/?next=/home/", login="olga")
    return browser


def answer(response: Any) -> Any:
    return json.loads(b"".join(response.streaming_content))


def test_the_proxy_calls_a_real_api_with_the_users_tokens(browser: Browser) -> None:
    client = browser.django
    full = client.get("/oidc/api/full/plain/", **CSRF)
    assert full.status_code == 200
    assert answer(full)["subject"] == "olga"
    assert answer(client.get("/oidc/api/full/drf/", **CSRF))["scopes"] == [
        "api:read", "api:write"]
    written = client.post("/oidc/api/full/scoped/", b'{"n": 1}',
                          content_type="application/json", **CSRF)
    assert written.status_code == 200
    assert answer(written)["body"] == {"n": 1}

    # Its own token: one refresh grant with the API's parameters, then reused.
    readonly = client.get("/oidc/api/readonly/drf/", **CSRF)
    assert readonly.status_code == 200
    assert answer(readonly)["scopes"] == ["api:read"]
    refused = client.post("/oidc/api/readonly/scoped/", b"{}",
                          content_type="application/json", **CSRF)
    assert refused.status_code == 403  # the API's own answer: insufficient_scope
    assert 'error="insufficient_scope"' in refused["WWW-Authenticate"]
    stored = json.loads(OIDCSession.objects.get().tokens)
    assert len(stored["apis"]) == 1
    assert client.get("/oidc/api/readonly/plain/", **CSRF).status_code == 200
    assert json.loads(OIDCSession.objects.get().tokens)["apis"] == stored["apis"]


def test_a_resource_the_provider_refuses_is_a_json_error(browser: Browser,
                                                        settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "BFF_APIS": {"other": {
        "URL": "http://127.0.0.1:9/", "TOKEN_PARAMS": {"resource": "https://other.test/"}}}}
    response = browser.django.get("/oidc/api/other/x", **CSRF)
    assert response.status_code == 502  # the provider refused: a bad gateway for the browser
    assert response.json()["error"] == "invalid_target"
    assert browser.django.get("/oidc/session/").status_code == 200  # still signed in
