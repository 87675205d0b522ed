"""End to end with two real providers at once (two oidc-provider processes, two issuers).

``staff`` runs at ``http://localhost:<port>``, ``public`` at ``http://127.0.0.1:<port>``
(different hosts, so their cookies stay apart in one browser). Each has one client whose
redirect URI is the site's ``callback/<name>/`` and whose back-channel logout URI is a
recorder on 127.0.0.1; the tests deliver the recorded logout tokens to the site.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from django_idp_logout.models import OIDCSession
from django_idp_logout.session import SESSION_KEY as IDP_SESSION_KEY

from .conftest import require_node
from .op_server import RP_ORIGIN, Browser, OpenIDProvider

pytestmark = [pytest.mark.op, pytest.mark.django_db]


class LogoutTokens:
    """Where both providers send their back-channel logout tokens (kept, answered 200)."""

    def __init__(self) -> None:
        self.tokens: list[tuple[str, str]] = []  # (path, token)
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                for token in parse_qs(body.decode()).get("logout_token", []):
                    sink.tokens.append((self.path, token))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of(self, name: str) -> list[str]:
        return [token for path, token in self.tokens if path == f"/{name}"]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def client_for(name: str, sink: LogoutTokens) -> dict[str, Any]:
    return {
        "client_id": f"rp-{name}",
        "client_secret": f"rp-{name}-secret-0123456789abcdef0123456789",
        "redirect_uris": [f"{RP_ORIGIN}/oidc/callback/{name}/"],
        "post_logout_redirect_uris": [f"{RP_ORIGIN}/oidc/logout/complete/"],
        "token_endpoint_auth_method": "client_secret_basic",
        "backchannel_logout_uri": f"{sink.url}/{name}",
        "backchannel_logout_session_required": True,
    }


@dataclass
class Providers:
    staff: OpenIDProvider
    public: OpenIDProvider
    sink: LogoutTokens

    def settings(self) -> dict[str, Any]:
        def one(op: OpenIDProvider, name: str) -> dict[str, Any]:
            client = op.clients[0]
            return {"ISSUER": op.issuer, "CLIENT_ID": client["client_id"],
                    "CLIENT_SECRET": client["client_secret"]}

        return {"POST_LOGOUT_REDIRECT_URL": "/home/", "PROVIDERS": {
            "staff": {**one(self.staff, "staff"), "DISPLAY_NAME": "Staff"},
            "public": one(self.public, "public")}}


@pytest.fixture(scope="module")
def providers() -> Iterator[Providers]:
    require_node()
    sink = LogoutTokens()
    staff = OpenIDProvider(clients=[client_for("staff", sink)], allow_loopback_fetch=True)
    public = OpenIDProvider(clients=[client_for("public", sink)], allow_loopback_fetch=True,
                            host="127.0.0.1")
    with staff, public:
        yield Providers(staff, public, sink)
    sink.stop()


@pytest.fixture
def two(providers: Providers, settings: Any) -> Providers:
    settings.IDP_LOGOUT = providers.settings()
    providers.sink.tokens.clear()
    return providers


def sign_in(provider: str, login: str = "olga") -> Browser:
    browser = Browser()
    page = browser.go(f"/oidc/login/?provider={provider}&next=/home/", login=login)
    assert page.url == f"{RP_ORIGIN}/home/", page.text[:500]
    return browser


def signed_in(browser: Browser) -> bool:
    return browser.django.get("/home/").content != b"home anonymous"


def deliver(token: str) -> int:
    return Client().post("/oidc/backchannel-logout/", urlencode({"logout_token": token}),
                         content_type="application/x-www-form-urlencoded").status_code


def test_sign_in_with_each_provider(two: Providers) -> None:
    staff, public = sign_in("staff"), sign_in("public")
    assert staff.django.session[IDP_SESSION_KEY]["iss"] == two.staff.issuer
    assert public.django.session[IDP_SESSION_KEY]["iss"] == two.public.issuer
    assert public.django.session[IDP_SESSION_KEY]["provider"] == "public"
    # Each authorization request went to its own provider with its own redirect URI.
    (authorize,) = [p for p in public.history if p.url.startswith(f"{two.public.issuer}/auth?")]
    assert parse_qs(urlsplit(authorize.url).query)["redirect_uri"] == [
        f"{RP_ORIGIN}/oidc/callback/public/"]
    assert not any(p.url.startswith(two.staff.issuer) for p in public.history)
    # The same account name at two issuers: two identities, two local users.
    assert staff.django.session[SESSION_KEY] != public.django.session[SESSION_KEY]


def test_logout_goes_to_the_provider_signed_in_with(two: Providers) -> None:
    staff, public = sign_in("staff"), sign_in("public")
    public.history.clear()
    page = public.csrf_post("/oidc/logout/")
    assert page.url == f"{RP_ORIGIN}/home/"
    ends = [p.url for p in public.history if urlsplit(p.url).path == "/session/end"]
    assert len(ends) == 1
    assert ends[0].startswith(two.public.issuer)
    assert parse_qs(urlsplit(ends[0]).query)["client_id"] == ["rp-public"]
    assert not signed_in(public)
    assert signed_in(staff)
    # The public provider's session is over: signing in there asks for credentials again.
    public.history.clear()
    public.go("/oidc/login/?provider=public", login="olga")
    assert any('name="login"' in p.text for p in public.history if "interaction" in p.url)


def test_back_channel_logout_from_one_provider_leaves_the_others_sessions(
        two: Providers) -> None:
    staff, public = sign_in("staff"), sign_in("public")  # same account name at both
    # The user signs out at the public provider itself (not through this site): it sends
    # a back-channel logout token for its session to its client.
    public.go(f"{two.public.issuer}/session/end")
    (token,) = two.sink.of("public")
    assert two.sink.of("staff") == []
    assert deliver(token) == 200
    assert not signed_in(public)
    assert signed_in(staff)
    assert list(OIDCSession.objects.values_list("provider", flat=True)) == ["staff"]
    assert deliver(token) == 400  # a replay


def test_a_logout_token_of_one_provider_is_refused_for_the_other(two: Providers) -> None:
    """The staff provider's logout token, re-addressed to nothing else: it validates only
    with staff's keys and ends only staff's sessions; public's session stays."""
    staff, public = sign_in("staff"), sign_in("public")
    staff.go(f"{two.staff.issuer}/session/end")
    (token,) = two.sink.of("staff")
    header, payload, signature = token.split(".")
    # Claims of the public provider under the staff provider's signature: refused.
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(iss=two.public.issuer, aud="rp-public")
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    assert deliver(f"{header}.{forged}.{signature}") == 400
    assert signed_in(public)
    assert signed_in(staff)


