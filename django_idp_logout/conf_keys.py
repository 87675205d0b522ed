"""What ``IDP_LOGOUT`` may hold, declared once: the fields of :class:`IdPConfig`.

Each field is one key (its name upper-cased) and declares, through :func:`setting`, the key's
default, the types a setting may have, its documentation and, where special, how it becomes the
field's value. Derived from it: :data:`SETTINGS`, :data:`DEFAULTS`, :data:`KEY_TYPES` (system
checks), the typed values (``conf.get_config``) and the reference in ``docs/configuration.rst``
(rendered at build time). Imports only :mod:`.conf_fields` (the building blocks); import
these names from ``conf``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .conf_fields import (
    ASYMMETRIC_ALGORITHMS,
    DEFAULT_ALGORITHMS,
    DEFAULT_TIMEOUT,
    Setting,
    parse_scopes,
    query_params,
    setting,
)


@dataclass(frozen=True)
class IdPConfig:
    """Typed view of the effective configuration. Build it with :func:`get_config`.

    Also the declaration of every ``IDP_LOGOUT`` key: one field each, upper-cased.
    """

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
    claims_mapping: Mapping[str, str] = field(metadata=setting(
        {"email": "email", "first_name": "given_name", "last_name": "family_name"}, dict,
        section="Users", doc="""
        User model field → claim. Fields are set at creation and refreshed at each sign-in;
        fields the user model lacks are skipped."""))
    create_users: bool = field(metadata=setting(True, bool, doc="""
        Create a local user at the first sign-in. Off: unknown identities see a 403 page."""))
    link_users_by_email: bool = field(metadata=setting(False, bool, doc="""
        Opt-in: the first sign-in of a provider identity is linked to an existing local user
        with the same e-mail address, typically one that so far signed in with a password.
        Users are otherwise matched only by ``(issuer, sub)``. So that nobody can have another
        person's sign-in attached to their account, while it is on:

        * only an address with ``email_verified`` exactly ``true`` is matched, **and stored**:
          an unverified ``email`` claim is never written to the user's e-mail field, at
          creation or later (the hooks ``create_user`` and ``update_user`` do not see it), and
          the e-mail field is filled from the ``email`` claim only, whatever
          ``CLAIMS_MAPPING`` says. Without this, someone could sign in with the victim's
          address, unverified, get an account that carries it, and have the victim's later
          verified sign-in linked into it;
        * a user who already has a provider identity (any issuer, any ``sub``) is never linked:
          another identity with the same address gets a user of its own;
        * addresses are compared case-insensitively, and a sign-in is linked only when exactly
          one user has the address; when several do, none is picked.

        Linking trusts each provider's ``email_verified``: enable it only with providers that
        verify addresses, and only if the addresses of your existing users were verified too
        (by your own sign-up, for instance). Providers that never send ``email_verified``
        (some Entra ID set-ups) then get no address stored."""))
    link_signed_in_user: bool = field(metadata=setting(False, bool, doc="""
        Opt-in, for sites with several ``PROVIDERS``: a provider identity seen for the first
        time while a user is signed in (through another provider, or with a password) is linked
        to that user: "connect another account" is signing in with it while signed in. Set it
        on the provider(s) whose identities may be linked. Off (the default): every identity
        seen for the first time gets a user of its own (or ``LINK_USERS_BY_EMAIL``'s), so one
        person signing in with two providers has two accounts. An identity that already belongs
        to a user is never moved to another."""))
    login_redirect_url: str = field(metadata=setting(
        None, str, None, section="Redirects", default_doc="default: Django's "
        "``LOGIN_REDIRECT_URL``", doc="""
        Where users land after signing in when no safe ``next`` was given."""))
    allowed_redirect_hosts: tuple[str, ...] = field(metadata=setting((), list, tuple, doc="""
        Hosts besides the request's own that ``next`` may point to."""))
    login_attempt_ttl: int = field(metadata=setting(600, int, section="Sign-in attempts", doc="""
        Seconds a started sign-in may take before its ``state`` expires."""))
    max_pending_logins: int = field(metadata=setting(5, int, doc="""
        Sign-ins pending at once in one session (tabs); the oldest is dropped past this."""))
    request_refresh_token: bool = field(metadata=setting(
        False, bool, section="Tokens and session lifetime", doc="""
        Ask the provider for a refresh token the way the profile says (the ``generic`` profile
        adds the ``offline_access`` scope). Providers that issue refresh tokens anyway need
        nothing. Without a refresh token, :func:`~django_idp_logout.get_access_token` cannot
        renew an access token and the session check uses ``prompt=none``."""))
    token_renew_margin: int = field(metadata=setting(60, int, doc="""
        Seconds before its expiry an access token counts as expired: ``get_access_token``
        renews it first, so a token handed out does not expire on its way to the API."""))
    session_check_interval: int | None = field(metadata=setting(None, int, None, doc="""
        Off by default. Seconds after which the middleware checks a signed-in session with the
        provider again (also as soon as its access token has expired): with the refresh token
        when there is one, else, for a top-level GET navigation only, a ``prompt=none`` round
        trip that returns to the same URL. A refusal signs the user out with a page that says
        so; XHR/fetch requests get a 401 JSON answer and POSTs are never redirected. See
        ``docs/tokens.rst``."""))
    session_idle_timeout: int | None = field(metadata=setting(None, int, None, doc="""
        Seconds without a request after which a signed-in session ends (locally, logged, with
        a page that says so). Activity is recorded at most once a minute, so most requests
        write nothing."""))
    session_max_age: int | None = field(metadata=setting(None, int, None, doc="""
        Seconds after the sign-in at which a session ends, however active (an absolute
        lifetime; renewals do not extend it)."""))
    post_logout_redirect_url: str = field(metadata=setting(
        None, str, None, section="Logout", default_doc="default: Django's "
        "``LOGOUT_REDIRECT_URL``, else ``\"/\"``", doc="""
        The public page users land on after signing out. A URL or a URL name."""))
    post_logout_redirect_uri: str | None = field(metadata=setting(None, str, None, doc="""
        The URL the provider sends users back to (register it there). Unset: the absolute URL
        of ``logout/complete/``, built from the request."""))
    allow_get_logout: bool = field(metadata=setting(False, bool, doc="""
        Sign out on GET too (mozilla-django-oidc's ``ALLOW_LOGOUT_GET_METHOD`` fills it). Off,
        GET shows a confirmation form."""))
    revoke_tokens_on_logout: bool = field(metadata=setting(True, bool, doc="""
        Revoke the refresh token, then the access token, at logout (RFC 7009) whenever the
        provider has a revocation endpoint (discovery's ``revocation_endpoint``; Akamai's
        documented fallback URL), for every profile. ``False`` turns it off. Failures never
        stop the logout: ``invalid_client`` is logged at ERROR, a provider down or slow at
        WARNING."""))
    logout_method: str = field(metadata=setting("auto", str, doc="""
        How the end-session request is sent: ``"auto"`` redirects (GET) unless the URL would be
        longer than 8,000 characters and the profile takes POST, then the browser submits a
        form (the POST binding of RP-Initiated Logout 1.0); ``"GET"`` or ``"POST"`` forces
        either. Case does not matter; any other value is the system check error ``E026``."""))
    logout_params: Mapping[str, str] = field(metadata=setting(
        {}, dict, convert=query_params, doc="""
        Extra end-session parameters, e.g. ``{"ui_locales": "de"}``."""))
    logout_state_ttl: int = field(metadata=setting(600, int, doc="""
        Seconds the logout ``state`` stays valid."""))
    send_access_token_hint: bool = field(metadata=setting(False, bool, doc="""
        Send ``access_token_hint`` to profiles that accept it (cidaas). A token in a URL leaks
        into logs and history: opt in only if you must."""))
    clear_site_data: tuple[str, ...] = field(metadata=setting(
        ("cache", "storage"), list, tuple, doc="""
        Directives of the ``Clear-Site-Data`` header on the logout response; ``()`` sends
        none."""))
    failure_redirect_url: str | None = field(metadata=setting(
        None, str, None, section="Errors", doc="""
        Send users here after a failed sign-in instead of rendering the error page, with
        ``?error=<code>&reference=<id>`` added. The failure is logged and signalled either
        way."""))
    show_error_description: bool = field(metadata=setting(False, bool, doc="""
        Show the provider's ``error_description`` (sanitized and escaped) on the error page —
        only when ``DEBUG`` is also true."""))
    error_template: str = field(metadata=setting("django_idp_logout/error.html", str, doc="""
        Template rendered for failures. Context: ``title``, ``message``, ``code``, ``stage``,
        ``reference``, ``retry_url``, ``status``, ``description``."""))
    logout_token_max_age: int = field(metadata=setting(
        300, int, section="Provider-initiated logout", doc="""
        Seconds a back-channel logout token's ``iat`` may lie in the past (plus ``LEEWAY``).
        Also bounds how long ``jti`` values are remembered."""))
    require_logout_token_typ: bool = field(metadata=setting(False, bool, doc="""
        Require the ``typ: logout+jwt`` header on logout tokens (accepted either way)."""))
    frontchannel_frame_ancestors: tuple[str, ...] | None = field(metadata=setting(
        None, list, tuple, None, doc="""
        Origins allowed to embed ``frontchannel-logout/``. Unset: the issuer's origin."""))
    api: Mapping[str, Any] = field(metadata=setting({}, dict, section="Protecting an API", doc="""
        Accepting this provider's access tokens on an API
        (:class:`django_idp_logout.drf.BearerTokenAuthentication`,
        :func:`django_idp_logout.decorators.bearer_token_required`; see ``docs/api.rst``). A dict:

        * ``AUDIENCE`` (required): the API's identifier(s), a string or a list; a token's
          ``aud`` must contain one. Never ``CLIENT_ID`` alone (an ID token has it).
        * ``SCOPES``: scopes every request must have (a list or a space-separated string).
        * ``INTROSPECT`` (``False``): check tokens that are not JWTs at the provider's RFC 7662
          introspection endpoint, with this client's credentials.
        * ``INTROSPECTION_CACHE_TTL`` (``60``): seconds an introspection answer is reused
          (never past the token's ``exp``); ``0``: ask every time.
        * ``CREATE_USERS`` (``False``): create a local user for a token whose ``(iss, sub)``
          is unknown (as a sign-in would); off, such a token is anonymous, like a client
          credentials token.
        * ``REQUIRE_AT_JWT`` (``False``): accept only JWTs typed ``at+jwt`` (RFC 9068), for
          providers that type theirs."""))
    display_name: str | None = field(metadata=setting(None, str, None, section="Several providers",
                                                      doc="""
        The provider's name on the sign-in chooser (``login/`` with several ``PROVIDERS``) and
        on the "signed out" page. Unset: the profile's vendor name (e.g. "Keycloak"), or the
        provider's key in ``PROVIDERS``."""))
    #: The merged settings the fields were built from (``effective_settings``, normalised).
    raw: Mapping[str, Any] = field(repr=False, compare=False)
    #: The provider's key in ``PROVIDERS`` (``"default"`` for the single-provider form).
    name: str = "default"

    @property
    def is_public_client(self) -> bool:
        return not self.client_secret


#: Every key, in declaration order (the order of the reference).
SETTINGS: tuple[Setting, ...] = tuple(
    replace(f.metadata["setting"], name=f.name.upper())
    for f in fields(IdPConfig) if "setting" in f.metadata)
#: Default of each key (``None``: none, or computed at run time, see ``conf``).
DEFAULTS: dict[str, Any] = {s.name: s.default for s in SETTINGS}
#: Expected type(s) of each key, used by the system checks (``django_idp_logout.E004``).
KEY_TYPES: dict[str, tuple[type, ...]] = {s.name: s.types for s in SETTINGS}
