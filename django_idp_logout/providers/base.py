"""What every provider profile shares.

A profile is a class that is mostly data: what it needs from the provider, and how it spells
the requests it sends. The login side is the same for every OpenID Connect provider, so the
base class implements it from :class:`~django_idp_logout.conf.IdPConfig` and the discovery
document; vendor profiles override data attributes, and a method only where a URL is shaped
differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from ..conf import IdPConfig
from ..discovery import ProviderMetadata

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

    def __init__(self, config: IdPConfig) -> None:
        self.config = config

    def authorization_params(
        self, *, metadata: ProviderMetadata, redirect_uri: str, state: str, nonce: str,
        code_challenge: str,
    ) -> dict[str, str]:
        """Query parameters of the authorization request."""
        params = {
            key: value for key, value in self.config.auth_params.items()
            if key not in RESERVED_AUTH_PARAMS
        }
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
        scopes = list(dict.fromkeys(self.config.scopes))
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

    def max_age(self) -> int | None:
        """``max_age`` sent in ``AUTH_PARAMS``, which makes ``auth_time`` mandatory."""
        value = self.config.auth_params.get("max_age")
        return int(value) if value is not None and str(value).isdigit() else None

    @classmethod
    def describe(cls) -> Mapping[str, str]:
        return {"name": cls.name, "display_name": cls.display_name}
