"""The first sections of ``IDP_LOGOUT``'s declaration: the provider, the client, the
authorization request, the provider's metadata, HTTP and token validation.

:class:`ProviderKeys` is the base of :class:`~.conf_keys.IdPConfig`, which declares the rest;
the two together are the one declaration of every key (split only to keep each module short).
Imports only :mod:`.conf_fields`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .conf_fields import (
    ASYMMETRIC_ALGORITHMS,
    DEFAULT_ALGORITHMS,
    DEFAULT_TIMEOUT,
    parse_scopes,
    query_params,
    setting,
)


@dataclass(frozen=True)
class ProviderKeys:
    """The keys about the provider and how the client talks to it (fields, upper-cased)."""


    provider: str = field(metadata=setting("generic", str, section="Provider and client", doc="""
        The provider profile: a registry name or the dotted path of a
        ``django_idp_logout.providers.Provider`` subclass."""))
    issuer: str = field(metadata=setting(None, str, default_doc="required", doc="""
        The provider's issuer identifier, exactly as in its discovery document (trailing slash
        included or not). Discovery is fetched from ``ISSUER`` (trailing ``/`` removed) +
        ``/.well-known/openid-configuration`` and its ``issuer`` must equal ``ISSUER``. Must be
        ``https`` (plain ``http`` only on loopback, for development)."""))
    client_id: str = field(metadata=setting(None, str, default_doc="required", doc="""
        The client identifier registered at the provider."""))
    client_secret: str | None = field(metadata=setting(None, str, None, doc="""
        The client secret. Omit it for a public client: PKCE alone then protects the code."""))
    token_auth_method: str | None = field(metadata=setting(None, str, None, doc="""
        ``"client_secret_basic"``, ``"client_secret_post"`` or ``"none"``. Unset: ``none`` for
        a public client, otherwise ``client_secret_basic`` when the provider supports it (the
        default when it does not say), else ``client_secret_post``."""))
    scopes: tuple[str, ...] = field(metadata=setting(
        ("openid", "email", "profile"), list, tuple, str, convert=parse_scopes,
        section="Authorization request", doc="""
        A list, tuple or space-separated string. ``openid`` is always sent."""))
    auth_params: Mapping[str, str] = field(metadata=setting({}, dict, convert=query_params, doc="""
        Extra authorization parameters: ``prompt``, ``ui_locales``, ``acr_values``,
        ``max_age``, ``login_hint``… The flow's own parameters (``state``, ``nonce``,
        ``redirect_uri``, ``code_challenge``…) cannot be overridden. With ``max_age``, the ID
        token must carry an ``auth_time`` that is recent enough. With ``acr_values``
        (space-separated), the ID token's ``acr`` must be one of them (Core §3.1.3.7 step 12),
        whatever the authorization URL said."""))
    redirect_uri: str | None = field(metadata=setting(None, str, None, doc="""
        The callback URL registered at the provider. Unset: built from the request."""))
    use_discovery: bool = field(metadata=setting(True, bool, section="Provider metadata", doc="""
        Fetch the discovery document. Turn it off for a provider without one and give every
        endpoint in ``ENDPOINTS``."""))
    endpoints: Mapping[str, str] = field(metadata=setting({}, dict, doc="""
        Endpoint overrides, keyed by the discovery document's names: ``authorization_endpoint``,
        ``token_endpoint``, ``userinfo_endpoint``, ``jwks_uri``, ``end_session_endpoint``,
        ``revocation_endpoint``, ``introspection_endpoint``. They win over discovery.

        With an ``https`` issuer every endpoint, discovered or overridden, must be ``https``:
        one plain-``http`` endpoint makes the provider unusable (``insecure_endpoint``, logged
        at ERROR with the key's name) rather than a code, token or secret being sent in clear or
        the endpoint being silently dropped. Fix the provider's public URL (behind a
        TLS-terminating proxy: its external ``https`` URL, or ``X-Forwarded-Proto``) or
        override the endpoint here. Plain ``http`` is accepted only on loopback with a loopback
        ``http`` issuer (development). A value that is not a URL at all is ignored with a
        warning, and the endpoint is treated as absent; for a required endpoint (authorization,
        token, JWKS) the provider is refused. The system checks report these overrides at
        start-up: ``E027`` (plain ``http``), ``E028`` (a required one that is not a URL),
        ``W010`` (an optional one)."""))
    discovery_ttl: int = field(metadata=setting(3600, int, doc="""
        Seconds the discovery document stays cached."""))
    jwks_ttl: int = field(metadata=setting(3600, int, doc="""
        Seconds the provider's signing keys stay cached."""))
    jwks_refetch_interval: int = field(metadata=setting(60, int, doc="""
        A token signed with a key id not in the cached keys, or whose signature fails with a
        cached key (a key replaced under the same id), triggers one refetch; the same key id
        does not trigger another within this many seconds. ID tokens (from the token endpoint,
        over TLS) may cause up to ten refetches per interval; logout tokens, which anybody can
        post, share a separate budget of three, so forged tokens cannot use up the refetch a
        genuine key rotation needs. A genuinely new key is therefore picked up at once."""))
    cache_alias: str = field(metadata=setting("default", str, doc="""
        The Django cache holding discovery and keys; also single-use values and revocation
        markers when it is shared by all processes and atomic (see `Single use and shared
        state`_)."""))
    timeout: float = field(metadata=setting(DEFAULT_TIMEOUT, int, float, section="HTTP", doc="""
        Seconds for each outbound request to connect and for each read; ``None`` means the
        default. A whole call (headers and body) never lasts longer than twice this, however
        slowly the provider sends: a provider that hangs or trickles bytes gives a 504 page,
        never a hung worker."""))
    ca_bundle: str | None = field(metadata=setting(None, str, None, doc="""
        Path of a CA bundle for a provider with a private CA. TLS verification is always on;
        this wins over the ``REQUESTS_CA_BUNDLE`` environment variable, which otherwise
        applies."""))
    algorithms: tuple[str, ...] = field(metadata=setting(
        DEFAULT_ALGORITHMS, list, tuple, section="Token validation", doc=f"""
        JWS algorithms accepted for ID tokens, logout tokens and (``API``) access tokens. The
        default is OpenID Connect's default ``id_token_signed_response_alg``; list what your
        client is registered for, from ``{' '.join(ASYMMETRIC_ALGORITHMS)}``. A token signed
        with another of the
        provider's keys and another algorithm is rejected. ``none`` is never accepted.
        ``HS256``/``HS384``/``HS512`` are accepted only when listed here, and then only with
        ``CLIENT_SECRET`` as the key — never with a key from the JWKS."""))
    leeway: int = field(metadata=setting(60, int, doc="""
        Seconds of clock skew tolerated for ``exp``, ``iat``, ``nbf`` and ``auth_time``."""))
    trusted_audiences: tuple[str, ...] = field(metadata=setting((), list, tuple, doc="""
        Audiences besides ``CLIENT_ID`` that an ID token may list. Any other extra audience is
        rejected (OpenID Connect Core 3.1.3.7, step 3)."""))
    use_userinfo: bool = field(metadata=setting(False, bool, doc="""
        Call the UserInfo endpoint after validating the ID token and merge its claims (its
        ``sub`` must equal the ID token's; it cannot change ``iss``, ``sub``, ``aud``…). Off by
        default: most providers put the claims in the ID token, and the call costs a round
        trip."""))
