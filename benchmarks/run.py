"""Benchmarks: the cost of every flow, side by side with stock mozilla-django-oidc.

One run, one machine, one real OpenID Provider (oidc-provider) on loopback; each comparison
alternates the two sides and reports medians, because these machines are noisy — the ratios
are the headline. ``make bench`` runs the full counts and rewrites ``docs/performance.md``;
``make bench-quick`` (CI) runs tiny counts and writes to ``artifacts/`` only, to prove the
benchmarks still run. No thresholds are asserted anywhere.

Figures:
1. outbound requests per sign-in with warm caches;
2. server-side time of the callback, excluding the time spent inside the provider;
3. a signed-in page view with and without ``IdPSessionMiddleware`` (time, queries, outbound),
   and access tokens: a page view with a valid token, one renewal, the time
   ``get_access_token`` adds (``benchmarks/tokens.py``), and an API accepting access tokens
   next to stock's DRF class (``benchmarks/api.py``);
4. logout with the provider up, down (connection refused) and hanging;
5. back-channel logout by ``sid`` among 100,000 sessions and by ``sub`` for a user with 1,000
   sessions, on SQLite and PostgreSQL (``benchmarks/backchannel.py``);
6. sign-in + sign-out throughput of both libraries under a bounded load (a fixed number of
   virtual users for a fixed time) against gunicorn with 2 workers.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import api, tokens  # noqa: E402 - after the path is set

OURS_SECRET = "bench-ours-secret-0123456789abcdef012345"
STOCK_SECRET = "bench-stock-secret-0123456789abcdef01234"
SIDES = ("ours", "stock")
PATHS = {"ours": ("/oidc/login/", "/oidc/callback/", "/oidc/logout/"),
         "stock": ("/stock/authenticate/", "/stock/callback/", "/stock/logout/")}


def clients(origins: list[str]) -> list[dict[str, Any]]:
    def uris(path: str) -> list[str]:
        return [f"{origin}{path}" for origin in origins]

    return [
        {"client_id": "bench-ours", "client_secret": OURS_SECRET,
         "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
         "redirect_uris": uris("/oidc/callback/"),
         "post_logout_redirect_uris": uris("/oidc/logout/complete/"),
         "token_endpoint_auth_method": "client_secret_basic"},
        {"client_id": "bench-stock", "client_secret": STOCK_SECRET,
         "redirect_uris": uris("/stock/callback/"),
         "post_logout_redirect_uris": uris("/whoami/"),
         "token_endpoint_auth_method": "client_secret_post"},
    ]


# --- outbound call accounting -------------------------------------------------------------

class Outbound:
    """Counts and times requests made by the libraries (not by the simulated browser)."""

    def __init__(self) -> None:
        import requests

        self.calls = 0
        self.seconds = 0.0
        self.browser_sessions: set[int] = set()
        original = requests.Session.send
        outbound = self

        def send(session: Any, request: Any, **kwargs: Any) -> Any:
            if id(session) in outbound.browser_sessions:
                return original(session, request, **kwargs)
            started = time.perf_counter()
            try:
                return original(session, request, **kwargs)
            finally:
                outbound.calls += 1
                outbound.seconds += time.perf_counter() - started

        requests.Session.send = send  # type: ignore[method-assign]

    def reset(self) -> None:
        self.calls, self.seconds = 0, 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Report:
    quick: bool
    rows: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# --- in-process measurements (Django test client + real provider) -------------------------

#: cProfile of our callback, when ``--profile`` is given (sign-in step).
PROFILER: Any = None


def timed_sign_in(side: str, outbound: Outbound, login: str) -> tuple[float, float, Any]:
    """Sign in through ``side``; return (callback wall time, outbound time in it, browser)."""
    from tests.op_server import Browser

    browser = Browser()
    outbound.browser_sessions.add(id(browser.op))
    measured: dict[str, float] = {}
    original = browser._request
    callback_path = PATHS[side][1]

    def request(method: str, url: str, data: dict[str, str] | None = None) -> Any:
        if callback_path not in url:
            return original(method, url, data)
        outbound.reset()
        profiler = PROFILER if side == "ours" and login.startswith("profiled") else None
        if profiler is not None:
            profiler.enable()
        started = time.perf_counter()
        page = original(method, url, data)
        measured["wall"] = time.perf_counter() - started
        if profiler is not None:
            profiler.disable()
        measured["outbound"] = outbound.seconds
        measured["calls"] = outbound.calls
        return page

    browser._request = request  # type: ignore[method-assign]
    page = browser.go(f"{PATHS[side][0]}?next=/whoami/", login=login)
    assert page.text not in ("", "anonymous"), page.text[:200]
    browser.calls = measured["calls"]
    return measured["wall"], measured["outbound"], browser


def bench_sign_in(report: Report, outbound: Outbound, rounds: int) -> None:
    for side in SIDES:  # warm caches (discovery, keys, connections) and the user rows
        timed_sign_in(side, outbound, "warm")
    server_ms: dict[str, list[float]] = {s: [] for s in SIDES}
    total_ms: dict[str, list[float]] = {s: [] for s in SIDES}
    calls: dict[str, list[int]] = {s: [] for s in SIDES}
    for i in range(rounds):
        order = SIDES if i % 2 == 0 else SIDES[::-1]
        for side in order:
            wall, inside, browser = timed_sign_in(side, outbound, f"user{i}")
            server_ms[side].append((wall - inside) * 1000)
            total_ms[side].append(wall * 1000)
            calls[side].append(browser.calls)
    med = {s: statistics.median(server_ms[s]) for s in SIDES}
    report.rows["outbound"] = {s: statistics.median(calls[s]) for s in SIDES}
    report.rows["callback_server_ms"] = med
    report.rows["callback_total_ms"] = {s: statistics.median(total_ms[s]) for s in SIDES}
    report.rows["callback_ratio"] = med["ours"] / med["stock"]
    if PROFILER is not None:  # separate rounds: the profiler's overhead stays out of the ratio
        for i in range(rounds):
            timed_sign_in("ours", outbound, f"profiled{i}")
        report.rows["profile"] = profile_lines(PROFILER, rounds)


def profile_lines(profiler: Any, rounds: int, top: int = 25) -> list[str]:
    """The functions of our callback by cumulative time per sign-in (the library, Django,
    requests and the database driver; the test client and the simulated browser left out)."""
    import pstats

    stats = pstats.Stats(profiler)
    rows = []
    for (path, line, name), (_, calls, _tt, cum, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = path.split("site-packages/")[-1].split("/work/main/")[-1]
        if any(part in where for part in ("django/test/", "op_server", "benchmarks/",
                                          "cProfile", "<")):
            continue
        rows.append((cum / rounds * 1000, calls / rounds, f"{where}:{line}({name})"))
    rows.sort(reverse=True)
    return [f"| {ms:.2f} ms | {calls:g} | `{where}` |" for ms, calls, where in rows[:top]]


def bench_page_view(report: Report, outbound: Outbound, blocks: int, per_block: int) -> None:
    from django.conf import settings
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    _, _, browser = timed_sign_in("ours", outbound, "viewer")
    cookie = browser.django.cookies["sessionid"].value
    with_mw = Client()
    with_mw.cookies["sessionid"] = cookie
    assert with_mw.get("/whoami/").content.startswith(b"oidc-")
    without = Client()
    without.cookies["sessionid"] = cookie
    with override_settings(MIDDLEWARE=settings._MIDDLEWARE_BASE):
        assert without.get("/whoami/").content.startswith(b"oidc-")  # chain loaded here
    results: dict[str, list[float]] = {"with": [], "without": []}
    for b in range(blocks):
        for name, client in (("with", with_mw), ("without", without))[:: 1 if b % 2 else -1]:
            started = time.perf_counter()
            for _ in range(per_block):
                client.get("/whoami/")
            results[name].append((time.perf_counter() - started) / per_block * 1e6)
    queries = {}
    for name, client in (("with", with_mw), ("without", without)):
        with CaptureQueriesContext(connection) as captured:
            outbound.reset()
            client.get("/whoami/")
        queries[name] = len(captured.captured_queries)
        queries[f"{name}_outbound"] = outbound.calls
    med = {k: statistics.median(v) for k, v in results.items()}
    report.rows["page_view_us"] = med
    report.rows["page_view_overhead"] = med["with"] / med["without"] - 1
    report.rows["page_view_queries"] = queries


@contextmanager
def hanging_server(port: int) -> Iterator[None]:
    """Accepts connections on ``port`` and never answers (each request bounded at 30 s)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            time.sleep(30)

        do_GET = do_POST

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def timed_logout(side: str, outbound: Outbound, login: str) -> float:
    _, _, browser = timed_sign_in(side, outbound, login)
    client = browser.django
    client.get("/oidc/logout/")  # any page with a form: sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    started = time.perf_counter()
    response = client.post(PATHS[side][2], {"csrfmiddlewaretoken": token})
    elapsed = time.perf_counter() - started
    assert response.status_code == 302, response.status_code
    assert client.get("/whoami/").content == b"anonymous"
    return elapsed * 1000


