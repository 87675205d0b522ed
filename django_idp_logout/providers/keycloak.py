"""Keycloak (18 and later).

``ISSUER`` is the realm: ``https://<host>/realms/<realm>``. Everything comes from discovery:
RP-Initiated Logout at ``<realm>/protocol/openid-connect/logout`` with ``id_token_hint``,
``post_logout_redirect_uri``, ``client_id`` (19+; Keycloak refuses the redirect without it or
the hint, and shows a confirmation page without a hint) and ``state``; ``ui_locales`` through
``LOGOUT_PARAMS``. 18 dropped the old ``redirect_uri`` parameter.

Revocation (``<realm>/protocol/openid-connect/revoke``) is off by default: Keycloak's logout
already ends the session and its refresh tokens, and revoking a refresh token also revokes
the user's consent to the client. Refresh tokens come with every sign-in; ``offline_access``
would create offline sessions, so ``REQUEST_REFRESH_TOKEN`` adds nothing. Sources:
``notes/vendor-research/keycloak.md``.
"""

from __future__ import annotations

from typing import ClassVar

from .base import Provider


class KeycloakProvider(Provider):
    name = "keycloak"
    display_name = "Keycloak"
    revoke_by_default = False
    refresh_token_scopes: ClassVar[tuple[str, ...]] = ()
