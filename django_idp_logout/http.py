"""Every outbound call to the provider goes through :func:`request`.

One ``requests.Session`` per process keeps connections to the provider alive (a fresh TLS
handshake costs more than all the Django work in a callback). Every call has the configured
timeout, TLS verification on, no redirects followed, and a cap on the body size so a
misbehaving provider cannot exhaust memory. Failures become :class:`ProviderUnavailable`.

``CA_BUNDLE`` may name a private CA; it is passed per request so it wins over the
``REQUESTS_CA_BUNDLE`` environment variable, which otherwise applies (as do proxy variables).

Timeouts hold even against a provider that trickles bytes. requests' ``timeout`` bounds the
connect and each single read, not the whole call, so the body is read with
``urllib3.HTTPResponse.read1`` in a loop against a deadline of :data:`DEADLINE_FACTOR` x
``TIMEOUT`` from the start of the call, and a watchdog thread (one per process) shuts the
socket down when the deadline passes in the middle of a read, e.g. a trickled chunk-size
line. Past the deadline the call fails with ``provider_timeout`` (504). The status line and
headers are bounded by ``TIMEOUT`` per read only (and by http.client's limits on their size).
"""

from __future__ import annotations

import contextlib
import http.client
import http.cookiejar
import itertools
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
import urllib3

from . import __version__
from .conf import get_config, parse_timeout
from .exceptions import ProviderUnavailable

#: Largest response body read from the provider (discovery, JWKS, token, UserInfo).
MAX_BODY_BYTES = 1024 * 1024

#: A call (connect, headers and body) never lasts longer than this many times ``TIMEOUT``.
DEADLINE_FACTOR = 2.0

_READ_SIZE = 64 * 1024

_local = threading.local()


def _session() -> requests.Session:
    # One session per thread and process: requests.Session is not documented as thread-safe,
    # and a forked worker must not share the parent's sockets.
    pid = os.getpid()
    session: requests.Session | None = getattr(_local, "session", None)
    if session is None or getattr(_local, "pid", None) != pid:
        session = requests.Session()
        session.headers["User-Agent"] = f"django-idp-logout/{__version__}"
        # Shared by every user's requests in this thread: a cookie one answer sets must never
        # go out with another user's request (a load balancer's, an API's session cookie).
        session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        if not any(name.lower().endswith("_proxy") for name in os.environ):
            # No proxy configured: skip requests' scan of the environment on every call
            # (measurable on a callback). The CA bundle variables are read once, here.
            session.trust_env = False
            _local.env_ca_bundle = (os.environ.get("REQUESTS_CA_BUNDLE")
                                    or os.environ.get("CURL_CA_BUNDLE"))
        else:
            _local.env_ca_bundle = None  # requests reads the environment itself
        _local.session, _local.pid = session, pid
    return session