def bench_logout(report: Report, outbound: Outbound, op: Any, rounds: int,
                 timeout: float) -> None:
    results: dict[str, dict[str, float]] = {}
    up = {s: statistics.median([timed_logout(s, outbound, f"out{s}{i}") for i in range(rounds)])
          for s in SIDES}
    results["up"] = up
    # Sign the users in while the provider is up, then take it down.
    sessions = {s: [timed_sign_in(s, outbound, f"down{s}{i}")[2] for i in range(2 * rounds)]
                for s in SIDES}
    port = op.port
    op.stop()

    def logout_existing(side: str) -> float:
        browser = sessions[side].pop()
        client = browser.django
        client.get("/oidc/logout/")
        token = client.cookies["csrftoken"].value
        started = time.perf_counter()
        response = client.post(PATHS[side][2], {"csrfmiddlewaretoken": token})
        elapsed = time.perf_counter() - started
        assert response.status_code == 302
        assert client.get("/whoami/").content == b"anonymous"
        return elapsed * 1000

    results["down"] = {s: statistics.median([logout_existing(s) for _ in range(rounds)])
                       for s in SIDES}
    with hanging_server(port):
        results["hanging"] = {s: statistics.median([logout_existing(s) for _ in range(rounds)])
                              for s in SIDES}
    op.start()
    report.rows["logout_ms"] = results
    report.rows["timeout_ms"] = timeout * 1000


