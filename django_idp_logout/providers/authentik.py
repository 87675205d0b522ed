"""authentik.

``ISSUER`` is the application's: ``https://<host>/application/o/<app-slug>/``. Logout at
discovery's per-application ``end_session_endpoint`` (``…/application/o/<app-slug>/end-session/``)
with ``id_token_hint``, ``post_logout_redirect_uri`` and ``state``; from 2026.5 authentik
redirects only with the hint and a Redirect URI of type "post logout" (older versions ignore
the parameters). ``client_id`` is not read. Revocation at ``/application/o/revoke/``. Without a
signing key authentik signs with HS256 and the client secret: select a key, or list
``HS256`` in ``ALGORITHMS``. Sources: ``notes/vendor-research/authentik.md``.
"""

from __future__ import annotations

from .base import Provider


class AuthentikProvider(Provider):
    name = "authentik"
    display_name = "authentik"
    sends_client_id = False
    needs_id_token_hint_to_return = True
