"""Auth0.

``ISSUER`` is ``https://<tenant>.<region>.auth0.com/`` (or the custom domain), **with** its
trailing slash, exactly as discovery states it. Logout at discovery's
``end_session_endpoint`` (``https://<tenant>/oidc/logout``: ``id_token_hint``,
``post_logout_redirect_uri``, ``client_id``, ``state``) when the tenant publishes it (the
"RP-Initiated Logout End Session Endpoint Discovery" toggle, on for tenants created from
2023-11-14); otherwise the legacy ``https://<tenant>/v2/logout`` with ``returnTo`` and
``client_id`` — which returns no ``state``, so the user lands on
``POST_LOGOUT_REDIRECT_URL``. ``federated`` (also end the upstream identity provider's
session) through ``LOGOUT_PARAMS``. Refresh tokens are revoked at ``https://<tenant>/oauth/revoke``.
Sources: ``notes/vendor-research/auth0.md``.
"""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import urlsplit

from ..discovery import ProviderMetadata
from .base import LogoutContext, Provider

LEGACY_PATH = "v2/logout"


class Auth0Provider(Provider):
    name = "auth0"
    display_name = "Auth0"
    revocable_tokens: ClassVar[tuple[str, ...]] = ("refresh_token",)  # /oauth/revoke
    revocation_form_client_id = True  # /oauth/revoke's documented body has client_id

    def _tenant(self) -> str:
        return self.config.issuer.rstrip("/") + "/"

    def end_session_endpoint(self, metadata: ProviderMetadata) -> str | None:
        return metadata.endpoint("end_session_endpoint") or self._tenant() + LEGACY_PATH

    def revocation_endpoint(self, metadata: ProviderMetadata) -> str | None:
        return metadata.endpoint("revocation_endpoint") or self._tenant() + "oauth/revoke"

    def logout_params(self, context: LogoutContext) -> dict[str, str]:
        if urlsplit(context.endpoint or "").path.rstrip("/") != "/" + LEGACY_PATH:
            return super().logout_params(context)
        # The legacy endpoint: returnTo (checked against the Allowed Logout URLs) and
        # client_id; it knows no id_token_hint and returns no state.
        return {**self.config.logout_params, "client_id": self.config.client_id,
                "returnTo": context.post_logout_redirect_uri}
