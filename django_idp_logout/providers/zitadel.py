"""ZITADEL.

``ISSUER`` is the instance (``https://<instance>.zitadel.cloud`` or a custom domain). Logout
at discovery's ``end_session_endpoint`` (``<issuer>/oidc/v1/end_session``): ZITADEL ignores
``post_logout_redirect_uri`` unless ``id_token_hint`` or ``client_id`` is sent — both are,
and they match. Revocation at ``<issuer>/oauth/v2/revoke``. Sources:
``notes/vendor-research/zitadel.md``.
"""

from __future__ import annotations

from .base import Provider


class ZitadelProvider(Provider):
    name = "zitadel"
    display_name = "ZITADEL"
    # ID tokens list the project and its other applications in aud, with azp = this client.
    audiences_trusted_with_azp = True
