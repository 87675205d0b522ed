"""Live checks against the provider (``manage.py idp_diagnose``): the network counterpart of
the system checks, which stay offline.

Each check is a :class:`Finding` — ``OK``, ``WARN``, ``FAIL`` or ``INFO`` (something to
know or to register) — with a hint for anything that is not OK. Everything goes through the
app's own HTTP client (:mod:`.http`: the same timeouts, TLS verification and CA bundle as
sign-ins); nothing prints a secret, and the optional authorization probe sends no user's data.
The URIs to register are in :mod:`.diagnose_site`.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from . import http
from .conf import ENDPOINT_KEYS, IdPConfig
from .discovery import (
    REQUIRED_ENDPOINTS,
    ProviderMetadata,
    endpoint_status,
    tenant_template_allowed,
)
from .exceptions import IdPLogoutError
from .providers import BoundProvider, get_provider

_REGISTER_HINT = ("Register the redirect URI exactly as shown (scheme, host, port, path, "
                  "trailing slash) and check CLIENT_ID.")
#: JWS algorithm family → the JWK key type it needs.
KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


@dataclass(frozen=True)
class Finding:
    name: str
    status: str  # OK, WARN, FAIL, INFO
    message: str
    hint: str = ""


class Report:
    """The findings of one provider, in order; fetches through the app's client."""

    def __init__(self, config: IdPConfig) -> None:
        self.config = config
        self.findings: list[Finding] = []
        self.date_skew: float | None = None

    def add(self, name: str, status: str, message: str, hint: str = "") -> None:
        self.findings.append(Finding(name, status, message, hint))

    def fetch_json(self, name: str, url: str) -> dict[str, Any] | None:
        """GET a JSON object, or a FAIL finding and ``None``."""
        started = time.time()
        try:
            response = http.request("GET", url, stage=name)
            if response.status != 200:
                self.add(name, "FAIL", f"{url} answered HTTP {response.status}",
                         "Check the URL (ISSUER, ENDPOINTS) and that the provider is up.")
                return None
            document = response.json_object(stage=name)
        except IdPLogoutError as exc:
            self.add(name, "FAIL", f"{url}: {exc} ({exc.code})",
                     "Check the network, the URL and TLS (CA_BUNDLE for a private CA).")
            return None
        date = response.headers.get("Date")
        if date and self.date_skew is None:
            with contextlib.suppress(TypeError, ValueError, OverflowError):  # unreadable
                sent = parsedate_to_datetime(date)
                age = response.headers.get("Age", "0")  # a cached copy: its Date is older
                if sent.tzinfo is not None:
                    self.date_skew = sent.timestamp() + (int(age) if age.isdigit() else 0) - (
                        started + time.time()) / 2
        return document


def provider_checks(report: Report) -> BoundProvider | None:
    """Discovery, issuer, https, keys, clock, PKCE, client authentication; the provider
    bound to what was found (``None`` when discovery failed)."""
    config = report.config
    issuer = config.issuer
    if config.use_discovery:
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = report.fetch_json("discovery", url)
        if document is None:
            return None
        report.add("discovery", "OK", f"{url} loaded")
        found = document.get("issuer")
        if found == issuer:
            report.add("issuer", "OK", f"issuer is exactly ISSUER ({issuer})")
        elif tenant_template_allowed(found, config):
            report.add("issuer", "OK", f"a multi-tenant document ({found}): each token's "
                       "issuer is checked against its tenant")
        else:
            report.add("issuer", "FAIL", f"the document's issuer {found!r} is not ISSUER "
                       f"{issuer!r}", (f"Set ISSUER to {found!r} exactly (a trailing slash "
                       "counts): ID tokens carry the provider's issuer.") if isinstance(
                           found, str) else "The document has no issuer: is ISSUER the "
                       "provider's issuer URL?")
    else:
        document = {"issuer": issuer}
        report.add("discovery", "INFO", "USE_DISCOVERY is off: ENDPOINTS only")
    document = {**document, **config.endpoints}
    _https(report, document, issuer)
    unusable = [key for key in REQUIRED_ENDPOINTS
                if endpoint_status(document.get(key), issuer) == "unusable"]
    if unusable:
        report.add("endpoints", "FAIL", f"missing or not a URL: {', '.join(unusable)}",
                   "Every sign-in fails without them: fix the provider's document or set "
                   "them in ENDPOINTS.")
        return None
    metadata = ProviderMetadata(document)
    _keys(report, metadata)
    _clock(report)
    _pkce(report, document)
    bound = BoundProvider(get_provider(config), metadata)
    _client_auth(report, bound, document)
    return bound


def _https(report: Report, document: dict[str, Any], issuer: str) -> None:
    insecure = [key for key in ENDPOINT_KEYS
                if key in document and endpoint_status(document[key], issuer) == "insecure"]
    if insecure:
        report.add("https", "FAIL", f"plain http: {', '.join(insecure)}",
                   "Every endpoint that sees a code, token or secret must be https: fix the "
                   "provider's public URL (X-Forwarded-Proto behind a proxy) or override it "
                   "in ENDPOINTS.")
    else:
        report.add("https", "OK", "every endpoint is https (or loopback in development)")


