"""cidaas.

Per ``cidaas-end-session.txt``: ``<issuer>/session/end_session`` with ``id_token_hint``
(without it cidaas ignores ``post_logout_redirect_uri`` and the user stays on its page),
``post_logout_redirect_uri`` and ``state``. ``access_token_hint`` is accepted, but sent only
with ``SEND_ACCESS_TOKEN_HINT`` because a token in a URL leaks into logs and history.
"""

from __future__ import annotations

from ..discovery import ProviderMetadata
from .base import Provider


class CidaasProvider(Provider):
    name = "cidaas"
    display_name = "cidaas"
    accepts_logout_post = False  # the vendor document shows GET only
    sends_client_id = False
    accepts_access_token_hint = True
    needs_id_token_hint_to_return = True

    def end_session_endpoint(self, metadata: ProviderMetadata) -> str | None:
        return metadata.endpoint("end_session_endpoint") or (
            self.config.issuer.rstrip("/") + "/session/end_session")