# --- back-channel (its own processes: a fresh database each) ------------------------------

def bench_backchannel(report: Report, sessions: int, user_sessions: int) -> None:
    out = {}
    for database in ("sqlite", "postgres"):
        result = subprocess.run(
            [sys.executable, "-m", "benchmarks.backchannel", "--database", database,
             "--sessions", str(sessions), "--user-sessions", str(user_sessions)],
            cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
        if result.returncode != 0:
            report.notes.append(f"back-channel on {database} did not run: "
                                f"{result.stderr.strip().splitlines()[-1:]}")
            continue
        fields = dict(re.findall(r"(\w+)=([\d.]+)", result.stdout.split("RESULT", 1)[1]
                                 .splitlines()[0]))
        plans = re.findall(r"PLAN (sid|sub): (.*)", result.stdout)
        out[database] = {**{k: float(v) for k, v in fields.items()}, "plans": dict(plans)}
    report.rows["backchannel"] = out


# --- throughput against gunicorn ------------------------------------------------------------

def sign_in_out_http(side: str, base: str, login: str) -> None:
    from tests.op_server import Browser

    browser = Browser(rp_origin=base)
    page = browser.go(f"{base}{PATHS[side][0]}?next=/whoami/", login=login)
    assert page.url == f"{base}/whoami/", (page.url, page.status, page.text[-400:])
    browser.op.get(f"{base}/oidc/logout/", timeout=10)  # CSRF cookie
    token = browser.op.cookies.get("csrftoken", domain="127.0.0.1")
    page = browser.go(f"{base}{PATHS[side][2]}", "POST", {"csrfmiddlewaretoken": token})
    assert page.text == "anonymous", page.text[:200]


def bench_throughput(report: Report, env: dict[str, str], port: int, users: int,
                     seconds: float, rounds: int) -> None:
    base = f"http://127.0.0.1:{port}"
    env = dict(env)
    # Two workers need a shared cache (single-use state, logout state), as in production.
    with socket.socket() as sock:
        redis_up = sock.connect_ex(("127.0.0.1", 6379)) == 0
    if redis_up:
        env.update({"BENCH_CACHE_BACKEND": "django.core.cache.backends.redis.RedisCache",
                    "BENCH_CACHE_LOCATION": "redis://127.0.0.1:6379/0"})
    else:
        env.update({"BENCH_CACHE_BACKEND": "django.core.cache.backends.db.DatabaseCache",
                    "BENCH_CACHE_LOCATION": "bench_cache"})
        subprocess.run([sys.executable, "-m", "django", "createcachetable"], cwd=ROOT,
                       env=env, check=True)
    report.notes.append("Throughput: the shared cache is "
                        + ("Redis." if redis_up else "Django's database cache."))
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "benchmarks.site.wsgi", "-w", "2",
         "-b", f"127.0.0.1:{port}", "--log-level", "warning", "--timeout", "60"],
        cwd=ROOT, env=env)
    try:
        import requests

        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/whoami/", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
        for side in SIDES:  # warm both workers' caches
            for n in range(4):
                sign_in_out_http(side, base, f"warm{n}")
        rates: dict[str, list[float]] = {s: [] for s in SIDES}
        errors: dict[str, int] = dict.fromkeys(SIDES, 0)
        for r in range(rounds):
            for side in SIDES if r % 2 == 0 else SIDES[::-1]:
                done, failed = load(side, base, users, seconds)
                rates[side].append(done / seconds)
                errors[side] += failed
        report.notes.extend(LOAD_ERRORS)
        report.rows["throughput"] = {
            "per_s": {s: statistics.median(rates[s]) for s in SIDES},
            "errors": errors, "users": users, "seconds": seconds, "rounds": rounds}
    finally:
        server.terminate()
        server.wait(timeout=15)


