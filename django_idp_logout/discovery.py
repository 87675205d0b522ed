"""Provider metadata (OpenID Connect Discovery 1.0) and signing keys (JWKS), cached.

Both live in Django's cache framework (``CACHE_ALIAS``) so that every server process shares
one copy and a warm login makes no call but the token request.

Endpoints that receive a code, a token, a secret or a key must be https when the issuer is:
a document (or an ``ENDPOINTS`` override) naming a plain-http one is refused as a whole
(``insecure_endpoint``, logged at ERROR with the key's name) rather than used or silently
dropped. Plain http is accepted only on loopback with a loopback http issuer (development).

Keys are re-fetched early, without waiting for ``JWKS_TTL``, for a ``kid`` not in the cached
set (key rotation) and when a signature fails with a cached key (a key replaced under the same
``kid``) — at most once per ``kid`` per ``JWKS_REFETCH_INTERVAL``, and within a budget per
interval that depends on where the token came from. An ID token (stage ``id_token``) came
from the token endpoint over TLS in answer to our own request: its refetches have their own
generous budget (:data:`MAX_TRUSTED_REFETCHES_PER_INTERVAL`). Anything else, notably logout
tokens POSTed to the public back-channel endpoint by anybody, shares a small one
(:data:`MAX_UNTRUSTED_REFETCHES_PER_INTERVAL`). Forged tokens with made-up ``kid`` values can
therefore neither make us hammer the provider nor use up the refetch a genuine rotation needs.
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

#: JWKS refetches per ``JWKS_REFETCH_INTERVAL`` triggered by ID tokens (trusted stages).
MAX_TRUSTED_REFETCHES_PER_INTERVAL = 10
#: JWKS refetches per ``JWKS_REFETCH_INTERVAL`` triggered by anything else (logout tokens).
MAX_UNTRUSTED_REFETCHES_PER_INTERVAL = 3
#: Upper bound of early JWKS refetches per interval, whatever is posted to us.
MAX_REFETCHES_PER_INTERVAL = (MAX_TRUSTED_REFETCHES_PER_INTERVAL
                              + MAX_UNTRUSTED_REFETCHES_PER_INTERVAL)
#: Stages whose tokens come from the provider itself, over TLS, in answer to our request.
TRUSTED_STAGES = frozenset({"id_token"})

#: Hosts on which plain http is accepted, and only with a plain-http loopback issuer.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
#: Endpoints the app cannot work without.
REQUIRED_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri")

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
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS


def discovery_url(issuer: str) -> str:
    """Discovery 1.0 §4: the issuer, any trailing ``/`` removed, + the well-known path."""
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def _insecure(key: str, url: str, config: IdPConfig) -> ProviderUnavailable:
    where = (f"IDP_LOGOUT['ENDPOINTS'][{key!r}]" if key in config.endpoints
             else f"{key} in the discovery document")
    if urlsplit(config.issuer).scheme == "https":
        why = "but ISSUER is https"
        fix = ("make the provider publish https URLs (behind a TLS-terminating proxy, set its "
               "public https URL or forward X-Forwarded-Proto), or give an https URL in "
               f"IDP_LOGOUT['ENDPOINTS'][{key!r}]")
    else:
        why = "outside loopback"
        fix = "use https"
    detail = (f"{where} is plain http ({url[:200]!r}) {why}: codes, tokens or keys would cross "
              f"the network unencrypted, so the provider is not used. Fix: {fix}.")
    logger.error("stage=discovery code=insecure_endpoint key=%s %s", key, detail)
    return ProviderUnavailable(detail, code="insecure_endpoint", stage="discovery")


def _validate_document(doc: dict[str, Any], config: IdPConfig) -> dict[str, Any]:
    if doc.get("issuer") != config.issuer:
        # Discovery 1.0 §4.3: the issuer in the document MUST be identical to the one used.
        raise ProviderUnavailable(
            f"discovery issuer {str(doc.get('issuer'))[:200]!r} is not ISSUER {config.issuer!r}",
            code="discovery_issuer_mismatch", stage="discovery")
    issuer_is_loopback_http = (urlsplit(config.issuer).scheme == "http"
                               and urlsplit(config.issuer).hostname in LOOPBACK_HOSTS)
    for key in ENDPOINT_KEYS:
        value = doc.get(key)
        if value is None:
            continue
        try:
            parts = urlsplit(value) if isinstance(value, str) else None
            host = parts.hostname if parts is not None else None
        except ValueError:  # e.g. an unbalanced IPv6 bracket
            parts = host = None
        if parts is not None and parts.scheme == "http" and host:
            # Never send a code, token, secret or key in clear, nor silently drop the endpoint
            # (a missing revocation or end-session endpoint would weaken logout unnoticed).
            if not (issuer_is_loopback_http and host in LOOPBACK_HOSTS):
                raise _insecure(key, value, config)
        elif parts is None or parts.scheme != "https" or not host:
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


@functools.lru_cache(maxsize=64)
def _load_json(jwk_json: str, alg: str) -> Any:
    """Parse a public key once per process (keys are immutable; the cache is bounded)."""
    try:
        return jwt.PyJWK.from_json(jwk_json, algorithm=alg).key
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        return None  # unparseable or unsupported key material: ignore it, as RFC 7517 §5 says


@dataclass(frozen=True)
class VerificationKey:
    """A provider key chosen for a token, and whether the JWKS was just fetched for it."""

    key: Any
    jwk: str  # the JWK as canonical JSON: tells a replaced key from the same one
    fresh: bool


def _select(keys: list[dict[str, Any]], kid: str | None, alg: str) -> list[tuple[str, Any]]:
    candidates = [k for k in keys if _usable_for(k, alg)]
    if kid is not None:
        candidates = [k for k in candidates if k.get("kid") == kid]
    loaded = [(jwk, _load_json(jwk, alg))
              for jwk in (json.dumps(dict(k), sort_keys=True) for k in candidates)]
    return [(jwk, key) for jwk, key in loaded if key is not None]


def _one(found: list[tuple[str, Any]], *, fresh: bool, stage: str) -> VerificationKey:
    if not found:
        raise InvalidToken("no provider key matches the token's kid and alg",
                           code="unknown_signing_key", stage=stage)
    if len(found) > 1:
        raise InvalidToken("several provider keys match a token without a unique kid",
                           code="ambiguous_signing_key", stage=stage)
    jwk, key = found[0]
    return VerificationKey(key=key, jwk=jwk, fresh=fresh)


def _kid_for_log(kid: str | None) -> str:
    return "none" if kid is None else repr(kid[:64])


def _may_refetch(config: IdPConfig, kid: str | None, stage: str, reason: str) -> bool:
    """Whether a token seen at ``stage`` may make us refetch the JWKS now (see module doc)."""
    trusted = stage in TRUSTED_STAGES
    source = "trusted" if trusted else "untrusted"
    interval = max(config.jwks_refetch_interval, 1)
    cache = _cache(config)
    # One marker per source and kid: forged logout tokens naming the kid of a key the provider
    # is about to publish cannot block the refetch a genuine ID token with that kid needs.
    if not cache.add(_key(config, "jwks-kid", f"{source}\0{kid or ''}"), 1, interval):
        logger.info("stage=%s JWKS not refetched (%s, kid=%s): already refetched for this key "
                    "id in the last %d s", stage, reason, _kid_for_log(kid), interval)
        return False
    budget = (MAX_TRUSTED_REFETCHES_PER_INTERVAL if trusted
              else MAX_UNTRUSTED_REFETCHES_PER_INTERVAL)
    budget_key = _key(config, "jwks-refetches", source)
    cache.add(budget_key, 0, interval)
    try:
        used = cache.incr(budget_key)
    except ValueError:  # expired between add and incr: a new interval starts with this one
        cache.add(budget_key, 1, interval)
        used = 1
    if used > budget:
        # WARNING once per interval (a flood of forged tokens must not flood the log too).
        logger.log(logging.WARNING if used == budget + 1 else logging.INFO,
                   "stage=%s JWKS not refetched (%s, kid=%s): the %s budget of %d refetches "
                   "per %d s is used up", stage, reason, _kid_for_log(kid), source, budget,
                   interval)
        return False
    logger.info("stage=%s refetching JWKS (%s, kid=%s)", stage, reason, _kid_for_log(kid))
    return True


def _check_alg(alg: str, stage: str) -> None:
    if alg not in _KTY_FOR_ALG:
        raise InvalidToken(f"no JWKS key type for alg {alg!r}", code="invalid_signature",
                           stage=stage)


def find_verification_key(kid: str | None, alg: str, *, stage: str = "id_token"
                          ) -> VerificationKey:
    """The provider's public key for a JWS header's ``kid`` and ``alg``, with its origin.

    Uses the cached JWKS; fetches it when absent, and refetches it (rate-limited) when no key
    matches ``kid``. Raises :class:`InvalidToken` when no single usable key matches (an
    absent ``kid`` is fine only when exactly one key fits the algorithm, per OpenID Connect
    Core §10.1), :class:`ProviderUnavailable` when the keys cannot be fetched.
    """
    config = get_config()
    _check_alg(alg, stage)
    metadata = get_metadata()
    keys = _cache(config).get(_key(config, "jwks"))
    fresh = keys is None
    if keys is None:
        keys = _fetch_jwks(config, metadata)
    found = _select(keys, kid, alg)
    if not found and not fresh and _may_refetch(config, kid, stage, "unknown key id"):
        found, fresh = _select(_fetch_jwks(config, metadata), kid, alg), True
    return _one(found, fresh=fresh, stage=stage)


def refetch_verification_key(kid: str | None, alg: str, failed: VerificationKey, *,
                             stage: str = "id_token") -> VerificationKey | None:
    """After a signature failed with ``failed`` (a cached key): refetch once, rate-limited.

    Returns the key now published for ``kid`` when it differs from ``failed`` (the provider
    replaced the key under the same ``kid``), else ``None``: the signature is simply bad.
    """
    config = get_config()
    _check_alg(alg, stage)
    if failed.fresh or not _may_refetch(config, kid, stage, "signature failed with a cached key"):
        return None
    found = _select(_fetch_jwks(config, get_metadata()), kid, alg)
    if len(found) != 1 or found[0][0] == failed.jwk:
        logger.info("stage=%s the refetched JWKS has no other key for kid=%s", stage,
                    _kid_for_log(kid))
        return None
    return _one(found, fresh=True, stage=stage)


def get_verification_key(kid: str | None, alg: str, *, stage: str = "id_token") -> Any:
    """The key only, as :func:`find_verification_key` finds it."""
    return find_verification_key(kid, alg, stage=stage).key
