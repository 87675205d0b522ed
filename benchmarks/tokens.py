"""Benchmarks of access tokens (issue 12), run by ``benchmarks/run.py`` (step ``tokens``).

Against the real provider, which issues refresh tokens (``OP_REFRESH``):

1. a page view that calls ``get_access_token`` with a valid token: database queries and
   outbound requests, next to a page that does not (goal: 0 extra queries, 0 requests);
2. one renewal (an expired token): outbound requests (goal: 1, the refresh grant);
3. the time ``get_access_token`` adds with a valid token, called directly on a loaded
   request (goal: under 50 µs).
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any


def _expire(session_key: str) -> None:
    """Make the access token expire, in the session's copy and in the stored tokens."""
    from django.contrib.sessions.backends.db import SessionStore

    from django_idp_logout.models import OIDCSession
    from django_idp_logout.session import SESSION_KEY

    session = SessionStore(session_key)
    data = session[SESSION_KEY]
    session[SESSION_KEY] = {**data, "expires_at": time.time() - 1}
    session.save()
    row = OIDCSession.objects.get(pk=data["mapping"])
    tokens = {**json.loads(row.tokens), "expires_at": time.time() - 1}
    OIDCSession.objects.filter(pk=row.pk).update(tokens=json.dumps(tokens))


def _counted(client: Any, path: str, outbound: Any) -> tuple[int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    outbound.reset()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return len(captured.captured_queries), outbound.calls


def _loaded_request(session_key: str) -> Any:
    """A request as a view sees it: session loaded, user authenticated."""
    from django.contrib.auth import get_user
    from django.contrib.sessions.backends.db import SessionStore
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.session = SessionStore(session_key)
    request.user = get_user(request)
    assert request.user.is_authenticated
    return request


def bench_tokens(report: Any, outbound: Any, blocks: int, per_block: int) -> None:
    from django.test import Client

    from benchmarks.run import timed_sign_in
    from django_idp_logout import get_access_token

    _, _, browser = timed_sign_in("ours", outbound, "token-user")
    key = browser.django.cookies["sessionid"].value
    client = Client()
    client.cookies["sessionid"] = key
    client.get("/token/")  # warm
    page = _counted(client, "/whoami/", outbound)
    token = _counted(client, "/token/", outbound)
    _expire(key)
    renewal = _counted(client, "/token/", outbound)
    after = _counted(client, "/token/", outbound)
    request = _loaded_request(key)
    get_access_token(request)
    timings = []
    for _ in range(blocks):
        started = time.perf_counter()
        for _ in range(per_block):
            get_access_token(request)
        timings.append((time.perf_counter() - started) / per_block * 1e6)
    report.rows["tokens"] = {
        "page_queries": page[0], "token_queries": token[0], "token_outbound": token[1],
        "renewal_queries": renewal[0], "renewal_outbound": renewal[1],
        "after_outbound": after[1], "valid_us": statistics.median(timings),
        "blocks": blocks, "per_block": per_block,
    }


def render(rows: dict[str, Any]) -> list[str]:
    t = rows["tokens"]
    return [
        "## Access tokens",
        "",
        "A view that calls `get_access_token` (the provider issues refresh tokens; the",
        "session engine is `db`).",
        "",
        "| | measured | goal |",
        "|---|---|---|",
        f"| queries, page view with a valid token (a page without it: {t['page_queries']}) | "
        f"{t['token_queries']} | no extra query |",
        f"| outbound requests, page view with a valid token | {t['token_outbound']} | 0 |",
        f"| outbound requests, one renewal (token expired) | {t['renewal_outbound']} | 1 |",
        f"| queries, one renewal | {t['renewal_queries']} | |",
        f"| outbound requests, the next page view | {t['after_outbound']} | 0 |",
        f"| time `get_access_token` adds with a valid token | {t['valid_us']:.2f} µs | "
        "under 50 µs |",
        "",
        f"The time is the median of {t['blocks']} blocks of {t['per_block']} calls on a",
        "request whose session is loaded, as in a view. A renewal's queries: read the stored",
        "tokens, take and release the renewal lock (rows in the database on Django's default",
        "`LocMemCache`; one Redis `add`/`delete` each with Redis), the conditional UPDATE, and",
        "the session's save.",
        "",
    ]
