"""The backend-for-frontend proxy's HTTP work: which URL a request goes to, which headers go
with it, and how the API's answer comes back. The rules about tokens and who may call are
:mod:`.bff_views`'s.

* Only configured APIs: the proxied path is appended to the API's base URL, never joined as
  a URL, and the result must still be on the API's host, under its path. Dot segments (also
  ``..;``, which Java servers read as ``..``), empty segments, backslashes and control
  characters are refused, and ``;`` is percent-encoded, so the path cannot climb out of the
  base path or change the host. An API's redirect within its base URL is rewritten to the
  proxy's URL; one anywhere else is refused (the browser would follow it with the site's
  cookie and the anti-CSRF header).
* Headers go through allow-lists, both ways: to the API, what describes the request
  (:data:`REQUEST_HEADERS`, ``X-…`` headers other than the spoofable forwarding ones, and the
  API's ``FORWARD_HEADERS``) — never the browser's ``Cookie`` or ``Authorization``; back to
  the browser, what describes the answer (:data:`RESPONSE_HEADERS` and ``X-…``) — never a
  header that would act on this site's own origin (``Set-Cookie``, ``Clear-Site-Data``,
  CORS, HSTS, CSP …). The answer is always ``private`` (the request carried a user's token)
  and ``nosniff``.
* Request bodies are read up to the API's ``MAX_REQUEST_BYTES`` (so a 401 can be retried
  with a renewed token); answers stream back chunk by chunk (under ASGI too), each read
  bounded by ``TIMEOUT``. An answer that breaks off mid-way aborts the connection, so the
  browser sees a failed request rather than a short body that looks complete.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterator
from urllib.parse import quote, unquote, urljoin, urlsplit

import requests
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse
from django.http.request import RawPostDataException
from django.utils.cache import patch_cache_control, patch_vary_headers

from . import http
from .bff_settings import BffApi

logger = logging.getLogger("django_idp_logout")

#: Methods passed on (``CONNECT`` and ``TRACE`` are not).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: Request headers passed on (besides ``X-…`` ones and the API's ``FORWARD_HEADERS``).
REQUEST_HEADERS = frozenset({
    "accept", "accept-language", "content-type", "content-language", "content-encoding",
    "if-match", "if-none-match", "if-modified-since", "if-unmodified-since", "if-range",
    "range", "user-agent", "prefer", "idempotency-key", "traceparent", "tracestate"})
#: ``X-…`` request headers that are not passed on: the anti-CSRF ones, and those that servers
#: and gateways read as where the request came from, what it is for or who sent it (anybody
#: can set them; an oauth2-proxy-style gateway trusts ``X-Forwarded-User``).
DROPPED_X_HEADERS = ("x-csrf", "x-xsrf", "x-forwarded-", "x-original-", "x-rewrite-",
                     "x-real-", "x-client-", "x-remote-", "x-auth", "x-user", "x-http-method",
                     "x-method-override", "x-access-token", "x-id-token", "x-api-key")
#: ``X-…`` response headers that are not passed back: instructions to the web server in front
#: of the site (serve an internal file or location) and security headers of the site's own.
DROPPED_X_RESPONSE_HEADERS = ("x-accel-", "x-sendfile", "x-lighttpd-", "x-litespeed-",
                              "x-frame-options", "x-permitted-cross-domain-policies",
                              "x-xss-protection", "x-dns-prefetch-control")

#: Response headers passed back (besides ``X-…`` ones).
RESPONSE_HEADERS = frozenset({
    "content-type", "content-language", "content-disposition", "content-range",
    "accept-ranges", "etag", "last-modified", "cache-control", "expires", "vary", "location",
    "www-authenticate", "retry-after", "allow", "preference-applied", "traceparent"})
#: Cache directives of the API's that a shared cache would act on: removed (private).
_SHARED_CACHE_DIRECTIVES = ("s-maxage", "proxy-revalidate")
_CHUNK = 64 * 1024
_ERROR = re.compile(r'(?:^|[\s,])error\s*=\s*"?([A-Za-z_]+)"?')


class UnsafePath(ValueError):
    """The proxied path could leave the API's base URL."""


def _unsafe(path: str) -> bool:
    """A (decoded) path below a base URL that could leave it: a leading ``/``, a backslash
    (browsers read it as ``/``), a ``.``/``..`` segment (also ``..;``, which Java servers
    read as ``..``), an empty segment, a control character."""
    segments = path.split("/")
    return (path.startswith("/") or "\\" in path
            or any(s.split(";")[0] in {".", ".."} for s in segments)
            or "" in segments[:-1] or any(ord(c) < 0x20 or ord(c) == 0x7F for c in path))


def upstream_url(api: BffApi, path: str, query: str) -> str:
    """``api.url`` + ``path`` (already percent-decoded by Django, encoded again here) +
    ``?query`` (as the browser sent it). Raises :class:`UnsafePath`."""
    if _unsafe(path):
        raise UnsafePath(path)
    url = api.url + quote(path, safe="/!$&'()*+,=:@-._~")
    base, target = urlsplit(api.url), urlsplit(url)
    if (target.scheme, target.netloc) != (base.scheme, base.netloc) or not (
            target.path.startswith(base.path)):
        raise UnsafePath(path)
    return f"{url}?{query}" if query else url


def _connection_named(value: str) -> set[str]:
    """Headers made hop-by-hop by ``Connection`` (RFC 9110 §7.6.1): they stay on their hop."""
    return {name.strip().lower() for name in value.split(",") if name.strip()}


