"""The certified provider (oidc-provider, :class:`~tests.op_server.OpenIDProvider`) speaking a
vendor's dialect, for the end-to-end profile tests.

:class:`DialectProxy` is a small threaded HTTP server on 127.0.0.1 in front of one
oidc-provider process. Per :class:`Dialect` it

- serves its own discovery document at ``<issuer>/.well-known/openid-configuration``: the
  vendor's issuer (path, trailing slash), the vendor's endpoint paths, and only the endpoints
  the vendor publishes (no ``end_session_endpoint``, no ``revocation_endpoint``…);
- forwards each vendor path to oidc-provider's real endpoint (``/auth``, ``/token``, ``/jwks``,
  ``/me``, ``/session/end``, ``/token/revocation``), translating the vendor's parameter names
  to oidc-provider's (Cognito's ``logout_uri``, Auth0's legacy ``returnTo``);
- answers 404 at oidc-provider's own endpoint paths that the vendor does not have, so a client
  that guessed a path fails; oidc-provider's interaction pages (``/interaction/…``,
  ``/auth/<uid>``, ``/session/end/confirm``) pass through unchanged;
- records every request that reaches it (:class:`Hit`: method, host, path, query and form
  parameters, where it was forwarded, the status answered), which is what the tests assert.

oidc-provider runs with ``OP_ISSUER`` set to the dialect's issuer, so its ID tokens carry
``iss`` as the vendor's would. The proxy forwards the ``Host`` header unchanged, so every URL
oidc-provider builds (its discovery, interaction redirects, form actions) points back at the
proxy. Two host names reach the same proxy port: ``127.0.0.1`` (the issuer's host) and
``localhost`` (:data:`OTHER_HOST`, a vendor's second domain: Cognito's hosted UI, Google's
``oauth2.googleapis.com``, Microsoft Graph); routes are per host.

Where the vendor's logout carries less than oidc-provider needs to honour the return URL,
the proxy adds it *after* recording (Entra ID sends no ``client_id`` nor ``id_token_hint``;
the proxy adds ``client_id``), so the record shows what the relying party sent.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from .dialects import (
    DIALECTS,
    ISSUER_HOST,
    SKIPPED_HEADERS,
    UPSTREAM_ONLY,
    Dialect,
    Endpoint,
)
from .op_server import CLIENTS, OpenIDProvider


@dataclass(frozen=True)
class Hit:
    """One request that reached the provider, as the relying party (or browser) sent it."""

    method: str
    host: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    #: Where it was forwarded (oidc-provider's path), or ``None`` when refused or served here.
    upstream: str | None
    status: int
    has_authorization: bool = False

    @property
    def params(self) -> dict[str, str]:
        """Query and form parameters, one value each (a repeated one fails the test)."""
        merged: dict[str, str] = {}
        for source in (self.query, self.form):
            for key, values in source.items():
                assert len(values) == 1, f"{key} repeated in {self}"
                assert key not in merged, f"{key} both in the query and the form of {self}"
                merged[key] = values[0]
        return merged


class DialectProxy:
    """oidc-provider behind a vendor's dialect. Use as a context manager."""

    def __init__(self, dialect: Dialect | str, *, client_id: str = "rp-basic",
                 clients: list[dict[str, Any]] | None = None) -> None:
        self.dialect = DIALECTS[dialect] if isinstance(dialect, str) else dialect
        self.client_id = client_id
        self.clients = clients or CLIENTS
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.op: OpenIDProvider | None = None
        self.port = 0

    # --- where things are --------------------------------------------------------------------
    def origin(self, host: str = ISSUER_HOST) -> str:
        return f"http://{host}:{self.port}"

    @property
    def issuer(self) -> str:
        return self.origin() + self.dialect.issuer_path

    @property
    def discovery_path(self) -> str:
        return self.dialect.issuer_path.rstrip("/") + "/.well-known/openid-configuration"

    def url(self, key: str) -> str:
        """The vendor URL of an endpoint (published or not)."""
        endpoint = self.dialect.endpoint(key)
        return self.origin(endpoint.host) + endpoint.path

    def client(self) -> dict[str, Any]:
        return next(c for c in self.clients if c["client_id"] == self.client_id)

    def settings(self, provider: str, **extra: Any) -> dict[str, Any]:
        """``IDP_LOGOUT`` with only the pinned keys (plus ``extra``)."""
        client = self.client()
        return {"PROVIDER": provider, "ISSUER": self.issuer, "CLIENT_ID": self.client_id,
                "CLIENT_SECRET": client["client_secret"], "POST_LOGOUT_REDIRECT_URL": "/",
                **extra}

    def discovery(self) -> dict[str, Any]:
        """The dialect's discovery document: oidc-provider's capabilities, the vendor's URLs."""
        assert self.op is not None
        status, _, body = self._forward("GET", "/.well-known/openid-configuration",
                                        {"host": f"{ISSUER_HOST}:{self.port}"}, b"")
        assert status == 200, body
        doc: dict[str, Any] = json.loads(body)
        for key in list(doc):
            if key.endswith("_endpoint") or key in {"jwks_uri", "check_session_iframe"}:
                del doc[key]
        doc["issuer"] = self.issuer
        for endpoint in self.dialect.endpoints:
            if endpoint.published:
                doc[endpoint.key] = self.url(endpoint.key)
        return doc

    # --- what reached it ---------------------------------------------------------------------
    def clear(self) -> None:
        with self._lock:
            self.hits.clear()

    def recorded(self) -> list[Hit]:
        with self._lock:
            return list(self.hits)

    def to(self, key: str) -> list[Hit]:
        """Requests that reached the vendor URL of endpoint ``key``."""
        endpoint = self.dialect.endpoint(key)
        return [h for h in self.recorded()
                if h.host == endpoint.host and h.path == endpoint.path]

    def forwarded_to(self, upstream: str) -> list[Hit]:
        """Requests forwarded to an oidc-provider path, whatever vendor path they came in at."""
        return [h for h in self.recorded() if h.upstream == upstream]

    # --- running -----------------------------------------------------------------------------
    def start(self) -> DialectProxy:
        self._server = ThreadingHTTPServer((ISSUER_HOST, 0), _handler_for(self))
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name=f"dialect-proxy-{self.dialect.name}", daemon=True)
        self._thread.start()
        try:
            self.op = OpenIDProvider(clients=self.clients,
                                     env={"OP_ISSUER": self.issuer, **self.dialect.env}).start()
        except BaseException:
            self._stop_server()
            raise
        return self

    def stop(self) -> None:
        if self.op is not None:
            self.op.stop()
            self.op = None
        self._stop_server()

    def _stop_server(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> DialectProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the proxy itself --------------------------------------------------------------------
    def route(self, host: str, path: str) -> Endpoint | None:
        return next((e for e in self.dialect.endpoints if e.host == host and e.path == path),
                    None)

    def _forward(self, method: str, target: str, headers: Mapping[str, str], body: bytes
                 ) -> tuple[int, list[tuple[str, str]], bytes]:
        assert self.op is not None
        connection = http.client.HTTPConnection(ISSUER_HOST, self.op.port, timeout=10)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in SKIPPED_HEADERS}
            sent["Host"] = headers["host"]
            sent["Accept-Encoding"] = "identity"
            if body or method == "POST":
                sent["Content-Length"] = str(len(body))
            connection.request(method, target, body=body or None, headers=sent)
            response = connection.getresponse()
            payload = response.read()
            kept = [(k, v) for k, v in response.getheaders()
                    if k.lower() not in SKIPPED_HEADERS]
            return response.status, kept, payload
        finally:
            connection.close()

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes
               ) -> tuple[int, list[tuple[str, str]], bytes]:
        host = headers.get("host", "").rsplit(":", 1)[0]
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        is_form = headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        form = parse_qs(body.decode(), keep_blank_values=True) if is_form else {}
        endpoint = self.route(host, parts.path)
        upstream: str | None = None
        if host == ISSUER_HOST and parts.path == self.discovery_path and method == "GET":
            payload = json.dumps(self.discovery()).encode()
            status, answer = 200, ([("Content-Type", "application/json")], payload)
        elif endpoint is not None:
            upstream = endpoint.upstream
            new_query, new_form = (self._translate(endpoint, query),
                                   self._translate(endpoint, form) if form else form)
            forward_target = upstream + (f"?{urlencode(new_query, doseq=True)}"
                                         if new_query else "")
            forward_body = urlencode(new_form, doseq=True).encode() if is_form else body
            status, kept, payload = self._forward(method, forward_target, headers, forward_body)
            answer = (kept, payload)
        elif parts.path in UPSTREAM_ONLY or parts.path.startswith("/.well-known/"):
            status, answer = 404, ([("Content-Type", "text/plain")], b"not in this dialect")
        else:  # oidc-provider's interaction pages, unchanged
            upstream = parts.path
            status, kept, payload = self._forward(method, target, headers, body)
            answer = (kept, payload)
        with self._lock:
            self.hits.append(Hit(method, host, parts.path, query, form, upstream, status,
                                 "authorization" in {k.lower() for k in headers}))
        return status, *answer

    def _translate(self, endpoint: Endpoint, params: dict[str, list[str]]
                   ) -> dict[str, list[str]]:
        translated = {endpoint.rename.get(k, k): v for k, v in params.items()}
        if endpoint.add_client_id and "client_id" not in translated:
            translated["client_id"] = [self.client_id]
        return translated


def _handler_for(proxy: DialectProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                status, kept, payload = proxy.handle(self.command, self.path, headers, body)
            except Exception as exc:  # a broken upstream: say so, don't hang the test
                status, kept, payload = 502, [("Content-Type", "text/plain")], repr(exc).encode()
            self.send_response(status)
            for key, value in kept:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the record is in proxy.hits

    return Handler
