"""Benchmarks of an API that accepts the provider's access tokens (issue 18), run by
``benchmarks/run.py`` (step ``api``), against the real provider.

The same DRF view, authenticated three ways:

1. ours, a JWT access token (RFC 9068, the provider's resource indicator): checked with the
   cached keys (goal: no outbound request);
2. ours, an opaque token through RFC 7662 introspection: answer cached, and not cached
   (``INTROSPECTION_CACHE_TTL`` 0: one request per call);
3. stock mozilla-django-oidc's ``OIDCAuthentication``, which asks the provider's UserInfo
   endpoint on every request (and checks no audience).

Our tokens are the client's own (client credentials), mapped to a local user as a user's
token would be (one identity lookup); stock's is a signed-in user's access token, the kind
its UserInfo call needs.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import requests

#: The resource indicator (RFC 8707) of the benchmark's API; ``opaque/`` after it names a
#: second API whose tokens are opaque (``tests/op/server.mjs``, ``OP_API_RESOURCE``).
RESOURCE = "https://bench-api.example.test/"
CASES = ("ours_jwt", "ours_opaque_cached", "ours_opaque_uncached", "stock_userinfo")


def _client_token(op: Any, resource: str, client_id: str, secret: str) -> str:
    response = requests.post(f"{op.issuer}/token", timeout=5, auth=(client_id, secret), data={
        "grant_type": "client_credentials", "resource": resource, "scope": "api:read"})
    response.raise_for_status()
    return str(response.json()["access_token"])


def bench_api(report: Any, outbound: Any, op: Any, secret: str, blocks: int,
              per_block: int) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client, override_settings

    from benchmarks.run import timed_sign_in
    from django_idp_logout.models import OIDCIdentity
    from django_idp_logout.session import SESSION_KEY

    jwt_token = _client_token(op, RESOURCE, "bench-ours", secret)
    opaque = _client_token(op, f"{RESOURCE}opaque/", "bench-ours", secret)
    user = get_user_model().objects.create_user("api-user")
    OIDCIdentity.objects.create(user=user, issuer=op.issuer, subject="bench-ours")
    _, _, browser = timed_sign_in("ours", outbound, "api-stock-user")
    user_token = browser.django.session[SESSION_KEY]["access_token"]
    base = {"AUDIENCE": [RESOURCE, f"{RESOURCE}opaque/"], "INTROSPECT": True}
    from django.conf import settings

    def api(ttl: int) -> dict[str, Any]:
        return {**settings.IDP_LOGOUT, "API": {**base, "INTROSPECTION_CACHE_TTL": ttl}}

    cases = {
        "ours_jwt": ("/api/ours/", jwt_token, api(60)),
        "ours_opaque_cached": ("/api/ours/", opaque, api(60)),
        "ours_opaque_uncached": ("/api/ours/", opaque, api(0)),
        "stock_userinfo": ("/api/stock/", user_token, api(60)),
    }
    client = Client()
    timings: dict[str, list[float]] = {name: [] for name in CASES}
    calls: dict[str, int] = dict.fromkeys(CASES, 0)
    for block in range(blocks + 1):  # block 0 warms the caches, and is not counted
        for name in CASES:
            path, token, idp_logout = cases[name]
            with override_settings(IDP_LOGOUT=idp_logout):
                outbound.reset()
                started = time.perf_counter()
                for _ in range(per_block):
                    response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")
                    assert response.status_code == 200, (name, response.content[:200])
                elapsed = time.perf_counter() - started
            if block:
                timings[name].append(elapsed / per_block * 1e6)
                calls[name] += outbound.calls
    report.rows["api"] = {
        name: {"us": statistics.median(timings[name]),
               "outbound": calls[name] / (blocks * per_block)} for name in CASES}
    report.rows["api"]["blocks"], report.rows["api"]["per_block"] = blocks, per_block


def render(rows: dict[str, Any]) -> list[str]:
    a = rows["api"]
    labels = {
        "ours_jwt": "ours, JWT access token (cached keys)",
        "ours_opaque_cached": "ours, opaque token, introspection answer cached",
        "ours_opaque_uncached": "ours, opaque token, introspected every time",
        "stock_userinfo": "stock `OIDCAuthentication` (UserInfo every time)",
    }
    lines = [
        "## An API that accepts access tokens",
        "",
        "One DRF view, one request at a time through Django's test client, the provider on",
        "loopback (so a request to it costs far less than across a network).",
        "",
        "| authentication | time per API request | outbound requests per API request |",
        "|---|---|---|",
    ]
    lines += [f"| {labels[name]} | {a[name]['us']:.0f} µs | {a[name]['outbound']:.2f} |"
              for name in CASES]
    lines += [
        "",
        f"Medians of {a['blocks']} blocks of {a['per_block']} requests per row, the rows "
        "alternating. Goals: no outbound request per API call for a JWT access token with",
        "the keys cached, one per cache miss for an opaque token. Stock's UserInfo call",
        "also gives it no audience check: any access token of the provider is accepted.",
        "",
    ]
    return lines