def request_headers(request: HttpRequest, api: BffApi) -> dict[str, str]:
    """The browser's headers that go on to the API (see the module)."""
    extra = set(api.forward_headers)
    hop = _connection_named(request.headers.get("Connection", ""))
    return {name: value for name, value in request.headers.items()
            if name.lower() not in hop and (
                name.lower() in REQUEST_HEADERS or name.lower() in extra or (
                    name.lower().startswith("x-")
                    and not name.lower().startswith(DROPPED_X_HEADERS)))}


class BodyUnreadable(ValueError):
    """A request body that cannot be passed on: ``status`` 400 or 411."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def read_body(request: HttpRequest, limit: int) -> bytes | None:
    """The request body, or ``None`` when it is larger than ``limit`` bytes. Raises
    :class:`BodyUnreadable` for a chunked body (the server gives the application none) or
    an invalid ``Content-Length``."""
    if "Transfer-Encoding" in request.headers:
        raise BodyUnreadable(411, "Send the body with a Content-Length.")
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        raise BodyUnreadable(400, "The Content-Length is not a number.") from None
    if declared < 0:
        raise BodyUnreadable(400, "The Content-Length is negative.")
    if declared > limit:
        return None
    try:
        # A middleware may have read it already (request.body): the stream is empty then.
        body = (request.body if getattr(request, "_read_started", False)
                else request.read(limit + 1))
    except RawPostDataException:  # a middleware parsed a multipart body: it is gone
        raise BodyUnreadable(400, "The body was consumed before the proxy.") from None
    return None if len(body) > limit else body


class _BearerAuth(requests.auth.AuthBase):
    """The user's access token as ``Authorization``; as ``auth=``, so that a ``.netrc`` entry
    for the API's host can never replace it."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, prepared: requests.PreparedRequest) -> requests.PreparedRequest:
        prepared.headers["Authorization"] = f"Bearer {self.token}"
        return prepared


def send(api: BffApi, method: str, url: str, *, headers: dict[str, str], body: bytes,
         token: str) -> requests.Response:
    """The request to the API with the user's access token; the answer's body unread."""
    return http.stream(method, url, timeout=api.timeout, data=body or None, headers=headers,
                       auth=_BearerAuth(token))


def proxied_location(api: BffApi, upstream_url: str, location: str, prefix: str
                     ) -> str | None:
    """A redirect of the API's as the browser should see it: within the API's base URL, the
    same place through the proxy (``prefix`` is ``api/<name>/``); anywhere else — including
    a path that a browser would resolve out of it (``..``, ``%2e%2e``, ``\\``) — ``None``."""
    try:
        target = urljoin(upstream_url, location)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return None
    if not target.startswith(api.url):
        return None
    rest = target[len(api.url):].partition("?")[0].partition("#")[0]
    return None if _unsafe(unquote(rest)) else prefix + target[len(api.url):]


class _Body:
    """The API's answer as the response's content: sync or async iteration, and ``close()``
    (called by Django when the response is done, even if it was never read)."""

    def __init__(self, api: BffApi, upstream: requests.Response) -> None:
        self.api = api
        self.upstream = upstream
        self.chunks = upstream.iter_content(_CHUNK)

    def next_chunk(self) -> bytes | None:
        try:
            return next(self.chunks, None)
        except (requests.RequestException, OSError) as exc:
            # Too late for another status: abort the connection (the server sees the
            # exception), so the browser sees a failed request, not a short answer.
            logger.warning("stage=bff api=%s the API's answer broke off: %s", self.api.name,
                           type(exc).__name__)
            raise

    def close(self) -> None:
        self.upstream.close()


class _SyncBody(_Body):
    def __iter__(self) -> Iterator[bytes]:
        while (chunk := self.next_chunk()) is not None:
            yield chunk


class _AsyncBody(_Body):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        # Under ASGI, one chunk at a time in a worker thread: nothing is buffered whole.
        while (chunk := await sync_to_async(self.next_chunk)()) is not None:
            yield chunk


def _bearer_only(challenges: str) -> bool:
    return challenges.strip().lower().startswith("bearer") and not any(
        scheme in challenges.lower() for scheme in ("basic", "digest", "negotiate", "ntlm"))


def bearer_error(upstream: requests.Response) -> str | None:
    """The ``error`` of the API's ``Bearer`` challenge (RFC 6750 §3), if it names one."""
    match = _ERROR.search(upstream.headers.get("WWW-Authenticate", ""))
    return match.group(1) if match else None


def streamed(request: HttpRequest, api: BffApi, upstream: requests.Response, *,
             location: str | None = None) -> StreamingHttpResponse:
    """The API's answer for the browser: its status, its headers that pass the allow-list
    (``Location`` replaced by ``location``), the body streamed; ``private``, ``nosniff`` and
    ``Vary: Cookie`` always, ``no-store`` unless the API allows caching."""
    body = (_AsyncBody if isinstance(request, ASGIRequest) else _SyncBody)(api, upstream)
    response = StreamingHttpResponse(body, status=upstream.status_code,
                                     content_type="application/octet-stream")
    hop = _connection_named(upstream.headers.get("Connection", ""))
    for name, value in upstream.headers.items():
        lowered = name.lower()
        if lowered in hop:
            continue
        if lowered == "location":
            if location is not None:
                response["Location"] = location
        elif lowered == "www-authenticate":
            if _bearer_only(value):  # a Basic challenge would open a password dialog here
                response[name] = value
        elif lowered in RESPONSE_HEADERS or (
                lowered.startswith("x-") and not lowered.startswith(DROPPED_X_RESPONSE_HEADERS)):
            response[name] = value
    if "Cache-Control" in response:
        patch_cache_control(response, private=True)
        response["Cache-Control"] = ", ".join(
            part for part in response["Cache-Control"].split(", ")
            if part.split("=")[0].strip().lower() not in _SHARED_CACHE_DIRECTIVES)
    else:
        response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    patch_vary_headers(response, ("Cookie",))
    return response
