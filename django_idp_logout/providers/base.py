"""What every provider profile shares.

A profile is a class that is mostly data: what it needs from the provider, and how it spells
the requests it sends. The login side is the same for every OpenID Connect provider, so the
base class implements it from :class:`~django_idp_logout.conf.IdPConfig` and the discovery
document; vendor profiles override data attributes, and a method only where a URL is shaped
differently.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import quote

from ..client import ClientAuth
from ..conf import IdPConfig, user_settings
from ..discovery import ProviderMetadata

logger = logging.getLogger("django_idp_logout")


@dataclass(frozen=True)
class LogoutContext:
    """What a profile may put in an end-session request, read before the session is flushed."""

    post_logout_redirect_uri: str
    #: ``None`` when no logout state could be stored (the return then lands on the default).
    state: str | None
    id_token: str | None = field(default=None, repr=False)
    access_token: str | None = field(default=None, repr=False)
    #: The ID token's claims (e.g. Entra's ``login_hint``).
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False)
    #: The end-session endpoint the request goes to (filled in by ``BoundProvider``).
    endpoint: str | None = None


#: Longest end-session URL sent as a GET redirect when ``LOGOUT_METHOD`` is ``"auto"``.
MAX_LOGOUT_URL = 8000

#: Authorization parameters the flow itself owns; ``AUTH_PARAMS`` may not override them.
RESERVED_AUTH_PARAMS = frozenset({
    "response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
    "code_challenge", "code_challenge_method",
})


class Provider:
    """Base profile: OpenID Connect Core, authorization code flow with PKCE (S256)."""

    #: Registry name (``IDP_LOGOUT["PROVIDER"]``).
    name: ClassVar[str] = "base"
    #: Human name for docs and log lines.
    display_name: ClassVar[str] = "OpenID Connect provider"

    # --- logout, as data -----------------------------------------------------------------
    #: Name of the parameter carrying the return URL at the end-session endpoint.
    redirect_param: ClassVar[str] = "post_logout_redirect_uri"
    #: Send ``id_token_hint`` (when the session has an ID token).
    sends_id_token_hint: ClassVar[bool] = True
    #: Send ``client_id``.
    sends_client_id: ClassVar[bool] = True
    #: The provider may take ``access_token_hint``; sent only with ``SEND_ACCESS_TOKEN_HINT``
    #: because a token in a URL leaks into browser history and server logs.
    accepts_access_token_hint: ClassVar[bool] = False
    #: The end-session endpoint does not invalidate tokens, so revocation (RFC 7009) is the
    #: only way they end: a missing revocation endpoint is worth a warning.
    revokes_tokens: ClassVar[bool] = False
    #: The provider ignores the return URL unless ``id_token_hint`` is sent.
    needs_id_token_hint_to_return: ClassVar[bool] = False
    #: The end-session endpoint takes a form POST (RP-Initiated Logout 1.0 §2: OPs MUST
    #: support GET and POST). Vendor profiles whose documents show only GET set ``False``.
    accepts_logout_post: ClassVar[bool] = True
    #: Send ``state`` (a provider that does not return it gets none: the return then lands
    #: on ``POST_LOGOUT_REDIRECT_URL``).
    sends_state: ClassVar[bool] = True
    #: Revoke at logout unless the site says otherwise (``REVOKE_TOKENS_ON_LOGOUT``); ``False``
    #: where revoking does more than end this session (Google: the whole grant).
    revoke_by_default: ClassVar[bool] = True
    #: No end-session endpoint: after the local logout a page says the provider's session
    #: stays (``logged_out_here.html``) instead of going straight to the landing page.
    keeps_provider_session: ClassVar[bool] = False
    #: The discovery ``issuer`` may carry a ``{tenantid}`` placeholder (multi-tenant
    #: endpoints): each token's ``iss`` must then equal it with the token's ``tid``.
    tenant_issuers: ClassVar[bool] = False
    #: Other spellings of ``ISSUER`` the provider documents for ``iss`` (tokens are then
    #: recorded under ``ISSUER``).
    alternative_issuers: ClassVar[tuple[str, ...]] = ()
    #: The provider adds audiences of its own to ID tokens (ZITADEL: the project): accept
    #: them when ``azp`` is ``CLIENT_ID`` (the token was issued to this client).
    audiences_trusted_with_azp: ClassVar[bool] = False
    #: What the revocation endpoint revokes (``token_type_hint`` values), in order.
    revocable_tokens: ClassVar[tuple[str, ...]] = ("refresh_token", "access_token")
    #: The revocation endpoint wants ``client_id`` in the form even with HTTP Basic (Auth0).
    revocation_form_client_id: ClassVar[bool] = False

    # --- refresh tokens, as data ---------------------------------------------------------
    #: Scopes that ask for a refresh token, added with ``REQUEST_REFRESH_TOKEN`` (Core §11).
    refresh_token_scopes: ClassVar[tuple[str, ...]] = ("offline_access",)
    #: Authorization parameters that ask for one (e.g. Google's ``access_type=offline``).
    refresh_token_params: ClassVar[Mapping[str, str]] = {}

    def __init__(self, config: IdPConfig) -> None:
        self.config = config

    def authorization_params(
        self, *, metadata: ProviderMetadata, redirect_uri: str, state: str, nonce: str,
        code_challenge: str, interactive: bool = False, silent: bool = False,
    ) -> dict[str, str]:
        """Query parameters of the authorization request.

        ``interactive`` drops ``prompt=none`` from ``AUTH_PARAMS``: a retry after
        ``login_required`` must let the user sign in, or a silent sign-in would loop.
        ``silent`` (the session check) sends ``prompt=none`` whatever ``AUTH_PARAMS`` says.
        """
        extra = self.refresh_token_params if self.config.request_refresh_token else {}
        params = {
            key: value for key, value in {**extra, **self.config.auth_params}.items()
            if key not in RESERVED_AUTH_PARAMS
        }
        if interactive and params.get("prompt", "").split() == ["none"]:
            del params["prompt"]
        if silent:
            params["prompt"] = "none"
        params.update({
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.scopes()),
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        })
        return params

    def scopes(self) -> list[str]:
        """``SCOPES`` with ``openid`` first, and the refresh token's scopes if asked for."""
        refresh = self.refresh_token_scopes if self.config.request_refresh_token else ()
        scopes = list(dict.fromkeys((*self.config.scopes, *refresh)))
        if "openid" not in scopes:
            scopes.insert(0, "openid")
        return scopes

    def token_auth_method(self, metadata: ProviderMetadata) -> str:
        """``TOKEN_AUTH_METHOD`` if set; else what the provider supports for our client type."""
        if self.config.token_auth_method:
            return self.config.token_auth_method
        if self.config.is_public_client:
            return "none"
        # Discovery 1.0 §3: when the list is absent, the default is client_secret_basic.
        if metadata.supports("token_endpoint_auth_methods_supported", "client_secret_basic",
                             default=("client_secret_basic",)):
            return "client_secret_basic"
        if metadata.supports("token_endpoint_auth_methods_supported", "client_secret_post"):
            return "client_secret_post"
        return "client_secret_basic"

    def client_authentication(self, metadata: ProviderMetadata) -> ClientAuth:
        """How this client authenticates at the token and revocation endpoints."""
        method = self.token_auth_method(metadata)
        client_id, secret = self.config.client_id, self.config.client_secret
        if method == "client_secret_basic" and secret:
            # RFC 6749 §2.3.1: form-urlencode id and secret before Base64.
            pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
            return ClientAuth({"Authorization": "Basic " + base64.b64encode(pair.encode())
                               .decode()}, {})
        if method == "client_secret_post" and secret:
            return ClientAuth({}, {"client_id": client_id, "client_secret": secret})
        return ClientAuth({}, {"client_id": client_id})

    def max_age(self) -> int | None:
        """``max_age`` sent in ``AUTH_PARAMS``, which makes ``auth_time`` mandatory."""
        value = self.config.auth_params.get("max_age")
        return int(value) if value is not None and str(value).isdigit() else None

    def access_token_issuers(self, claims: Mapping[str, Any]) -> tuple[str, ...]:
        """Issuers other than ``ISSUER`` of this provider's *access* tokens (for an API,
        :mod:`..bearer`): none, unless a vendor documents one (Entra ID's v1.0 tokens)."""
        return ()

    def end_session_endpoint(self, metadata: ProviderMetadata) -> str | None:
        """Where to send the browser to end the provider session; ``None`` if there is none."""
        return metadata.endpoint("end_session_endpoint")

    def revocation_endpoint(self, metadata: ProviderMetadata) -> str | None:
        return metadata.endpoint("revocation_endpoint")

    def should_revoke(self) -> bool:
        """Revoke at logout where an endpoint is known: ``REVOKE_TOKENS_ON_LOGOUT`` when the
        site sets it, else the profile's default (on for most: a token the provider still
        honours outlives the logout)."""
        if "REVOKE_TOKENS_ON_LOGOUT" in user_settings():
            return self.config.revoke_tokens_on_logout
        return self.revoke_by_default and self.config.revoke_tokens_on_logout

    def logout_method(self, url: str) -> str:
        """``"GET"`` (a redirect) or ``"POST"`` (a form the browser submits) for this request.

        ``LOGOUT_METHOD`` may force either; ``"auto"`` uses POST only when the GET URL would be
        longer than :data:`MAX_LOGOUT_URL` (a large ``id_token_hint``; browsers, proxies and
        servers cut URLs around 8 kB) and the provider takes POST.
        """
        method = self.config.logout_method.upper()
        if method == "POST" and not self.accepts_logout_post:
            logger.warning("stage=logout provider=%s LOGOUT_METHOD is POST but this provider's "
                           "end-session endpoint takes GET only: sending GET", self.name)
            return "GET"
        if method in {"GET", "POST"}:
            return method
        return "POST" if len(url) > MAX_LOGOUT_URL and self.accepts_logout_post else "GET"

    def logout_params(self, context: LogoutContext) -> dict[str, str]:
        """Query parameters of the end-session request."""
        params = dict(self.config.logout_params)
        if self.sends_id_token_hint and context.id_token:
            params["id_token_hint"] = context.id_token
        elif self.needs_id_token_hint_to_return:
            logger.warning("stage=logout provider=%s no ID token in the session: the provider "
                           "will not send the user back and they will stay on its page",
                           self.name)
        if (self.accepts_access_token_hint and self.config.send_access_token_hint
                and context.access_token):
            params["access_token_hint"] = context.access_token
        if self.sends_client_id:
            params["client_id"] = self.config.client_id
        params[self.redirect_param] = context.post_logout_redirect_uri
        if context.state is not None and self.sends_state:
            params["state"] = context.state
        return params
