"""Intastellar: RP-initiated logout as OpenID Connect defines it.

Per ``intastellar-logout-and-errors.txt``: clear the application session, then redirect to the
end-session URL with ``id_token_hint``, ``post_logout_redirect_uri`` and ``client_id``, then
land on a public page. The end-session endpoint comes from discovery.
"""

from __future__ import annotations

from .base import Provider


class IntastellarProvider(Provider):
    name = "intastellar"
    display_name = "Intastellar"
