"""``IDP_LOGOUT["BFF_APIS"]``: the upstream APIs of the backend-for-frontend proxy.

Read here into typed :class:`BffApi` values. The system checks (``checks.bff``) report what
:func:`problems` finds, with ids and hints, at start-up; production servers do not run them,
so :func:`bff_api` refuses the same problems at run time (``ConfigurationError``, logged) —
never a token sent to an API in clear.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .conf import IdPConfig, is_number
from .discovery import is_secure_url

#: Each key of one API: the types it may have and its default (``None``: required, or, for
#: ``TIMEOUT``, the provider's ``TIMEOUT``).
KEYS: dict[str, tuple[tuple[type, ...], Any]] = {
    "URL": ((str,), None),
    "TIMEOUT": ((int, float), None),
    "MAX_REQUEST_BYTES": ((int,), 1024 * 1024),
    "FORWARD_HEADERS": ((list, tuple), ()),
    "TOKEN_PARAMS": ((dict,), None),
}
#: Refresh grant parameters that ``TOKEN_PARAMS`` cannot set (the grant's own, the client's).
RESERVED_TOKEN_PARAMS = frozenset({"grant_type", "refresh_token", "client_id",
                                   "client_secret", "client_assertion",
                                   "client_assertion_type"})
#: An API's name, as it appears in ``api/<name>/`` (Django's ``slug`` converter).
NAME = re.compile(r"[-a-zA-Z0-9_]+")
#: Headers ``FORWARD_HEADERS`` cannot name (the proxy's own, or the browser's credentials).
UNFORWARDABLE = frozenset({"cookie", "authorization", "proxy-authorization", "host",
                           "connection", "content-length", "transfer-encoding", "x-csrf",
                           "x-csrftoken", "te", "upgrade", "keep-alive"})
#: The system check id of each problem :func:`problems` finds (``checks.bff``).
CHECK_IDS = {"malformed": "E037", "insecure_url": "E038"}
#: A header name (RFC 9110 token).
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


@dataclass(frozen=True)
class BffApi:
    name: str
    #: The base URL, ending with ``/``: the proxied path is appended to it.
    url: str
    timeout: float
    max_request_bytes: int
    #: Request headers passed on besides the standard ones (lower-case).
    forward_headers: tuple[str, ...] = ()
    #: The refresh grant parameters of this API's own access token; empty: the session's.
    token_params: Mapping[str, str] = field(default_factory=dict)

    @property
    def token_key(self) -> str:
        """Where its own token is kept: its name and its parameters (changed parameters:
        another token)."""
        digest = hashlib.sha256(json.dumps(dict(self.token_params), sort_keys=True).encode())
        return f"{self.name}:{digest.hexdigest()[:16]}"


def bff_api(config: IdPConfig, name: str) -> BffApi | None:
    """The API called ``name`` for this provider's sessions, or ``None`` (unknown name).
    Raises :class:`ConfigurationError` when its settings cannot work (see the module)."""
    apis = config.bff_apis
    value = apis.get(name) if isinstance(apis, Mapping) and NAME.fullmatch(name) else None
    found = problems(apis if not isinstance(apis, Mapping)
                     else {name: value} if value is not None else {})
    if not found and not isinstance(value, Mapping):
        return None
    if found:
        from .view_helpers import configuration_error

        raise configuration_error(f"{found[0][1]} (`manage.py check` reports this as "
                                  f"django_idp_logout.{CHECK_IDS[found[0][0]]}).")
    assert isinstance(value, Mapping)  # problems() found none
    url = str(value["URL"])
    timeout = value.get("TIMEOUT")
    size = value.get("MAX_REQUEST_BYTES")
    return BffApi(name=name, url=url if url.endswith("/") else url + "/",
                  timeout=float(timeout) if is_number(timeout) else config.timeout,
                  max_request_bytes=int(size) if is_number(size) else KEYS[
                      "MAX_REQUEST_BYTES"][1],
                  forward_headers=tuple(h.lower() for h in value.get("FORWARD_HEADERS", ())),
                  token_params=dict(value.get("TOKEN_PARAMS") or {}))


def problems(value: Any) -> list[tuple[str, str]]:
    """``(problem, message)`` pairs for a ``BFF_APIS`` dict: ``malformed`` (a shape, key,
    type or value that cannot work) or ``insecure_url`` (plain ``http`` off loopback: the
    user's access token would travel in clear). Empty when usable (or unset)."""
    if value is None or value == {}:
        return []
    if not isinstance(value, Mapping):
        return [("malformed", "IDP_LOGOUT['BFF_APIS'] must be a dict of API name → dict.")]
    found: list[tuple[str, str]] = []
    for name, api in value.items():
        where = f"IDP_LOGOUT['BFF_APIS'][{name!r}]"
        if not isinstance(name, str) or not NAME.fullmatch(name):
            found.append(("malformed", f"{where}: an API name is letters, digits, '-' and "
                          "'_' only (it is a URL path segment)."))
            continue
        if not isinstance(api, Mapping):
            found.append(("malformed", f"{where} must be a dict with at least 'URL'."))
            continue
        found += [("malformed", f"{where} has an unknown key {key!r}.")
                  for key in api if key not in KEYS]
        for key, (types, _) in KEYS.items():
            item = api.get(key)
            if item is not None and (not isinstance(item, types) or isinstance(item, bool)):
                found.append(("malformed", f"{where}[{key!r}] must be "
                              f"{' or '.join(t.__name__ for t in types)}, not "
                              f"{type(item).__name__}."))
            elif is_number(item) and (item <= 0 or not math.isfinite(item)):
                found.append(("malformed", f"{where}[{key!r}] must be a positive number."))
            elif key == "TOKEN_PARAMS" and isinstance(item, Mapping) and not all(
                    isinstance(k, str) and isinstance(v, str) and k
                    and k not in RESERVED_TOKEN_PARAMS for k, v in item.items()):
                found.append(("malformed", f"{where}['TOKEN_PARAMS'] must map parameter "
                              "names to strings, and cannot set "
                              f"{', '.join(sorted(RESERVED_TOKEN_PARAMS))}."))
            elif key == "FORWARD_HEADERS" and isinstance(item, (list, tuple)) and not all(
                    isinstance(h, str) and _TOKEN.fullmatch(h)
                    and h.lower() not in UNFORWARDABLE for h in item):
                found.append(("malformed", f"{where}['FORWARD_HEADERS'] must hold header "
                              "names, none of " + ", ".join(sorted(UNFORWARDABLE)) + "."))
        url = api.get("URL")
        if not isinstance(url, str):
            if url is None:
                found.append(("malformed", f"{where} has no 'URL'."))
            continue
        found += _url_problems(where, url)
    return found


def _url_problems(where: str, url: str) -> list[tuple[str, str]]:
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
        return [("malformed", f"{where}['URL'] is not an http(s) URL with a host: {url!r}.")]
    if parts.query or parts.fragment or parts.username or parts.password:
        return [("malformed", f"{where}['URL'] must not have a query, a fragment or "
                 "credentials (the proxied request brings its own query).")]
    if not is_secure_url(url):
        return [("insecure_url", f"{where}['URL'] is plain http: users' access tokens "
                 "would be sent in clear.")]
    return []