def test_a_response_from_one_provider_is_refused_for_the_others_attempt(
        two: Providers, caplog: pytest.LogCaptureFixture) -> None:
    """Mix-up (RFC 9700 §4.4): a code the public provider issued, delivered with the state
    of an attempt sent to the staff provider, at either callback."""
    browser = Browser()
    to_staff = browser.django.get("/oidc/login/?provider=staff")
    staff_state = parse_qs(urlsplit(to_staff["Location"]).query)["state"][0]
    back = browser.go("/oidc/login/?provider=public", login="olga",
                      stop_at=f"{RP_ORIGIN}/oidc/callback/")
    answer = {k: v[0] for k, v in parse_qs(urlsplit(back.headers["Location"]).query).items()}
    assert answer["iss"] == two.public.issuer  # RFC 9207
    mixed = {**answer, "state": staff_state}
    # At the public provider's callback: the attempt was sent elsewhere (not used up).
    assert browser.django.get("/oidc/callback/public/", mixed).status_code == 400
    # At the staff provider's callback: the iss parameter is not staff's.
    assert browser.django.get("/oidc/callback/staff/", mixed).status_code == 400
    codes = [r.getMessage().split("code=")[1].split()[0] for r in caplog.records
             if "code=" in r.getMessage()]
    assert codes == ["wrong_provider", "invalid_issuer"]
    assert SESSION_KEY not in browser.django.session
    # The public provider's code was never redeemed: its own attempt completes.
    done = browser.django.get("/oidc/callback/public/", answer)
    assert done.status_code == 302
    assert browser.django.session[IDP_SESSION_KEY]["provider"] == "public"
