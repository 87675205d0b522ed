"""The provider's signing keys (JWKS): fetched, cached, chosen for a token, refetched.

The key set lives in Django's cache framework (``CACHE_ALIAS``) next to the discovery
document (:mod:`django_idp_logout.discovery`), shared by every server process.

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
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from . import http
from .conf import IdPConfig, get_config
from .discovery import ProviderMetadata, get_metadata, provider_cache
from .exceptions import InvalidToken, ProviderUnavailable
from .store import provider_cache_key

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

#: Key type (and curve) each JWS algorithm family needs; a key of another type is never tried.
_KTY_FOR_ALG: dict[str, tuple[str, str | None]] = {
    **{f"RS{n}": ("RSA", None) for n in (256, 384, 512)},
    **{f"PS{n}": ("RSA", None) for n in (256, 384, 512)},
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
    "EdDSA": ("OKP", None),
}


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
    provider_cache(config).set(provider_cache_key(config, "jwks"), usable, config.jwks_ttl)
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
    cache = provider_cache(config)
    # One marker per source and kid: forged logout tokens naming the kid of a key the provider
    # is about to publish cannot block the refetch a genuine ID token with that kid needs.
    if not cache.add(provider_cache_key(config, "jwks-kid", source, kid or ""), 1, interval):
        logger.info("stage=%s JWKS not refetched (%s, kid=%s): already refetched for this key "
                    "id in the last %d s", stage, reason, _kid_for_log(kid), interval)
        return False
    budget = (MAX_TRUSTED_REFETCHES_PER_INTERVAL if trusted
              else MAX_UNTRUSTED_REFETCHES_PER_INTERVAL)
    budget_key = provider_cache_key(config, "jwks-refetches", source)
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


def find_verification_key(kid: str | None, alg: str, *, stage: str = "id_token",
                          metadata: ProviderMetadata | None = None) -> VerificationKey:
    """The provider's public key for a JWS header's ``kid`` and ``alg``, with its origin.

    Uses the cached JWKS; fetches it when absent, and refetches it (rate-limited) when no key
    matches ``kid``. Raises :class:`InvalidToken` when no single usable key matches (an
    absent ``kid`` is fine only when exactly one key fits the algorithm, per OpenID Connect
    Core §10.1), :class:`ProviderUnavailable` when the keys cannot be fetched. ``metadata``
    saves loading the discovery document again when the caller holds it.
    """
    config = get_config()
    _check_alg(alg, stage)
    metadata = metadata or get_metadata()
    keys = provider_cache(config).get(provider_cache_key(config, "jwks"))
    fresh = keys is None
    if keys is None:
        keys = _fetch_jwks(config, metadata)
    found = _select(keys, kid, alg)
    if not found and not fresh and _may_refetch(config, kid, stage, "unknown key id"):
        found, fresh = _select(_fetch_jwks(config, metadata), kid, alg), True
    return _one(found, fresh=fresh, stage=stage)


def refetch_verification_key(kid: str | None, alg: str, failed: VerificationKey, *,
                             stage: str = "id_token", metadata: ProviderMetadata | None = None
                             ) -> VerificationKey | None:
    """After a signature failed with ``failed`` (a cached key): refetch once, rate-limited.

    Returns the key now published for ``kid`` when it differs from ``failed`` (the provider
    replaced the key under the same ``kid``), else ``None``: the signature is simply bad.
    """
    config = get_config()
    _check_alg(alg, stage)
    if failed.fresh or not _may_refetch(config, kid, stage, "signature failed with a cached key"):
        return None
    found = _select(_fetch_jwks(config, metadata or get_metadata()), kid, alg)
    if len(found) != 1 or found[0][0] == failed.jwk:
        logger.info("stage=%s the refetched JWKS has no other key for kid=%s", stage,
                    _kid_for_log(kid))
        return None
    return _one(found, fresh=True, stage=stage)