class Response:
    """The parts of a provider response we use, with the body already read and capped."""

    def __init__(self, status: int, headers: requests.structures.CaseInsensitiveDict[str],
                 body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()

    def json_object(self, *, stage: str) -> dict[str, Any]:
        """The body as a JSON object, or :class:`ProviderUnavailable` (502)."""
        try:
            value = json.loads(self.body)
        except ValueError:
            raise ProviderUnavailable(
                f"response is not JSON (HTTP {self.status}, {self.content_type or 'no type'})",
                code="provider_bad_response", stage=stage) from None
        if not isinstance(value, dict):
            raise ProviderUnavailable("response is JSON but not an object",
                                      code="provider_bad_response", stage=stage)
        return value


def request(method: str, url: str, *, stage: str, **kwargs: Any) -> Response:
    """Send one request to the provider. Never logs the URL's query or the body.

    Takes at most :data:`DEADLINE_FACTOR` x ``TIMEOUT`` in all; raises
    :class:`ProviderUnavailable` (504 ``provider_timeout``, 503 ``provider_unavailable``,
    502 ``provider_bad_response``) on any failure.
    """
    config = get_config()
    timeout = parse_timeout(kwargs.pop("timeout", config.timeout))
    deadline = time.monotonic() + DEADLINE_FACTOR * timeout
    session = _session()
    kwargs["timeout"] = timeout
    kwargs["verify"] = config.ca_bundle or getattr(_local, "env_ca_bundle", None) or True
    kwargs["allow_redirects"] = False
    kwargs["stream"] = True
    try:
        with session.request(method, url, **kwargs) as raw:
            body = _read_body(raw, deadline, stage)
            return Response(raw.status_code, raw.headers, body)
    except requests.Timeout:
        raise _timed_out(stage) from None
    except requests.RequestException as exc:
        raise ProviderUnavailable(f"request failed: {type(exc).__name__}",
                                  code="provider_unavailable", status=503, stage=stage) from None


def stream(method: str, url: str, *, timeout: float, **kwargs: Any) -> requests.Response:
    """Send one request to one of the site's APIs (the backend-for-frontend proxy) and return
    as soon as the headers arrive: the caller streams the body and closes the response.

    The same pooled session, TLS verification (the environment's CA bundle; the provider's
    ``CA_BUNDLE`` is for the provider only) and no redirects followed; ``timeout`` bounds the
    connect and each read. Raises ``requests.Timeout`` / ``requests.RequestException``.
    """
    session = _session()
    return session.request(method, url, timeout=timeout, allow_redirects=False, stream=True,
                           verify=getattr(_local, "env_ca_bundle", None) or True, **kwargs)


def _timed_out(stage: str) -> ProviderUnavailable:
    return ProviderUnavailable("request timed out", code="provider_timeout", status=504,
                               stage=stage)


def _read_body(raw: requests.Response, deadline: float, stage: str) -> bytes:
    """The body, at most :data:`MAX_BODY_BYTES`, read before ``deadline`` (monotonic)."""
    stream = raw.raw
    read1: Callable[..., bytes] | None = getattr(stream, "read1", None)
    if read1 is None:  # not urllib3 (a custom transport adapter): requests' own iterator
        chunks = raw.iter_content(_READ_SIZE)

        def read1(size: int, decode_content: bool) -> bytes:
            return next(chunks, b"")

    sock = getattr(getattr(stream, "connection", None), "sock", None)
    watch = _watchdog.watch(sock, deadline) if isinstance(sock, socket.socket) else None
    body = bytearray()
    try:
        while True:
            if time.monotonic() >= deadline:
                raise _timed_out(stage)
            try:
                chunk = read1(_READ_SIZE, decode_content=True)
            except urllib3.exceptions.DecodeError:
                raise ProviderUnavailable("response body cannot be decoded",
                                          code="provider_bad_response", stage=stage) from None
            except (urllib3.exceptions.HTTPError, requests.RequestException,
                    http.client.HTTPException, OSError, ValueError) as exc:
                # A read timeout, or the watchdog shut the socket down at the deadline.
                if (isinstance(exc, (urllib3.exceptions.ReadTimeoutError, requests.Timeout))
                        or time.monotonic() >= deadline):
                    raise _timed_out(stage) from None
                raise ProviderUnavailable(f"reading the response failed: {type(exc).__name__}",
                                          code="provider_unavailable", status=503,
                                          stage=stage) from None
            if not chunk:
                return bytes(body)
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise ProviderUnavailable("response body too large",
                                          code="provider_bad_response", stage=stage)
    finally:
        if watch is not None:
            _watchdog.unwatch(watch)


class _Watchdog:
    """One daemon thread per process: shuts down the socket of a read past its deadline.

    A blocked ``recv`` then returns at once, so a call cannot outlive its deadline by more than
    a scheduling delay, whatever the provider sends (a trickled chunk-size line, empty deflate
    blocks …) inside a single ``read1``.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:  # also in a forked child: the parent's thread does not exist there
        self._cond = threading.Condition()
        self._calls: dict[int, tuple[float, socket.socket]] = {}
        self._ids = itertools.count()
        self._running = False

    def watch(self, sock: socket.socket, deadline: float) -> int:
        with self._cond:
            if not self._running:
                threading.Thread(target=self._run, name="django-idp-logout-deadlines",
                                 daemon=True).start()
                self._running = True
            ident = next(self._ids)
            self._calls[ident] = (deadline, sock)
            self._cond.notify()
        return ident

    def unwatch(self, ident: int) -> None:
        with self._cond:
            self._calls.pop(ident, None)

    def _run(self) -> None:
        cond = self._cond
        with cond:
            while cond is self._cond:
                now = time.monotonic()
                for ident, (deadline, sock) in list(self._calls.items()):
                    if deadline <= now:
                        del self._calls[ident]
                        _abort(sock)
                earliest = min((d for d, _ in self._calls.values()), default=None)
                cond.wait(None if earliest is None else max(earliest - now, 0.001))


def _abort(sock: socket.socket) -> None:
    # No logging here (this runs under the watchdog's lock): the reader raises provider_timeout,
    # which the views log with the stage. The plain socket's shutdown, not SSLSocket's (which
    # also drops its TLS state under a thread that may be reading): the reader's recv returns
    # at once. OSError: already closed.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


_watchdog = _Watchdog()
os.register_at_fork(after_in_child=_watchdog._reset)


def add_query(url: str, params: dict[str, str]) -> str:
    """``url`` with ``params`` added to its query (an endpoint may already carry one)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    return urlunsplit(parts._replace(query=urlencode([*query, *params.items()])))
