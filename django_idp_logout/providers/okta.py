"""Okta (org or custom authorization server).

``ISSUER`` is ``https://<org>.okta.com`` (org authorization server) or
``https://<org>.okta.com/oauth2/<authorizationServerId>`` (custom, e.g. ``default``). Logout at
discovery's ``end_session_endpoint`` (``…/v1/logout``) with ``id_token_hint`` (required; Okta
accepts an expired one whose user matches the session, so the newest one kept is always
fine), ``post_logout_redirect_uri`` and ``state``; GET or form POST, as a browser navigation.
Revocation at ``…/v1/revoke`` (revoking a refresh token revokes its access tokens too).
Sources: ``notes/vendor-research/okta.md``.
"""

from __future__ import annotations

from .base import Provider


class OktaProvider(Provider):
    name = "okta"
    display_name = "Okta"
    sends_client_id = False  # not a parameter of /v1/logout
    needs_id_token_hint_to_return = True
