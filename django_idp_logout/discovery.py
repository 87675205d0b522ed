"""Provider metadata (OpenID Connect Discovery 1.0), cached, and the rules its URLs obey.

The document lives in Django's cache framework (``CACHE_ALIAS``) so that every server process
shares one copy and a warm login makes no call but the token request. Signing keys (JWKS) are
:mod:`django_idp_logout.jwks`'s job.

Endpoints that receive a code, a token, a secret or a key must be https when the issuer is:
a document (or an ``ENDPOINTS`` override) naming a plain-http one is refused as a whole
(``insecure_endpoint``, logged at ERROR with the key's name) rather than used or silently
dropped. Plain http is accepted only on loopback with a loopback http issuer (development).
:func:`endpoint_status` is that rule, for this module and for the system checks alike.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from django.core.cache import BaseCache, caches

from . import http, tenants
from .conf import ENDPOINT_KEYS, IdPConfig, get_config
from .exceptions import ProviderUnavailable
from .store import provider_cache_key

logger = logging.getLogger("django_idp_logout")

#: Hosts on which plain http is accepted, and only with a plain-http loopback issuer.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
#: Endpoints the app cannot work without.
REQUIRED_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri")


@dataclass(frozen=True)
class ProviderMetadata:
    """The discovery document (with ``ENDPOINTS`` overrides applied)."""

    document: Mapping[str, Any]

    def get(self, key: str) -> Any:
        return self.document.get(key)

    def endpoint(self, key: str) -> str | None:
        value = self.document.get(key)
        return value if isinstance(value, str) and value else None

    @property
    def issuer(self) -> str:
        return str(self.document["issuer"])

    @property
    def authorization_endpoint(self) -> str:
        return str(self.document["authorization_endpoint"])

    @property
    def token_endpoint(self) -> str:
        return str(self.document["token_endpoint"])

    @property
    def jwks_uri(self) -> str:
        return str(self.document["jwks_uri"])

    def supports(self, key: str, value: str, *, default: tuple[str, ...] = ()) -> bool:
        listed = self.document.get(key)
        if not isinstance(listed, list):
            return value in default
        return value in listed


def provider_cache(config: IdPConfig) -> BaseCache:
    """The cache that holds the provider's metadata and keys (``CACHE_ALIAS``)."""
    return caches[config.cache_alias]


