"""A provider profile bound to the provider's metadata: every request the flow sends to it.

A profile (:class:`~django_idp_logout.providers.base.Provider`) is mostly data and rules; the
metadata says where the endpoints are. Bound together they answer, without anybody else
reaching into either: the authorization URL, the token, UserInfo and revocation requests, and
the end-session request in the provider's dialect (GET redirect or POST binding).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from mozilla_django_oidc.utils import generate_code_challenge

from .. import client
from ..client import ClientAuth, TokenResponse
from ..discovery import ProviderMetadata, get_metadata
from ..exceptions import ProviderUnavailable
from ..http import add_query
from .base import LogoutContext, Provider


@dataclass(frozen=True)
class EndSessionRequest:
    """Where and how to send the browser to end the provider session."""

    #: ``"GET"`` (a redirect to :attr:`url`) or ``"POST"`` (a form to :attr:`endpoint`).
    method: str
    endpoint: str
    params: Mapping[str, str] = field(repr=False)

    @property
    def url(self) -> str:
        """The GET binding's URL (the endpoint with the parameters in its query)."""
        return add_query(self.endpoint, dict(self.params))


class BoundProvider:
    """A profile and the metadata it talks to."""

    def __init__(self, profile: Provider, metadata: ProviderMetadata) -> None:
        self.profile = profile
        self.metadata = metadata

    @classmethod
    def discover(cls, profile: Provider) -> BoundProvider:
        """Bind to the (cached) discovery document; raises ``ProviderUnavailable``."""
        return cls(profile, get_metadata())

    @property
    def name(self) -> str:
        return self.profile.name

    def authorization_url(self, *, redirect_uri: str, state: str, nonce: str,
                          code_verifier: str, interactive: bool = False, silent: bool = False
                          ) -> str:
        params = self.profile.authorization_params(
            metadata=self.metadata, redirect_uri=redirect_uri, state=state, nonce=nonce,
            code_challenge=generate_code_challenge(code_verifier, "S256"),
            interactive=interactive, silent=silent)
        return add_query(self.metadata.authorization_endpoint, params)

    def exchange_code(self, *, code: str, code_verifier: str, redirect_uri: str
                      ) -> TokenResponse:
        return client.exchange_code(
            self.metadata.token_endpoint, self.profile.client_authentication(self.metadata),
            code=code, code_verifier=code_verifier, redirect_uri=redirect_uri)

    def refresh(self, *, refresh_token: str, params: Mapping[str, str] | None = None
                ) -> TokenResponse:
        return client.refresh(
            self.metadata.token_endpoint, self.profile.client_authentication(self.metadata),
            refresh_token=refresh_token, params=params)

    def userinfo(self, *, access_token: str, subject: str) -> dict[str, Any]:
        return client.fetch_userinfo(self.metadata.endpoint("userinfo_endpoint"),
                                     access_token=access_token, subject=subject)

    @property
    def revocation_endpoint(self) -> str | None:
        return self.profile.revocation_endpoint(self.metadata)

    def revoke(self, endpoint: str, *, token: str, token_type_hint: str) -> None:
        auth = self.profile.client_authentication(self.metadata)
        if self.profile.revocation_form_client_id:
            auth = ClientAuth(auth.headers, {"client_id": self.profile.config.client_id,
                                             **auth.form})
        client.revoke_token(endpoint, auth, token=token, token_type_hint=token_type_hint)

    def introspect(self, token: str) -> dict[str, Any]:
        """RFC 7662 at the provider's ``introspection_endpoint`` (:class:`ProviderUnavailable`
        when it has none)."""
        endpoint = self.metadata.endpoint("introspection_endpoint")
        if endpoint is None:
            raise ProviderUnavailable("the provider has no introspection endpoint",
                                      code="provider_bad_response", stage="introspection")
        return client.introspect_token(endpoint, self.profile.client_authentication(
            self.metadata), token=token)

    @property
    def end_session_endpoint(self) -> str | None:
        return self.profile.end_session_endpoint(self.metadata)

    def end_session_request(self, context: LogoutContext) -> EndSessionRequest | None:
        """The end-session request for ``context``; ``None`` when the provider has none."""
        endpoint = self.end_session_endpoint
        if endpoint is None:
            return None
        params = self.profile.logout_params(replace(context, endpoint=endpoint))
        method = self.profile.logout_method(add_query(endpoint, params))
        return EndSessionRequest(method=method, endpoint=endpoint, params=params)
