"""Amazon Cognito user pools.

``ISSUER`` is ``https://cognito-idp.<region>.amazonaws.com/<poolId>`` (tokens and discovery),
but sign-in, logout and revocation live on the pool's hosted-UI domain, which is taken from
discovery's ``authorization_endpoint`` (``ENDPOINTS["end_session_endpoint"]`` overrides it).
Logout is ``https://<domain>/logout`` with ``client_id`` and ``logout_uri`` (one of the app
client's "Allowed sign-out URLs"), GET only: Cognito knows no ``post_logout_redirect_uri``
("Required String parameter 'redirect_uri' is not present") nor ``id_token_hint``, and
returns no ``state`` — the user lands on ``POST_LOGOUT_REDIRECT_URL``. Refresh tokens come
with every code flow sign-in and are revoked at ``https://<domain>/oauth2/revoke``. Sources:
``notes/vendor-research/cognito.md``.
"""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit

from ..discovery import ProviderMetadata
from .base import Provider


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


class CognitoProvider(Provider):
    name = "cognito"
    display_name = "Amazon Cognito"
    redirect_param = "logout_uri"
    sends_id_token_hint = False
    sends_state = False
    accepts_logout_post = False
    refresh_token_scopes: ClassVar[tuple[str, ...]] = ()
    revocable_tokens: ClassVar[tuple[str, ...]] = ("refresh_token",)  # /oauth2/revoke

    def _hosted_ui(self, metadata: ProviderMetadata) -> str | None:
        return _origin(metadata.endpoint("authorization_endpoint"))

    def end_session_endpoint(self, metadata: ProviderMetadata) -> str | None:
        if self.config.endpoints.get("end_session_endpoint"):
            return metadata.endpoint("end_session_endpoint")
        hosted_ui = self._hosted_ui(metadata)
        return f"{hosted_ui}/logout" if hosted_ui else None

    def revocation_endpoint(self, metadata: ProviderMetadata) -> str | None:
        hosted_ui = self._hosted_ui(metadata)
        return metadata.endpoint("revocation_endpoint") or (
            f"{hosted_ui}/oauth2/revoke" if hosted_ui else None)
