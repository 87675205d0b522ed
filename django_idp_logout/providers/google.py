"""Google.

``ISSUER`` is ``https://accounts.google.com``. Google has no end-session endpoint: sign-out
here is local, and a page says the Google account stays signed in. Revocation
(``https://oauth2.googleapis.com/revoke``) is off by default: it removes the user's whole
grant to the project (every client), so the next sign-in asks for consent again — set
``REVOKE_TOKENS_ON_LOGOUT = True`` to want that. Refresh tokens need ``access_type=offline``
(and, to get one again, ``prompt=consent``), not ``offline_access``. Sources:
``notes/vendor-research/google.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from ..discovery import ProviderMetadata
from .base import Provider


class GoogleProvider(Provider):
    name = "google"
    display_name = "Google"
    revoke_by_default = False
    keeps_provider_session = True
    # "The value of iss in the ID token is equal to accounts.google.com or
    # https://accounts.google.com" (Google's OpenID Connect page).
    alternative_issuers: ClassVar[tuple[str, ...]] = ("accounts.google.com",)
    refresh_token_scopes: ClassVar[tuple[str, ...]] = ()
    refresh_token_params: ClassVar[Mapping[str, str]] = {"access_type": "offline",
                                                         "prompt": "consent"}

    def end_session_endpoint(self, metadata: ProviderMetadata) -> str | None:
        # Google has none: the local logout is all there is, unless ENDPOINTS names one.
        if "end_session_endpoint" not in self.config.endpoints:
            return None
        return metadata.endpoint("end_session_endpoint")