LOAD_ERRORS: list[str] = []


def load(side: str, base: str, users: int, seconds: float) -> tuple[int, int]:
    """``users`` virtual users loop sign-in + sign-out for ``seconds``; bounded in time."""
    stop_at = time.monotonic() + seconds
    done = [0] * users
    failed = [0] * users
    first_errors: list[str] = LOAD_ERRORS

    def user(n: int) -> None:
        i = 0
        while time.monotonic() < stop_at:
            try:
                sign_in_out_http(side, base, f"{side}-vu{n}-{i}")
                done[n] += 1
            except Exception as exc:
                failed[n] += 1
                if len(first_errors) < 3:
                    first_errors.append(f"{side}: {type(exc).__name__}: {str(exc)[:200]}")
            i += 1

    threads = [threading.Thread(target=user, args=(n,)) for n in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 120)
    return sum(done), sum(failed)


# --- the report ------------------------------------------------------------------------------

def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import django
    import mozilla_django_oidc

    from django_idp_logout import __version__

    return (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
            f"Django {django.get_version()}, django-idp-logout {__version__}, "
            f"mozilla-django-oidc {getattr(mozilla_django_oidc, '__version__', '5.x')}, "
            f"provider oidc-provider (Node.js {_node_version()}) on loopback")


def _node_version() -> str:
    try:
        return subprocess.run(["node", "--version"], capture_output=True, text=True,
                              check=False).stdout.strip()
    except OSError:
        return "?"


