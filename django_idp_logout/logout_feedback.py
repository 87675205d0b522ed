"""What the user is told after signing out: "You are signed out", and whether the provider's
session ended too.

The headline feature of the app — the identity provider's session ends with the site's — is
invisible unless someone says so. The outcome is always decided from what the server
verified (the single-use logout ``state``, what :func:`~django_idp_logout.flow.sign_out`
did), never from the return URL's other parameters. With ``django.contrib.messages`` set up
(``startproject``'s default) it becomes a message on the landing page; without it, the page
``django_idp_logout/logged_out.html`` says it and links on. Both texts come from overridable
templates.
"""

from __future__ import annotations

from typing import Literal

from django.apps import apps
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string

from .conf import get_config, provider_names
from .providers import Provider, display_name
from .view_helpers import unframed

#: ``ended``: the provider confirmed it (a verified return); ``failed``: it reported an error
#: or could not be asked; ``unconfirmed``: it returned without a state to verify; ``none``:
#: no provider session was involved (a password sign-in).
ProviderSession = Literal["ended", "failed", "unconfirmed", "none"]

MESSAGE_TEMPLATE = "django_idp_logout/logged_out_message.txt"
PAGE_TEMPLATE = "django_idp_logout/logged_out.html"


def provider_label(name: str | None) -> str | None:
    """The display name of provider ``name`` if it is still configured and has one of its own
    (``DISPLAY_NAME`` or a vendor profile's), else ``None``: the templates then say "your
    identity provider"."""
    if name is None or name not in provider_names():
        return None
    label = display_name(get_config(name))
    return None if label == str(Provider.display_name) else label


def messages_usable(request: HttpRequest) -> bool:
    """``django.contrib.messages`` installed and its middleware on this request."""
    return (apps.is_installed("django.contrib.messages")
            and hasattr(request, "_messages"))


def signed_out_response(request: HttpRequest, target: str, *,
                        provider_session: ProviderSession, provider: str | None,
                        cookies_cleared: bool = False) -> HttpResponse:
    """A redirect to ``target`` carrying the message, or the signed-out page.

    ``cookies_cleared``: the response also clears the site's cookies (``Clear-Site-Data``),
    which would take a cookie-stored message with them — the page is shown instead.
    """
    context = {"next": target, "provider_name": provider_label(provider),
               "provider_session": provider_session}
    if messages_usable(request) and not cookies_cleared:
        text = " ".join(render_to_string(MESSAGE_TEMPLATE, context, request).split())
        level = messages.SUCCESS if provider_session in {"ended", "none"} else messages.WARNING
        messages.add_message(request, level, text, extra_tags="idp-signed-out")
        return HttpResponseRedirect(target)
    return unframed(render(request, PAGE_TEMPLATE, context))
