"""Every outbound call to the provider goes through :func:`request`.

One ``requests.Session`` per process keeps connections to the provider alive (a fresh TLS
handshake costs more than all the Django work in a callback). Every call has the configured
timeout, TLS verification on, no redirects followed, and a cap on the body size so a
misbehaving provider cannot exhaust memory. Failures become :class:`ProviderUnavailable`.

``CA_BUNDLE`` may name a private CA; it is passed per request so it wins over the
``REQUESTS_CA_BUNDLE`` environment variable, which otherwise applies (as do proxy variables).
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from . import __version__
from .conf import get_config
from .exceptions import ProviderUnavailable

#: Largest response body read from the provider (discovery, JWKS, token, UserInfo).
MAX_BODY_BYTES = 1024 * 1024

_local = threading.local()


def _session() -> requests.Session:
    # One session per thread and process: requests.Session is not documented as thread-safe,
    # and a forked worker must not share the parent's sockets.
    pid = os.getpid()
    session: requests.Session | None = getattr(_local, "session", None)
    if session is None or getattr(_local, "pid", None) != pid:
        session = requests.Session()
        session.headers["User-Agent"] = f"django-idp-logout/{__version__}"
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
    """Send one request to the provider. Never logs the URL's query or the body."""
    config = get_config()
    kwargs.setdefault("timeout", config.timeout)
    session = _session()
    kwargs["verify"] = config.ca_bundle or getattr(_local, "env_ca_bundle", None) or True
    kwargs["allow_redirects"] = False
    kwargs["stream"] = True
    try:
        with session.request(method, url, **kwargs) as raw:
            body = bytearray()
            for chunk in raw.iter_content(64 * 1024):
                body += chunk
                if len(body) > MAX_BODY_BYTES:
                    raise ProviderUnavailable("response body too large",
                                              code="provider_bad_response", stage=stage)
            return Response(raw.status_code, raw.headers, bytes(body))
    except requests.Timeout:
        raise ProviderUnavailable("request timed out", code="provider_timeout", status=504,
                                  stage=stage) from None
    except requests.RequestException as exc:
        raise ProviderUnavailable(f"request failed: {type(exc).__name__}",
                                  code="provider_unavailable", status=503, stage=stage) from None


def add_query(url: str, params: dict[str, str]) -> str:
    """``url`` with ``params`` added to its query (an endpoint may already carry one)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    return urlunsplit(parts._replace(query=urlencode([*query, *params.items()])))
