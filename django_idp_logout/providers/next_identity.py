"""Next Identity.

Per ``next-identity-endsession.txt``: ``<base>/endsession`` with ``post_logout_redirect_uri``
and ``client_id`` (both required) and ``state`` (documented as optional but "required on
every call"; always sent). The return may carry ``logout`` and ``state``. A wrong
``client_id`` gets a 403 from the provider. ``<base>`` is the issuer's origin unless discovery
names an ``end_session_endpoint``.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from ..discovery import ProviderMetadata
from .base import Provider


class NextIdentityProvider(Provider):
    name = "next_identity"
    display_name = "Next Identity"
    accepts_logout_post = False  # the vendor document shows GET only
    sends_id_token_hint = False

    def end_session_endpoint(self, metadata: ProviderMetadata) -> str | None:
        discovered = metadata.endpoint("end_session_endpoint")
        if discovered:
            return discovered
        parts = urlsplit(self.config.issuer)
        return urlunsplit((parts.scheme, parts.netloc, "/endsession", "", ""))