def is_secure_url(url: str) -> bool:
    """``https``, or ``http`` on a loopback host (development and tests)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return bool(parts.hostname)
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS


#: What :func:`endpoint_status` finds: usable; plain http where it is not allowed (the whole
#: document is refused); or not an http(s) URL with a host (a required one is missing).
EndpointStatus = Literal["ok", "insecure", "unusable"]


def endpoint_status(value: Any, issuer: str) -> EndpointStatus:
    """Whether an endpoint URL may be used with ``issuer`` (the one home of the https rule).

    https is always fine; plain http only on a loopback host with a loopback http issuer;
    anything else with an ``http`` scheme is ``"insecure"`` (never send a code, token, secret
    or key in clear, nor silently drop the endpoint: a missing revocation or end-session
    endpoint would weaken logout unnoticed). A value that is not a string, not an http(s) URL
    or has no host is ``"unusable"``.
    """
    try:
        parts = urlsplit(value) if isinstance(value, str) else None
        host = parts.hostname if parts is not None else None
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return "unusable"
    if parts is None or not host or parts.scheme not in {"http", "https"}:
        return "unusable"
    if parts.scheme == "https":
        return "ok"
    try:
        issuer_parts = urlsplit(issuer)
    except ValueError:
        return "insecure"
    issuer_is_loopback_http = (issuer_parts.scheme == "http"
                               and issuer_parts.hostname in LOOPBACK_HOSTS)
    return "ok" if issuer_is_loopback_http and host in LOOPBACK_HOSTS else "insecure"


def discovery_url(issuer: str) -> str:
    """Discovery 1.0 §4: the issuer, any trailing ``/`` removed, + the well-known path."""
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def insecure_endpoint_reason(key: str, issuer: str) -> tuple[str, str]:
    """Why a plain-http endpoint ``key`` is refused with ``issuer``, and how to fix it."""
    if urlsplit(issuer).scheme == "https":
        return ("but ISSUER is https",
                "make the provider publish https URLs (behind a TLS-terminating proxy, set its "
                "public https URL or forward X-Forwarded-Proto), or give an https URL in "
                f"IDP_LOGOUT['ENDPOINTS'][{key!r}]")
    return "outside loopback", "use https"


def _insecure(key: str, url: str, config: IdPConfig) -> ProviderUnavailable:
    where = (f"IDP_LOGOUT['ENDPOINTS'][{key!r}]" if key in config.endpoints
             else f"{key} in the discovery document")
    why, fix = insecure_endpoint_reason(key, config.issuer)
    detail = (f"{where} is plain http ({url[:200]!r}) {why}: codes, tokens or keys would cross "
              f"the network unencrypted, so the provider is not used. Fix: {fix}.")
    logger.error("stage=discovery code=insecure_endpoint key=%s %s", key, detail)
    return ProviderUnavailable(detail, code="insecure_endpoint", stage="discovery")


def tenant_template_allowed(doc_issuer: Any, config: IdPConfig) -> bool:
    """A multi-tenant document (``{tenantid}`` issuer) for a profile that checks each token's
    issuer against its tenant (:mod:`.tenants`)."""
    from .providers import provider_class  # the profiles import this module

    try:
        allowed = provider_class(config.provider).tenant_issuers
    except Exception:  # an unusable PROVIDER is the system checks' business
        return False
    return allowed and tenants.template_serves(doc_issuer, config.issuer)


def _validate_document(doc: dict[str, Any], config: IdPConfig) -> dict[str, Any]:
    if doc.get("issuer") != config.issuer and not tenant_template_allowed(doc.get("issuer"),
                                                                          config):
        # Discovery 1.0 §4.3: the issuer in the document MUST be identical to the one used.
        raise ProviderUnavailable(
            f"discovery issuer {str(doc.get('issuer'))[:200]!r} is not ISSUER {config.issuer!r}",
            code="discovery_issuer_mismatch", stage="discovery")
    for key in ENDPOINT_KEYS:
        value = doc.get(key)
        if value is None:
            continue
        status = endpoint_status(value, config.issuer)
        if status == "insecure":
            raise _insecure(key, value, config)
        if status == "unusable":
            if key in REQUIRED_ENDPOINTS:
                raise ProviderUnavailable(f"discovery document has no usable {key}",
                                          code="provider_bad_response", stage="discovery")
            doc.pop(key)  # garbage (not a string, not an http(s) URL): treated as absent
            logger.warning("stage=discovery ignoring an unusable %s (not an https URL)", key)
    for key in REQUIRED_ENDPOINTS:
        if not doc.get(key):
            raise ProviderUnavailable(f"discovery document has no usable {key}",
                                      code="provider_bad_response", stage="discovery")
    return doc


def get_metadata() -> ProviderMetadata:
    """Return the provider's metadata, fetching and caching the discovery document if needed."""
    config = get_config()
    cache = provider_cache(config)
    key = provider_cache_key(config, "discovery")
    doc = cache.get(key)
    if doc is None:
        if config.use_discovery:
            response = http.request("GET", discovery_url(config.issuer), stage="discovery",
                                    headers={"Accept": "application/json"})
            if response.status != 200:
                raise ProviderUnavailable(f"discovery answered HTTP {response.status}",
                                          stage="discovery")
            doc = response.json_object(stage="discovery")
        else:
            doc = {"issuer": config.issuer}
        doc.update(config.endpoints)
        doc = _validate_document(doc, config)
        cache.set(key, doc, config.discovery_ttl)
    return ProviderMetadata(doc)
