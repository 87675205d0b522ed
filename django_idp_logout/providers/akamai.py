"""Akamai Identity Cloud Hosted Login.

Per ``akamai-hosted-login-logout.txt``: ``ISSUER`` is ``https://<host>/<customerId>/login``;
logout is ``https://<host>/<customerId>/auth-ui/logout`` with ``client_id`` (required),
``redirect_uri`` (not ``post_logout_redirect_uri``; it must be one of the client's
``redirectURIs``) and ``state``. That endpoint ends the Hosted Login session but does not
invalidate tokens, so they are revoked first, at the discovery document's
``revocation_endpoint`` or else ``https://<host>/<customerId>/token/revoke``.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from ..discovery import ProviderMetadata
from .base import Provider


class AkamaiProvider(Provider):
    name = "akamai"
    display_name = "Akamai Identity Cloud (Hosted Login)"
    accepts_logout_post = False  # the vendor document shows GET only
    redirect_param = "redirect_uri"
    sends_id_token_hint = False
    revokes_tokens = True

    def customer_base(self) -> str:
        """``https://<host>/<customerId>`` from ``https://<host>/<customerId>/login``."""
        parts = urlsplit(self.config.issuer)
        path = parts.path.rstrip("/")
        if path.endswith("/login"):
            path = path[: -len("/login")]
        return urlunsplit((parts.scheme, parts.netloc, path, "", ""))

    def end_session_endpoint(self, metadata: ProviderMetadata) -> str | None:
        return f"{self.customer_base()}/auth-ui/logout"

    def revocation_endpoint(self, metadata: ProviderMetadata) -> str | None:
        return metadata.endpoint("revocation_endpoint") or f"{self.customer_base()}/token/revoke"
