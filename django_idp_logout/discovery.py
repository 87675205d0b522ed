"""Provider metadata (OpenID Connect Discovery 1.0) and signing keys (JWKS), cached.

Both live in Django's cache framework (``CACHE_ALIAS``) so that every server process shares
one copy and a warm login makes no call but the token request. Keys are re-fetched early for
a ``kid`` we have not seen (key rotation), at most once per unknown ``kid`` per
``JWKS_REFETCH_INTERVAL`` and at most :data:`MAX_REFETCHES_PER_INTERVAL` times per interval in
all, so tokens with made-up ``kid`` values cannot make us hammer the provider — while the first
refetch for a genuinely new key is never blocked by an earlier one for another key.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from django.core.cache import BaseCache, caches

from . import http
from .conf import ENDPOINT_KEYS, IdPConfig, get_config
from .exceptions import InvalidToken, ProviderUnavailable

logger = logging.getLogger("django_idp_logout")

MAX_REFETCHES_PER_INTERVAL = 10

#: Key type (and curve) each JWS algorithm family needs; a key of another type is never tried.
_KTY_FOR_ALG: dict[str, tuple[str, str | None]] = {
    **{f"RS{n}": ("RSA", None) for n in (256, 384, 512)},
    **{f"PS{n}": ("RSA", None) for n in (256, 384, 512)},
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
    "EdDSA": ("OKP", None),
}


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


def _cache(config: IdPConfig) -> BaseCache:
    return caches[config.cache_alias]


def _key(config: IdPConfig, kind: str, extra: str = "") -> str:
    digest = hashlib.sha256(f"{config.issuer}\0{config.client_id}\0{extra}".encode()).hexdigest()
    return f"idp_logout:{kind}:{digest[:32]}"


def is_secure_url(url: str) -> bool:
    """``https``, or ``http`` on a loopback host (development and tests)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return bool(parts.hostname)
    return parts.scheme == "http" and parts.hostname in {"localhost", "127.0.0.1", "::1"}


def discovery_url(issuer: str) -> str:
    """Discovery 1.0 §4: the issuer, any trailing ``/`` removed, + the well-known path."""
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def _validate_document(doc: dict[str, Any], config: IdPConfig) -> dict[str, Any]:
    if doc.get("issuer") != config.issuer:
        # Discovery 1.0 §4.3: the issuer in the document MUST be identical to the one used.
        raise ProviderUnavailable(
            f"discovery issuer {str(doc.get('issuer'))[:200]!r} is not ISSUER {config.issuer!r}",
            code="discovery_issuer_mismatch", stage="discovery")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        value = doc.get(key)
        if not isinstance(value, str) or not is_secure_url(value):
            raise ProviderUnavailable(f"discovery document has no usable {key}",
                                      code="provider_bad_response", stage="discovery")
    for key in ENDPOINT_KEYS:
        value = doc.get(key)
        if value is not None and (not isinstance(value, str) or not is_secure_url(value)):
            doc.pop(key)  # an unusable optional endpoint is treated as absent
            logger.warning("stage=discovery ignoring an unusable %s in the discovery document",
                           key)
    return doc


def get_metadata() -> ProviderMetadata:
    """Return the provider's metadata, fetching and caching the discovery document if needed."""
    config = get_config()
    cache = _cache(config)
    key = _key(config, "discovery")
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


# --- signing keys -------------------------------------------------------------------------


def _fetch_jwks(config: IdPConfig, metadata: ProviderMetadata) -> list[dict[str, Any]]:
    response = http.request("GET", metadata.jwks_uri, stage="discovery",
                            headers={"Accept": "application/json, application/jwk-set+json"})
    if response.status != 200:
        raise ProviderUnavailable(f"JWKS answered HTTP {response.status}", stage="discovery")
    keys = response.json_object(stage="discovery").get("keys")
    if not isinstance(keys, list):
        raise ProviderUnavailable("JWKS has no 'keys' list", code="provider_bad_response",
                                  stage="discovery")
    usable = [k for k in keys if isinstance(k, dict)]
    _cache(config).set(_key(config, "jwks"), usable, config.jwks_ttl)
    return usable


def _usable_for(jwk: Mapping[str, Any], alg: str) -> bool:
    """RFC 7517: skip keys meant for encryption, for another alg, or of the wrong type."""
    kty, crv = _KTY_FOR_ALG[alg]
    if jwk.get("kty") != kty or (crv is not None and jwk.get("crv") != crv):
        return False
    if jwk.get("use") not in (None, "sig"):
        return False
    if "alg" in jwk and jwk["alg"] != alg:
        return False
    ops = jwk.get("key_ops")
    return not (isinstance(ops, list) and "verify" not in ops)


def _load(jwk: Mapping[str, Any], alg: str) -> Any:
    return _load_json(json.dumps(dict(jwk), sort_keys=True), alg)


@functools.lru_cache(maxsize=64)
def _load_json(jwk_json: str, alg: str) -> Any:
    """Parse a public key once per process (keys are immutable; the cache is bounded)."""
    try:
        return jwt.PyJWK.from_json(jwk_json, algorithm=alg).key
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        return None  # unparseable or unsupported key material: ignore it, as RFC 7517 §5 says


def _select(keys: list[dict[str, Any]], kid: str | None, alg: str) -> list[Any]:
    candidates = [k for k in keys if _usable_for(k, alg)]
    if kid is not None:
        candidates = [k for k in candidates if k.get("kid") == kid]
    loaded = [_load(k, alg) for k in candidates]
    return [key for key in loaded if key is not None]


def _may_refetch(config: IdPConfig, kid: str | None) -> bool:
    interval = max(config.jwks_refetch_interval, 1)
    cache = _cache(config)
    if not cache.add(_key(config, "jwks-miss", kid or ""), 1, interval):
        return False  # already refetched for this kid recently
    budget_key = _key(config, "jwks-refetches")
    cache.add(budget_key, 0, interval)
    try:
        used = cache.incr(budget_key)
    except ValueError:  # expired between add and incr
        return True
    return used <= MAX_REFETCHES_PER_INTERVAL


def get_verification_key(kid: str | None, alg: str, *, stage: str = "id_token") -> Any:
    """Return the provider's public key for a JWS header's ``kid`` and ``alg``.

    Raises :class:`InvalidToken` when no single usable key matches (an absent ``kid`` is fine
    only when exactly one key fits the algorithm, per OpenID Connect Core §10.1).
    """
    config = get_config()
    if alg not in _KTY_FOR_ALG:
        raise InvalidToken(f"no JWKS key type for alg {alg!r}", code="invalid_signature",
                           stage=stage)
    metadata = get_metadata()
    keys = _cache(config).get(_key(config, "jwks"))
    fetched = keys is None
    if keys is None:
        keys = _fetch_jwks(config, metadata)
    found = _select(keys, kid, alg)
    if not found and not fetched and _may_refetch(config, kid):
        logger.info("stage=%s refetching JWKS for an unknown key id", stage)
        found = _select(_fetch_jwks(config, metadata), kid, alg)
    if not found:
        raise InvalidToken("no provider key matches the token's kid and alg",
                           code="unknown_signing_key", stage=stage)
    if len(found) > 1:
        raise InvalidToken("several provider keys match a token without a unique kid",
                           code="ambiguous_signing_key", stage=stage)
    return found[0]
