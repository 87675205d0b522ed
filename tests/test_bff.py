"""A single-page app's backend for frontend (issue 15): ``session/``, the ``api/<name>/<path>``
proxy and ``logout/`` answering JSON.

The provider is served through ``responses``; the upstream API is a real HTTP server on
127.0.0.1 (passed through), so that forwarding, streaming, timeouts and a closed port are the
real thing (``tests/bff_upstream.py``; fixtures ``upstream`` and ``bff_client``).
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from django_idp_logout.session import SESSION_KEY

from .bff_upstream import Upstream
from .conftest import CLIENT_ID, CLIENT_SECRET, ISSUER, FakeProvider
from .op_server import free_port
from .test_token_renewal import expire, refresh_calls, refresh_response, sign_in

pytestmark = pytest.mark.django_db

CSRF = {"HTTP_X_CSRF": "1"}


def body(response: Any) -> dict[str, Any]:
    assert response["Content-Type"] == "application/json", response.content
    return dict(json.loads(response.content))


# --- session/ -------------------------------------------------------------------------------


def test_session_signed_out_is_401_with_the_login_url(upstream: Upstream) -> None:
    response = Client().get("/oidc/session/", {"next": "/spa/#orders"})
    assert response.status_code == 401
    assert "no-store" in response["Cache-Control"]
    data = body(response)
    assert data["authenticated"] is False
    login = urlsplit(data["login_url"])
    assert login.path == "/oidc/login/"
    assert parse_qs(login.query)["next"] == ["/spa/#orders"]


def test_session_never_takes_an_unsafe_next(upstream: Upstream) -> None:
    data = body(Client().get("/oidc/session/", {"next": "https://evil.example/"}))
    assert "evil" not in data["login_url"]


def test_session_signed_in_shows_claims_never_tokens(bff_client: Client, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "SESSION_MAX_AGE": 3600}
    response = bff_client.get("/oidc/session/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    data = body(response)
    assert data["authenticated"] is True
    assert data["provider"] == "default"
    assert data["logout_url"] == "/oidc/logout/"
    assert data["user"]["sub"] == "alice"
    assert data["user"]["email"] == "user1@example.test"
    assert data["user"]["given_name"] == "User"
    assert "nonce" not in data["user"]
    assert "sid" not in data["user"]
    assert abs(data["expires_at"] - (time.time() + 3600)) < 30
    session = bff_client.session[SESSION_KEY]
    text = response.content.decode()
    for secret in ("at-1", "rt-1", session["id_token"]):
        assert secret not in text


def test_session_claims_are_chosen_by_the_setting(bff_client: Client, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "BFF_USER_CLAIMS": ["email"]}
    user = body(bff_client.get("/oidc/session/"))["user"]
    assert set(user) == {"username", "email"}


def test_session_answers_get_only(bff_client: Client) -> None:
    assert bff_client.post("/oidc/session/", **CSRF).status_code == 405


# --- the anti-CSRF header and who may call ------------------------------------------------------


def test_proxy_refuses_requests_without_the_header(bff_client: Client,
                                                   upstream: Upstream) -> None:
    for method in ("get", "post", "delete"):
        response = getattr(bff_client, method)("/oidc/api/orders/items")
        assert response.status_code == 403
        assert body(response)["error"] == "csrf_header_missing"
    response = bff_client.get("/oidc/api/orders/items", HTTP_X_CSRF="0")
    assert response.status_code == 403
    assert upstream.requests == []


def test_the_header_replaces_djangos_csrf_token(bff_client: Client, upstream: Upstream) -> None:
    client = Client(enforce_csrf_checks=True)
    client.cookies = bff_client.cookies
    response = client.post("/oidc/api/orders/items", b"{}", content_type="application/json",
                           **CSRF)
    assert response.status_code == 201


def test_proxy_signed_out_is_401_json_never_a_redirect(upstream: Upstream) -> None:
    response = Client().get("/oidc/api/orders/items", **CSRF)
    assert response.status_code == 401
    data = body(response)
    assert data["authenticated"] is False
    assert data["login_url"].startswith("/oidc/login/")
    assert upstream.requests == []


def test_unknown_api_is_404(bff_client: Client, upstream: Upstream) -> None:
    response = bff_client.get("/oidc/api/billing/x", **CSRF)
    assert response.status_code == 404
    assert body(response)["error"] == "unknown_api"


@pytest.mark.parametrize("path", [
    "../secret", "a/../../secret", "a/%2e%2e/%2E%2E/secret", "./x", "//evil.example/x",
    "http://evil.example/x", "a//b", "a%5c..%5csecret", "a\\b", "a%00b", "a%0db", "a%7fb",
    "..;/admin", "a/..;x/admin", "a/.;/b",
])
def test_paths_that_could_leave_the_api_are_refused(bff_client: Client, upstream: Upstream,
                                                    path: str) -> None:
    response = bff_client.get(f"/oidc/api/orders/{path}", **CSRF)
    assert response.status_code == 400, path
    assert body(response)["error"] == "invalid_path"
    assert upstream.requests == []


def test_oversized_bodies_are_413(bff_client: Client, upstream: Upstream) -> None:
    response = bff_client.post("/oidc/api/orders/items", b"x" * 1001,
                              content_type="application/octet-stream", **CSRF)
    assert response.status_code == 413
    assert body(response)["error"] == "request_too_large"
    response = bff_client.post("/oidc/api/orders/items", b"x" * 1000,
                              content_type="application/octet-stream", **CSRF)
    assert response.status_code == 201
    assert len(upstream.requests) == 1


def test_trace_and_connect_are_not_passed_on(bff_client: Client, upstream: Upstream) -> None:
    response = bff_client.generic("TRACE", "/oidc/api/orders/x", **CSRF)
    assert response.status_code == 405
    assert upstream.requests == []


# --- forwarding -----------------------------------------------------------------------------


def test_request_goes_on_with_the_users_token_and_nothing_of_the_browsers(
        bff_client: Client, upstream: Upstream) -> None:
    response = bff_client.put(
        "/oidc/api/orders/items/42?expand=lines&q=a%20b", b'{"n": 1}',
        content_type="application/json", HTTP_AUTHORIZATION="Bearer from-the-browser",
        HTTP_X_FORWARDED_FOR="10.0.0.1", HTTP_X_TRACE="t-1", HTTP_CONNECTION="X-Secret",
        HTTP_X_SECRET="s", **CSRF)
    assert response.status_code == 200
    sent = upstream.requests[0]
    assert sent["method"] == "PUT"
    assert sent["path"] == "/base/items/42?expand=lines&q=a%20b"
    assert sent["body"] == b'{"n": 1}'
    headers = {k.lower(): v for k, v in sent["headers"].items()}
    assert headers["authorization"] == "Bearer at-1"
    assert headers["content-type"] == "application/json"
    assert headers["x-trace"] == "t-1"
    for dropped in ("cookie", "x-csrf", "x-forwarded-for", "x-secret"):
        assert dropped not in headers, dropped
    # The answer: status, type and the API's own headers; never its cookies or hop-by-hop.
    assert json.loads(b"".join(response.streaming_content)) == {
        "path": "/base/items/42?expand=lines&q=a%20b", "method": "PUT"}
    assert response["X-Api"] == "yes"
    assert "Set-Cookie" not in response
    assert "upstream" not in response.cookies
    assert "X-Hop" not in response
    assert "no-store" in response["Cache-Control"]
    assert "Cookie" in response["Vary"]


def test_the_api_root_and_a_trailing_slash(bff_client: Client, upstream: Upstream) -> None:
    bff_client.get("/oidc/api/orders/", **CSRF)
    bff_client.get("/oidc/api/orders/items/", **CSRF)
    assert [r["path"] for r in upstream.requests] == ["/base/", "/base/items/"]


def test_answers_stream_back(bff_client: Client, upstream: Upstream) -> None:
    response = bff_client.get("/oidc/api/orders/stream", **CSRF)
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    assert text.count("\n") == 50 * 100


def test_api_down_is_502_json(bff_client: Client, fake_op: FakeProvider,
                              settings: Any) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    fake_op.mock.add_passthru(closed)
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "BFF_APIS": {"orders": {"URL": closed}}}
    response = bff_client.get("/oidc/api/orders/items", **CSRF)
    assert response.status_code == 502
    assert body(response)["error"] == "api_unavailable"


def test_api_too_slow_is_504_json(bff_client: Client, upstream: Upstream) -> None:
    started = time.monotonic()
    response = bff_client.get("/oidc/api/orders/slow", **CSRF)
    assert response.status_code == 504
    assert body(response)["error"] == "api_timeout"
    assert time.monotonic() - started < 1.4  # TIMEOUT 0.5, not the API's 1.5 s


# --- tokens ---------------------------------------------------------------------------------


def test_an_expiring_token_is_renewed_before_the_call(bff_client: Client, upstream: Upstream,
                                                      fake_op: FakeProvider) -> None:
    expire(bff_client)
    refresh_response(fake_op, refresh_token="rt-2")
    response = bff_client.get("/oidc/api/orders/items", **CSRF)
    assert response.status_code == 200
    assert len(refresh_calls(fake_op)) == 1
    assert upstream.requests[0]["headers"]["Authorization"] == "Bearer at-2"


def test_api_401_renews_once_and_retries(bff_client: Client, upstream: Upstream,
                                         fake_op: FakeProvider) -> None:
    upstream.refuse_tokens = {"at-1"}
    refresh_response(fake_op, refresh_token="rt-2")
    response = bff_client.post("/oidc/api/orders/items", b"payload",
                              content_type="text/plain", **CSRF)
    assert response.status_code == 201
    assert len(refresh_calls(fake_op)) == 1
    assert [r["headers"]["Authorization"] for r in upstream.requests] == [
        "Bearer at-1", "Bearer at-2"]
    assert [r["body"] for r in upstream.requests] == [b"payload", b"payload"]


def test_api_401_after_renewal_is_401_json(bff_client: Client, upstream: Upstream,
                                           fake_op: FakeProvider) -> None:
    upstream.refuse_tokens = {"at-1", "at-2"}
    refresh_response(fake_op, refresh_token="rt-2")
    response = bff_client.get("/oidc/api/orders/items", **CSRF)
    assert response.status_code == 401
    assert body(response)["error"] == "api_unauthorized"
    assert len(refresh_calls(fake_op)) == 1
    assert len(upstream.requests) == 2
    assert bff_client.get("/oidc/session/").status_code == 200  # still signed in


def test_refused_refresh_signs_out_with_401_json(bff_client: Client, upstream: Upstream,
                                                 fake_op: FakeProvider) -> None:
    expire(bff_client)
    refresh_response(fake_op, status=400, error="invalid_grant")
    response = bff_client.get("/oidc/api/orders/items", **CSRF)
    assert response.status_code == 401
    data = body(response)
    assert data["signed_out"] is True
    assert data["authenticated"] is False
    assert data["login_url"].startswith("/oidc/login/")
    assert upstream.requests == []
    assert bff_client.get("/oidc/session/").status_code == 401


def test_provider_down_while_renewing_is_json_and_the_session_goes_on(
        bff_client: Client, upstream: Upstream, fake_op: FakeProvider) -> None:
    expire(bff_client)
    refresh_response(fake_op, status=503, error="temporarily_unavailable")
    response = bff_client.get("/oidc/api/orders/items", **CSRF)
    assert 500 <= response.status_code < 600
    assert "error" in body(response)
    assert upstream.requests == []
    assert bff_client.get("/oidc/session/").status_code == 200


def test_apis_of_the_sessions_provider_only(fake_op: FakeProvider, upstream: Upstream,
                                            settings: Any) -> None:
    """With several providers, each provider's sessions see that provider's BFF_APIS."""
    shared = {"ISSUER": ISSUER, "CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET}
    settings.IDP_LOGOUT = {"PROVIDERS": {
        "staff": {**shared, "BFF_APIS": {"orders": {"URL": f"{upstream.url}/base/"}}},
        "partners": {**shared, "CLIENT_ID": "partner-client"}}}
    client = Client()
    response = client.get("/oidc/session/")
    assert [p["name"] for p in body(response)["providers"]] == ["staff", "partners"]
    params = {k: v[0] for k, v in parse_qs(urlsplit(client.get(
        "/oidc/login/", {"provider": "partners"})["Location"]).query).items()}
    fake_op.token_response({"id_token": fake_op.sign(fake_op.claims(
        params["nonce"], aud="partner-client")), "access_token": "at-p", "token_type": "Bearer",
        "expires_in": 3600})
    assert client.get("/oidc/callback/partners/", {"code": "c", "state": params[
        "state"]}).status_code == 302
    assert body(client.get("/oidc/session/"))["provider"] == "partners"
    assert client.get("/oidc/api/orders/items", **CSRF).status_code == 404
    assert upstream.requests == []


# --- logout from the single-page app ---------------------------------------------------------


def test_spa_logout_answers_a_url_that_never_holds_a_token(
        fake_op: FakeProvider, upstream: Upstream, engine: str) -> None:
    client = Client(enforce_csrf_checks=True)
    sign_in(fake_op, client, sub="alice")
    id_token = client.session[SESSION_KEY]["id_token"] if engine != "signed_cookies" else None
    response = client.post("/oidc/logout/", {"next": "/bye/"}, **CSRF)
    assert response.status_code == 200
    data = body(response)
    assert data["signed_out"] is True
    for secret in ("at-1", "rt-1", "eyJ"):
        assert secret not in response.content.decode()
    target = urlsplit(data["redirect_url"])
    assert target.path == "/oidc/logout/"
    assert client.get("/oidc/session/").status_code == 401  # signed out already
    # The navigation: on to the provider's end-session endpoint, with the token hint.
    hop = client.get(data["redirect_url"])
    assert hop.status_code == 302
    end = urlsplit(hop["Location"])
    assert f"{end.scheme}://{end.netloc}{end.path}" == f"{ISSUER}/logout"
    query = parse_qs(end.query)
    assert "id_token_hint" in query
    assert "state" in query
    if id_token:
        assert query["id_token_hint"] == [id_token]
    # Once only: a second navigation lands on the public page.
    assert client.get(data["redirect_url"])["Location"] == "/"


def test_spa_logout_without_any_csrf_is_refused(bff_client: Client) -> None:
    client = Client(enforce_csrf_checks=True)
    client.cookies = bff_client.cookies
    assert client.post("/oidc/logout/").status_code == 403
    assert client.get("/oidc/session/").status_code == 200  # still signed in


def test_spa_logout_when_signed_out(upstream: Upstream) -> None:
    response = Client(enforce_csrf_checks=True).post("/oidc/logout/", **CSRF)
    assert body(response) == {"signed_out": True, "redirect_url": "/"}


def test_get_with_the_header_still_only_confirms(bff_client: Client) -> None:
    response = bff_client.get("/oidc/logout/", **CSRF)
    assert response.status_code == 200
    assert b"<form" in response.content
    assert bff_client.get("/oidc/session/").status_code == 200


def test_unknown_handoff_lands_on_the_public_page(upstream: Upstream) -> None:
    response = Client().get("/oidc/logout/", {"continue": "forged"})
    assert response.status_code == 302
    assert response["Location"] == "/"


# --- lifetimes ------------------------------------------------------------------------------


def _age(client: Client, **times: float) -> None:
    session = client.session
    session[SESSION_KEY] = {**session[SESSION_KEY], **times}
    session.save()


def test_a_session_past_its_lifetime_ends_on_session_and_api(bff_client: Client,
                                                             upstream: Upstream,
                                                             settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "SESSION_MAX_AGE": 60}
    _age(bff_client, signed_in_at=time.time() - 120)
    response = bff_client.get("/oidc/api/orders/items", **CSRF)
    assert response.status_code == 401
    data = body(response)
    assert data["signed_out"] is True
    assert data["reason"] == "max_age"
    assert upstream.requests == []
    assert body(bff_client.get("/oidc/session/"))["authenticated"] is False


def test_polling_session_is_not_activity_but_api_calls_are(bff_client: Client,
                                                           upstream: Upstream,
                                                           settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "SESSION_IDLE_TIMEOUT": 600}
    idle_since = time.time() - 300
    _age(bff_client, seen_at=idle_since)
    assert bff_client.get("/oidc/session/").status_code == 200
    assert bff_client.session[SESSION_KEY]["seen_at"] == idle_since
    assert abs(body(bff_client.get("/oidc/session/"))["expires_at"] - (idle_since + 600)) < 2
    assert bff_client.get("/oidc/api/orders/items", **CSRF).status_code == 200
    assert bff_client.session[SESSION_KEY]["seen_at"] > idle_since + 200


# --- what the review found ------------------------------------------------------------------


def test_semicolons_are_encoded(bff_client: Client, upstream: Upstream) -> None:
    bff_client.get("/oidc/api/orders/a;jsessionid=1/b", **CSRF)
    assert upstream.requests[0]["path"] == "/base/a%3Bjsessionid=1/b"


def test_only_listed_request_headers_go_on(bff_client: Client, upstream: Upstream,
                                           settings: Any) -> None:
    spoofed = {"HTTP_X_ORIGINAL_URL": "/admin", "HTTP_X_HTTP_METHOD_OVERRIDE": "DELETE",
               "HTTP_X_FORWARDED_PREFIX": "/x", "HTTP_ORIGIN": "http://testserver",
               "HTTP_VIA": "1.1 evil", "HTTP_ACCEPT_LANGUAGE": "de",
               "HTTP_X_FORWARDED_USER": "admin", "HTTP_X_REMOTE_USER": "admin",
               "HTTP_X_XSRF_TOKEN": "t", "HTTP_X_AUTH_REQUEST_EMAIL": "a@b"}
    bff_client.get("/oidc/api/orders/items", **spoofed, **CSRF)
    headers = {k.lower() for k in upstream.requests[0]["headers"]}
    assert "accept-language" in headers
    assert not headers & {"x-original-url", "x-http-method-override", "x-forwarded-prefix",
                          "origin", "via", "x-forwarded-user", "x-remote-user",
                          "x-xsrf-token", "x-auth-request-email"}
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "BFF_APIS": {"orders": {
        "URL": f"{upstream.url}/base/", "FORWARD_HEADERS": ["Origin"]}}}
    bff_client.get("/oidc/api/orders/items", **spoofed, **CSRF)
    assert upstream.requests[1]["headers"]["Origin"] == "http://testserver"


def test_headers_that_would_act_on_the_site_never_come_back(bff_client: Client,
                                                            upstream: Upstream) -> None:
    response = bff_client.get("/oidc/api/orders/site-headers", **CSRF)
    for name in ("Clear-Site-Data", "Access-Control-Allow-Origin",
                 "Strict-Transport-Security", "Content-Security-Policy", "Refresh",
                 "X-Accel-Redirect", "X-Sendfile", "X-Frame-Options", "WWW-Authenticate"):
        assert name not in response, name
    assert response["X-Total-Count"] == "3"
    # The request carried a user's token: no shared cache may keep the answer.
    directives = {d.strip() for d in response["Cache-Control"].split(",")}
    assert directives == {"private", "max-age=600"}
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/octet-stream"  # the API sent none


def test_redirects_inside_the_api_are_rewritten_others_refused(bff_client: Client,
                                                               upstream: Upstream) -> None:
    response = bff_client.get("/oidc/api/orders/redirect-inside", **CSRF)
    assert response.status_code == 302
    assert response["Location"] == "/oidc/api/orders/items/7?x=1"
    response = bff_client.post("/oidc/api/orders/redirect-outside", b"", content_type="text/plain",
                              **CSRF)
    assert response.status_code == 502
    assert body(response)["error"] == "api_redirect"
    assert "Location" not in response


def test_an_answer_that_breaks_off_fails_the_request(bff_client: Client,
                                                     upstream: Upstream) -> None:
    response = bff_client.get("/oidc/api/orders/broken", **CSRF)
    assert response.status_code == 200
    with pytest.raises(Exception, match=r"IncompleteRead|Connection|incomplete"):
        b"".join(response.streaming_content)


def test_a_401_for_another_reason_is_not_renewed(bff_client: Client, upstream: Upstream,
                                                 fake_op: FakeProvider) -> None:
    response = bff_client.get("/oidc/api/orders/scope", **CSRF)
    assert response.status_code == 401
    assert refresh_calls(fake_op) == []
    assert len(upstream.requests) == 1


@pytest.mark.parametrize(("headers", "status"), [
    ({"CONTENT_LENGTH": "zz"}, 400), ({"CONTENT_LENGTH": "-1"}, 400),
    ({"HTTP_TRANSFER_ENCODING": "chunked"}, 411)])
def test_bodies_that_cannot_be_passed_on(bff_client: Client, upstream: Upstream,
                                         headers: dict[str, str], status: int) -> None:
    response = bff_client.generic("POST", "/oidc/api/orders/items", b"abc", **headers, **CSRF)
    assert response.status_code == status
    assert body(response)["error"] == "invalid_body"
    assert upstream.requests == []


def test_an_api_in_clear_is_refused_at_run_time(bff_client: Client, settings: Any) -> None:
    from django_idp_logout.exceptions import ConfigurationError

    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "BFF_APIS": {
        "orders": {"URL": "http://api.example.test/"}}}
    with pytest.raises(ConfigurationError, match="E038"):
        bff_client.get("/oidc/api/orders/items", **CSRF)
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "BFF_APIS": {"orders": {}}}
    with pytest.raises(ConfigurationError, match="E037"):
        bff_client.get("/oidc/api/orders/items", **CSRF)


def test_signed_in_without_the_provider(upstream: Upstream, django_user_model: Any) -> None:
    client = Client()
    client.force_login(django_user_model.objects.create_user("pw-user"))
    data = body(client.get("/oidc/session/"))
    assert data["authenticated"] is True
    assert data["provider"] is None
    response = client.get("/oidc/api/orders/items", **CSRF)
    assert response.status_code == 401
    data = body(response)
    assert data["error"] == "no_provider_session"
    assert data["authenticated"] is True
    assert upstream.requests == []


def test_session_refuses_other_methods_with_json(upstream: Upstream) -> None:
    response = Client().put("/oidc/session/", **CSRF)
    assert response.status_code == 405
    assert body(response)["error"] == "method_not_allowed"


def test_a_handoff_is_only_for_the_browser_that_signed_out(fake_op: FakeProvider,
                                                           upstream: Upstream) -> None:
    mine = Client()
    sign_in(fake_op, mine, sub="alice")
    url = body(mine.post("/oidc/logout/", **CSRF))["redirect_url"]
    assert Client().get(url)["Location"] == "/"  # somebody else's browser: nowhere
    assert mine.get(url)["Location"].startswith(f"{ISSUER}/logout?")  # still mine


def test_answers_stream_under_asgi(bff_client: Client, upstream: Upstream) -> None:
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    client = AsyncClient()
    client.cookies = bff_client.cookies

    async def fetch() -> tuple[Any, bytes]:
        response = await client.get("/oidc/api/orders/stream", headers={"X-CSRF": "1"})
        assert response.is_async
        return response, b"".join([chunk async for chunk in response.streaming_content])

    response, content = async_to_sync(fetch)()
    assert response.status_code == 200
    assert content.count(b"\n") == 50 * 100


@pytest.mark.parametrize("target", [
    "/base/../admin/", "/base/%252e%252e/admin/", "/base/a/..%255c..%255cadmin",
    "/base/a%255c..%255c..%255cadmin", "http://[bad/"])
def test_redirects_a_browser_would_resolve_out_of_the_api_are_refused(
        bff_client: Client, upstream: Upstream, target: str) -> None:
    response = bff_client.post(f"/oidc/api/orders/redirect-dots?to={target}", b"",
                               content_type="text/plain", **CSRF)
    assert response.status_code == 502, target
    assert body(response)["error"] == "api_redirect"


def test_an_outside_location_on_a_non_redirect_is_dropped(bff_client: Client,
                                                          upstream: Upstream) -> None:
    response = bff_client.post("/oidc/api/orders/created", b"{}",
                               content_type="application/json", **CSRF)
    assert response.status_code == 201
    assert "Location" not in response


def test_a_spa_logout_keeps_its_handoff_cookie_until_the_handoff(
        fake_op: FakeProvider, upstream: Upstream, settings: Any) -> None:
    settings.IDP_LOGOUT = {**settings.IDP_LOGOUT, "CLEAR_SITE_DATA": ["cookies", "storage"]}
    client = Client()
    sign_in(fake_op, client, sub="alice")
    response = client.post("/oidc/logout/", **CSRF)
    assert response["Clear-Site-Data"] == '"storage"'
    hop = client.get(body(response)["redirect_url"])
    assert hop["Location"].startswith(f"{ISSUER}/logout?")
    assert hop["Clear-Site-Data"] == '"cookies", "storage"'
