"""OpenID Connect login and logout for Django that ends the session at the provider too.

Importing this package reads no settings and touches no network: everything happens in
``apps.IdPLogoutConfig.ready()`` and at request time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.http import HttpRequest

__version__ = "0.1.0"
__all__ = ["__version__", "get_access_token"]


def get_access_token(request: HttpRequest) -> str:
    """A valid access token for the signed-in user, to call an API on their behalf.

    When the token expires within ``TOKEN_RENEW_MARGIN`` seconds (default 60) it is renewed
    first with the refresh token — one refresh request per session however many requests ask
    at once, in any thread or process. A valid token costs no query and no request.

    Raises :class:`~django_idp_logout.exceptions.ReauthenticationRequired` (with ``reason``)
    when no valid token can be had: not signed in through the provider, no refresh token, the
    refresh refused (the session then ends). With the provider down it raises
    :class:`~django_idp_logout.exceptions.ProviderUnavailable` and the session goes on. Left
    uncaught, either becomes the right answer for the caller (see ``docs/tokens.rst``).
    """
    from .conf import using_provider  # no settings or network at import time
    from .flow.renewal import access_token
    from .session import request_provider

    with using_provider(request_provider(request)):  # the provider the session signed in with
        return access_token(request)