def render(report: Report, args: argparse.Namespace) -> str:
    r = report.rows
    today = datetime.date.today().isoformat()
    lines = [
        "# Performance",
        "",
        f"Measured {today} on {machine()}.",
        "",
        "Reproduce with `make bench` (full counts, rewrites this page) or `make bench-quick`.",
        "Each comparison alternates the two sides and reports medians; ratios are the headline,",
        "absolute numbers vary from machine to machine. *Stock* is mozilla-django-oidc configured",
        "as its documentation recommends for a careful site: RS256 with `OIDC_OP_JWKS_ENDPOINT`,",
        "PKCE on, `OIDC_STORE_ID_TOKEN`, and an `OIDC_OP_LOGOUT_URL_METHOD` (RP-initiated",
        "logout), mounted in the same Django, against the same provider.",
        "",
    ]
    if "outbound" in r:
        o, s, t = r["outbound"], r["callback_server_ms"], r["callback_total_ms"]
        lines += [
            "## Sign-in",
            "",
            "| | django-idp-logout | stock | goal |",
            "|---|---|---|---|",
            f"| outbound requests per sign-in (warm caches) | {o['ours']:.0f} | {o['stock']:.0f}"
            " | 1 (the token request) |",
            f"| callback, server-side time (excluding time inside the provider) | "
            f"{s['ours']:.2f} ms | {s['stock']:.2f} ms | at most half of stock's |",
            f"| callback, wall time including the provider | {t['ours']:.2f} ms | "
            f"{t['stock']:.2f} ms | |",
            "",
            f"Ratio of server-side callback time, ours / stock: **{r['callback_ratio']:.2f}** "
            f"(median of {args.rounds} alternated sign-ins per side).",
            "",
        ]
    if "profile" in r:
        lines += [
            "Profile of our callback (cProfile, cumulative time per sign-in, top entries):",
            "",
            "| cumulative | calls | function |",
            "|---|---|---|",
            *r["profile"],
            "",
        ]
    if "page_view_us" in r:
        p, q = r["page_view_us"], r["page_view_queries"]
        lines += [
            "## A signed-in page view",
            "",
            "| | with `IdPSessionMiddleware` | without | goal |",
            "|---|---|---|---|",
            f"| time per request (Django test client) | {p['with']:.1f} µs | "
            f"{p['without']:.1f} µs | within 3 % |",
            f"| database queries | {q['with']} | {q['without']} | no extra query |",
            f"| outbound requests | {q['with_outbound']} | {q['without_outbound']} | 0 |",
            "",
            f"Overhead: **{r['page_view_overhead'] * 100:+.1f} %** (median of {args.blocks} "
            f"alternated blocks of {args.per_block} requests).",
            "",
        ]
    if "tokens" in r:
        lines += tokens.render(r)
    if "api" in r:
        lines += api.render(r)
    if "logout_ms" in r:
        lo = r["logout_ms"]
        lines += [
            "## Logout",
            "",
            "django-idp-logout here revokes the tokens (`REVOKE_TOKENS_ON_LOGOUT`), the case",
            f"with an outbound call; `TIMEOUT` is {r['timeout_ms'] / 1000:.1f} s. Stock makes no",
            "outbound call at logout (it builds the end-session URL and flushes the session).",
            "",
            "| provider | django-idp-logout | stock | goal |",
            "|---|---|---|---|",
        ]
        for state in ("up", "down", "hanging"):
            lines.append(f"| {state} | {lo[state]['ours']:.1f} ms | {lo[state]['stock']:.1f} ms"
                         f" | {'bounded by TIMEOUT' if state != 'up' else ''} |")
        lines += ["", "In every case the local session ended and the user reached a page.", ""]
    if "backchannel" in r:
        lines += [
            "## Back-channel logout",
            "",
            "| database | stored sessions | by `sid`: time / queries | by `sub` (user with "
            "N sessions): time / queries |",
            "|---|---|---|---|",
        ]
        for db, b in r["backchannel"].items():
            lines.append(f"| {db} | {b['sessions']:.0f} | {b['sid_ms']:.2f} ms / "
                         f"{b['sid_queries']:.0f} | {b['sub_ms']:.1f} ms / "
                         f"{b['sub_queries']:.0f} (N = {b['user_sessions']:.0f}) |")
        lines += ["", "Query plans of the lookups:", ""]
        for db, b in r["backchannel"].items():
            for kind, plan in b["plans"].items():
                lines.append(f"- {db}, by {kind}: `{plan.strip()}`")
        lines += [
            "",
            "Queries counted include the transaction's BEGIN and COMMIT. Ending a session by",
            "`sid` is an index lookup plus two deletes, a few milliseconds. By `sub`, the lookup",
            "uses the `(issuer, subject)` index; the time is dominated by deleting N sessions",
            "and N mappings (index maintenance) and the durable commit, not by finding them.",
            "",
        ]
    if "throughput" in r:
        t = r["throughput"]
        lines += [
            "## Throughput under a bounded load",
            "",
            f"{t['users']} virtual users, each looping sign-in (through the provider's login",
            f"and consent pages) + sign-out, for {t['seconds']:.0f} s per run, {t['rounds']} runs",
            "per side alternated; gunicorn with 2 workers, the site's database on SQLite; the",
            "provider in one Node.js process on the same 2 cores.",
            "",
            "| | django-idp-logout | stock |",
            "|---|---|---|",
            f"| sign-in + sign-out per second | {t['per_s']['ours']:.2f} | "
            f"{t['per_s']['stock']:.2f} |",
            f"| failed iterations | {t['errors']['ours']} | {t['errors']['stock']} |",
            "",
            "Each iteration is dominated by the provider's own pages and token endpoint, shared",
            "by both sides; the difference is what the library adds.",
            "",
        ]
    if report.notes:
        lines += ["## Notes", "", *[f"- {n}" for n in report.notes], ""]
    lines += [
        "## What dominated, and what we changed",
        "",
        "- Sign-in: stock makes three outbound calls per sign-in (token, JWKS, UserInfo); this",
        "  app makes one (discovery and keys cached in Django's cache, claims from the ID",
        "  token) over a kept-alive connection.",
        "- Callback server time, first measurement: 19.8 ms (ours) vs 18.2 ms (stock), ratio",
        "  1.09. cProfile showed two causes: six commits per sign-in, each an fsync on SQLite,",
        "  and requests scanning the environment for proxy variables on every call. Every",
        "  write of a sign-in now runs in one transaction and the environment is read once",
        "  per process: ratio 0.6-0.7.",
        "- Second round (flow module, single use on every cache). Counted per warm callback:",
        "  the discovery document was loaded twice (once by the view, once by key lookup);",
        "  now once (`tests/test_callback_cost.py` counts it), and the state claim sends no",
        "  BEGIN/COMMIT in autocommit. But the claim itself is new work: on Django's default",
        "  per-process `LocMemCache` it is an INSERT under a unique key in the database (a",
        "  commit, an fsync on SQLite), because a per-process cache cannot make a `state`",
        "  single use across workers; with Redis or Memcached it is one `add`. What remains,",
        "  in the profile above: the token request, Django's `authenticate()` and `login()`",
        "  (identity lookup, `last_login`, the session key cycle: exists, insert, select,",
        "  delete), the session mapping and `SessionMiddleware`'s final save. All of it is",
        "  what the protocol and Django's session guarantees need, so the goal of one half",
        "  of stock is not met: the ratio is 0.75-0.8 (this run: above).",
        "",
        "  | same machine, same day | before (first round) | after |",
        "  |---|---|---|",
        "  | callback server time, ours / stock | 7.9 ms / 12.1 ms (0.65) | "
        "8.9 ms / 11.6 ms (0.77) |",
        "  | cache reads of the discovery document per callback | 2 | 1 |",
        "  | single use of `state` on LocMemCache, two workers | not enforced | enforced |",
        "  | back-channel by `sub`, 1,000 of 100,000 sessions, PostgreSQL | 18 ms | 11.5 ms |",
        "  | same, SQLite | 53 ms | 34 ms |",
        "",
        "- Back-channel by `sub`: the sessions are deleted by one DELETE whose subquery",
        "  selects them (no list of 1,000 keys sent to the database and back) and the",
        "  mappings by the same indexed filter; the unused index on the mapping's session key",
        "  is gone (the mapping is found by the id the session remembers). On PostgreSQL the",
        "  goal (under 20 ms) is met. On SQLite it is not: deleting 1,000 rows scattered",
        "  through Django's session table (random keys) and the rollback journal's durable",
        "  commit take about 30 ms of the 34, and are Django's and SQLite's, not this app's.",
        "  The benchmark now settles the database and the process first (VACUUM ANALYZE,",
        "  one large read, a full garbage collection): a 25 ms collection of the objects",
        "  left by the bulk load used to land inside the measurement.",
        "- Logout: revoking two tokens against a hanging provider first cost two timeouts;",
        "  revocation now stops at the first unreachable-provider failure, so logout waits one",
        "  `TIMEOUT` at most.",
        "- Third round (tokens and session lifetime): a valid token costs no query and no",
        "  request (about 2 µs); a renewal is one request and about a dozen queries (the",
        "  stored tokens read twice, the renewal lock taken and given back, the conditional",
        "  UPDATE, the session's save). With no lifetime setting the middleware's new",
        "  `process_view` returns at once: the page view's overhead is unchanged. The",
        "  callback has no new query (the tokens ride in the mapping row's INSERT); its ratio",
        "  measured 0.79 and 0.85 in two runs on this machine (the changes between them do",
        "  not touch the callback; AMD EPYC, where the rows above were an Intel Xeon):",
        "  run-to-run noise.",
        "- Fourth round (several providers, APIs). The active provider is read from the session",
        "  only on sites with several providers; a single-provider site pays one context",
        "  variable per request (page view overhead still within the goal). An API request with",
        "  a JWT: the first profile showed the token parsed three times (the unverified `iss`",
        "  read for routing, the header, the verification); with one provider the routing read",
        "  is skipped (about 220 → 140 µs per validation). What remains is PyJWT's parsing and",
        "  the RSA check (about 140 µs) and the user's lookup by `(iss, sub)` (one query, which",
        "  stock's user lookup has too); stock pays a UserInfo request on every call instead.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny counts (CI)")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--only", action="append", default=[],
                        help="run only these steps (sign-in, page view, tokens, api, logout, "
                             "back-channel, throughput); the page is then written to "
                             "artifacts/ only")
    parser.add_argument("--profile", action="store_true",
                        help="profile our callback with cProfile (sign-in step)")
    args = parser.parse_args(argv)
    if args.profile:
        import cProfile

        global PROFILER
        PROFILER = cProfile.Profile()
    args.rounds = 3 if args.quick else 25
    args.blocks = 4 if args.quick else 20
    args.per_block = 20 if args.quick else 300
    sessions, user_sessions = (2_000, 100) if args.quick else (100_000, 1_000)
    users, seconds, load_rounds = (2, 3.0, 1) if args.quick else (4, 20.0, 3)
    timeout = 1.0

    from tests.op_server import OpenIDProvider, ensure_installed

    ensure_installed()
    gunicorn_port = free_port()
    op = OpenIDProvider(clients=clients(["http://testserver",
                                         f"http://127.0.0.1:{gunicorn_port}"]),
                        # refresh tokens for bench-ours only; a resource server for the API
                        env={"OP_REFRESH": "1", "OP_API_RESOURCE": api.RESOURCE})
    op.start()
    workdir = ROOT / "artifacts" / "bench"
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "BENCH_ISSUER": op.issuer, "BENCH_TIMEOUT": str(timeout),
           "BENCH_REVOKE": "1", "DJANGO_SETTINGS_MODULE": "benchmarks.site.settings",
           "BENCH_DB": str(workdir / f"site-{uuid.uuid4().hex[:6]}.sqlite3")}
    os.environ.update(env)
    report = Report(quick=args.quick)
    try:
        import django
        from django.core.management import call_command
        from django.test.utils import setup_test_environment

        django.setup()
        setup_test_environment()
        call_command("migrate", verbosity=0)
        outbound = Outbound()
        steps: list[tuple[str, Callable[[], None]]] = [
            ("sign-in", lambda: bench_sign_in(report, outbound, args.rounds)),
            ("page view", lambda: bench_page_view(report, outbound, args.blocks,
                                                  args.per_block)),
            ("tokens", lambda: tokens.bench_tokens(report, outbound, args.blocks,
                                                   args.per_block * 10)),
            ("api", lambda: api.bench_api(report, outbound, op, OURS_SECRET, args.blocks,
                                          max(args.per_block // 10, 5))),
            ("logout", lambda: bench_logout(report, outbound, op, args.rounds, timeout)),
            ("back-channel", lambda: bench_backchannel(report, sessions, user_sessions)),
            ("throughput", lambda: bench_throughput(report, env, gunicorn_port, users,
                                                    seconds, load_rounds)),
        ]
        for name, step in steps:
            if args.only and name not in args.only:
                continue
            started = time.monotonic()
            step()
            print(f"{name}: done in {time.monotonic() - started:.1f} s", flush=True)
    finally:
        op.stop()
        Path(env["BENCH_DB"]).unlink(missing_ok=True)
    text = render(report, args)
    output = workdir / "performance.md" if args.quick or args.only else args.output
    output.write_text(text)
    print(text)
    print(f"written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