def _keys(report: Report, metadata: ProviderMetadata) -> None:
    uri = metadata.endpoint("jwks_uri")
    if uri is None:
        report.add("jwks", "FAIL", "no jwks_uri", "Set ENDPOINTS['jwks_uri'].")
        return
    document = report.fetch_json("jwks", uri)
    if document is None:
        return
    listed = document.get("keys")
    if not isinstance(listed, list):
        report.add("jwks", "FAIL", f"{uri} has no list of keys", "Check jwks_uri.")
        return
    keys = [k for k in listed if isinstance(k, dict) and k.get("use", "sig") == "sig"]
    report.add("jwks", "OK", f"{uri} loaded: {len(keys)} signing key(s)")
    missing = [alg for alg in report.config.algorithms if not alg.startswith("HS") and not any(
        k.get("kty") == KEY_TYPES.get(alg[:2]) and k.get("alg", alg) == alg for k in keys)]
    usable = [alg for alg in report.config.algorithms if alg not in missing]
    if not usable:
        report.add("keys", "FAIL", f"no key for ALGORITHMS {list(report.config.algorithms)}",
                   "Set ALGORITHMS to what the provider signs ID tokens with (see "
                   "id_token_signing_alg_values_supported).")
    elif missing:
        report.add("keys", "WARN", f"no key for {missing}; usable: {usable}",
                   "Remove the algorithms the provider has no key for from ALGORITHMS.")
    else:
        report.add("keys", "OK", f"keys for {usable}")
    if len(keys) > 1 and not all(k.get("kid") for k in keys):
        report.add("kids", "WARN", "several keys, not all with a kid",
                   "Tokens are matched to keys by kid: ask the provider to publish kids.")


def _clock(report: Report) -> None:
    skew, leeway = report.date_skew, report.config.leeway
    if skew is None:
        report.add("clock", "WARN", "the provider sent no Date header: skew unknown",
                   "Keep this server's clock synchronised (NTP).")
    elif abs(skew) > leeway:
        report.add("clock", "FAIL", f"the provider's clock is {skew:+.0f} s from this "
                   f"server's, more than LEEWAY ({leeway} s)", "Synchronise this server's "
                   "clock (NTP); ID tokens would be refused as not yet valid or expired.")
    elif abs(skew) > leeway / 2:
        report.add("clock", "WARN", f"clock skew {skew:+.0f} s, over half of LEEWAY "
                   f"({leeway} s)", "Synchronise this server's clock (NTP).")
    else:
        report.add("clock", "OK", f"clock skew {skew:+.1f} s (LEEWAY {leeway} s)")


def _pkce(report: Report, document: dict[str, Any]) -> None:
    methods = document.get("code_challenge_methods_supported")
    if not isinstance(methods, list):
        report.add("pkce", "WARN", "code_challenge_methods_supported is absent",
                   "PKCE (S256) is sent anyway; confirm the provider supports it.")
    elif "S256" in methods:
        report.add("pkce", "OK", "S256 supported")
    else:
        report.add("pkce", "FAIL", f"S256 not in code_challenge_methods_supported {methods}",
                   "Enable PKCE with S256 for this client at the provider.")


def _client_auth(report: Report, bound: BoundProvider, document: dict[str, Any]) -> None:
    method = bound.profile.token_auth_method(bound.metadata)
    listed = document.get("token_endpoint_auth_methods_supported")
    supported = listed if isinstance(listed, list) else ["client_secret_basic"]
    if method in supported:
        report.add("token_auth", "OK", f"client authentication {method}")
    else:
        report.add("token_auth", "FAIL", f"client authentication {method} is not in "
                   f"token_endpoint_auth_methods_supported {supported}",
                   "Set TOKEN_AUTH_METHOD to one the provider supports (and register the "
                   "client for it).")


def probe_authorize(report: Report, bound: BoundProvider, redirect_uri: str) -> None:
    """An authorization request with no user and no credentials: does the provider reject
    the client id or the redirect URI before its sign-in page?"""
    url = bound.authorization_url(redirect_uri=redirect_uri, state=secrets.token_urlsafe(16),
                                  nonce=secrets.token_urlsafe(16),
                                  code_verifier=secrets.token_urlsafe(48))
    try:
        response = http.request("GET", url, stage="authorize")
    except IdPLogoutError as exc:
        report.add("authorize", "FAIL", f"the authorization endpoint failed: {exc.code}",
                   "Check the network and TLS.")
        return
    location = response.headers.get("Location", "")
    text = response.body[:20000].decode(errors="replace").lower()
    markers = [m for m in ("redirect_uri", "invalid_client", "unauthorized_client",
                           "invalid_request", "aadsts50011", "aadsts700016", "client_id")
               if m in text]
    if "error=" in location:
        report.add("authorize", "FAIL", "the provider answered with an error", (
            "Check the client's allowed grant types, scopes and PKCE at the provider.")
            if location.startswith(redirect_uri) else _REGISTER_HINT)
    elif response.status >= 500:
        report.add("authorize", "FAIL", f"HTTP {response.status} from the authorization "
                   "endpoint", "The provider failed: try again, or check its logs.")
    elif response.status >= 400 or (response.status == 200 and markers and any(
            word in text for word in ("invalid_", "unauthorized_client", "mismatch"))):
        report.add("authorize", "FAIL", f"HTTP {response.status}, the page mentions "
                   f"{', '.join(markers) or 'an error'}", _REGISTER_HINT)
    else:
        report.add("authorize", "OK", f"HTTP {response.status}: the provider accepted the "
                   "client and redirect URI (its sign-in page comes next)")
