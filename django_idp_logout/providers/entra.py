"""Microsoft Entra ID (v2.0 endpoints).

``ISSUER`` is ``https://login.microsoftonline.com/<tenant-id>/v2.0``, or for a multi-tenant app
``…/organizations/v2.0`` or ``…/common/v2.0``: their discovery document's
``issuer`` is ``https://login.microsoftonline.com/{tenantid}/v2.0``, and each token's ``iss``
must equal it with the token's own ``tid`` (a GUID) in place of ``{tenantid}`` — the issuer is
checked per tenant, never skipped (``tenant_issuers``). Users are matched by
``(issuer, sub)``, so the same person in two tenants is two identities.

Logout at discovery's ``end_session_endpoint`` (``…/oauth2/v2.0/logout``) with
``post_logout_redirect_uri`` (one of the app's redirect URIs), ``state``, and ``logout_hint``
— the ID token's optional ``login_hint`` claim, when the app registration adds it — which
skips the account picker. ``id_token_hint`` is for Azure AD B2C only and not sent. Entra ID
has no RFC 7009 revocation endpoint (only Microsoft Graph's ``revokeSignInSessions``, which
ends every session of the user): nothing is revoked. Sources:
``notes/vendor-research/entra-id.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import tenants
from ..discovery import ProviderMetadata
from .base import LogoutContext, Provider


class EntraProvider(Provider):
    name = "entra"
    display_name = "Microsoft Entra ID"
    sends_id_token_hint = False
    sends_client_id = False
    tenant_issuers = True

    def logout_params(self, context: LogoutContext) -> dict[str, str]:
        params = super().logout_params(context)
        hint = context.claims.get("login_hint")
        if isinstance(hint, str) and hint and "logout_hint" not in params:
            params["logout_hint"] = hint
        return params

    def access_token_issuers(self, claims: Mapping[str, Any]) -> tuple[str, ...]:
        """A v1.0 access token (``ver`` ``1.0``: an API registered without
        ``requestedAccessTokenVersion: 2``) is issued by ``https://sts.windows.net/<tid>/``:
        accepted for the configured tenant (any tenant for ``organizations``/``common``)."""
        tid = claims.get("tid")
        if claims.get("ver") == "1.0" and isinstance(tid, str) and tenants.serves_tenant(
                self.config.issuer, tid):
            return (f"https://sts.windows.net/{tid}/",)
        return ()

    def revocation_endpoint(self, metadata: ProviderMetadata) -> str | None:
        # None exists (unless ENDPOINTS names one): Graph's revokeSignInSessions is not RFC 7009.
        if "revocation_endpoint" not in self.config.endpoints:
            return None
        return metadata.endpoint("revocation_endpoint")
