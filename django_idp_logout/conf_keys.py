"""What ``IDP_LOGOUT`` may hold, declared once: the fields of :class:`IdPConfig`.

Each field is one key (its name upper-cased) and declares, through :func:`setting`, the key's
default, the types a setting may have, its documentation and, where special, how it becomes the
field's value. Derived from it: :data:`SETTINGS`, :data:`DEFAULTS`, :data:`KEY_TYPES` (system
checks), the typed values (``conf.get_config``) and the reference in ``docs/configuration.rst``
(rendered at build time). The first sections are declared on its base,
:class:`~.conf_keys_provider.ProviderKeys`. Imports only :mod:`.conf_fields` (the building
blocks) and that base; import these names from ``conf``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .conf_fields import Setting, query_params, setting
from .conf_keys_provider import ProviderKeys


@dataclass(frozen=True)
class IdPConfig(ProviderKeys):
    """Typed view of the effective configuration. Build it with :func:`get_config`.

    Also the declaration of every ``IDP_LOGOUT`` key: one field each, upper-cased (the first
    sections on :class:`ProviderKeys`).
    """

    claims_mapping: Mapping[str, str] = field(metadata=setting(
        {"email": "email", "first_name": "given_name", "last_name": "family_name"}, dict,
        section="Users", doc="""
        User model field → claim. Fields are set at creation and refreshed at each sign-in;
        fields the user model lacks are skipped."""))
    username_claim: str | None = field(metadata=setting(None, str, None, doc="""
        The claim new users' usernames are made from: ``preferred_username``, ``email``,
        ``upn`` … (characters Django's username validator refuses become ``_``; cut to the
        field's length; a number added when it is taken: ``jane``, ``jane-2``). Unset: an
        opaque digest of ``(issuer, sub)``, ``oidc-…``. Only at creation: existing users
        keep theirs, and users are still matched by ``(issuer, sub)``, never by username.
        mozilla-django-oidc's ``OIDC_USERNAME_ALGO`` wins when set."""))
    roles: Mapping[str, Any] = field(metadata=setting({}, dict, doc="""
        Django groups and ``is_staff`` / ``is_superuser`` from a claim, applied at each
        sign-in (see ``docs/users.rst``). A dict:

        * ``CLAIM`` (required): the claim holding the user's roles or groups, a dotted path
          into nested claims (``realm_access.roles`` for Keycloak); a list or a
          space-separated string.
        * ``GROUPS``: claim value → Django group name (created when missing). The user is
          added to the groups their values map to and removed from the *other mapped* groups;
          groups the mapping does not name are left alone.
        * ``STAFF`` / ``SUPERUSER``: claim values that make the user staff / superuser; the
          flag is set from them at each sign-in (granted or taken away).
        * ``WHEN_MISSING`` (``"keep"``): a sign-in whose claims lack ``CLAIM`` changes
          nothing; ``"remove"`` removes the mapped groups and the flags."""))
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
    bff_apis: Mapping[str, Any] = field(metadata=setting(
        {}, dict, section="Single-page apps (backend for frontend)", doc="""
        The APIs a single-page app calls through ``api/<name>/<path>``: the request goes on to
        the API with the signed-in user's access token (renewed as needed), never with the
        browser's cookies (see ``docs/bff.rst``). ``{"<name>": {...}}``, names of letters,
        digits, ``-`` and ``_``; each a dict:

        * ``URL`` (required): the API's base URL; ``api/<name>/<path>`` goes to ``URL`` +
          ``<path>`` (the query string too), never to another host. ``https``; plain
          ``http`` only on loopback (development).
        * ``TIMEOUT``: seconds to connect and for each read (default: ``TIMEOUT``); an API
          that does not answer in time gives a 504 JSON answer.
        * ``MAX_REQUEST_BYTES`` (``1048576``): request bodies larger than this get a 413
          JSON answer.
        * ``FORWARD_HEADERS``: request headers passed on besides the standard ones
          (``Accept``, ``Content-Type``, ``If-*``, ``Range`` …) and ``X-…`` headers.
        * ``TOKEN_PARAMS``: for an API that needs an access token with another audience or
          other scopes, the parameters of the refresh token grant that gets it its own, e.g.
          ``{"scope": "api://orders/.default"}`` (Entra ID) or ``{"resource":
          "https://orders.example.com/"}`` (RFC 8707). Unset: the session's access token."""))
    bff_user_claims: tuple[str, ...] = field(metadata=setting(
        ("sub", "name", "given_name", "family_name", "preferred_username", "email", "picture",
         "locale"), list, tuple, doc="""
        The claims ``session/`` shows in ``user`` (those the sign-in's ID token, or UserInfo,
        has). Never a token; pick only what the browser may see."""))
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
