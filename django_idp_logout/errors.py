"""Turning an :class:`IdPLogoutError` into a page a person can act on and a log line support
can use.

The page shows a translated message chosen by the error's code, what the user can do next,
and a short reference id; never the provider's text (unless ``SHOW_ERROR_DESCRIPTION`` in
DEBUG). The log record, on the ``django_idp_logout`` logger, has the stage, provider, code,
reference id and the provider's ``error_description`` / ``error_uri`` with control characters
removed and length capped. Tokens, codes and secrets are never passed to either.
"""

from __future__ import annotations

import logging
import secrets
import unicodedata
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _

from .conf import get_config
from .exceptions import IdPLogoutError
from .signals import login_failed

logger = logging.getLogger("django_idp_logout")

#: Longest provider-supplied text written to a log record.
MAX_LOGGED_TEXT = 300

TITLES: dict[str, Any] = {
    "login_expired": _("Your sign-in expired"),
    "access_denied": _("Sign-in cancelled"),
    "login_refused": _("You cannot sign in here"),
}

#: User-facing message per error code. Codes not listed fall back on the status class.
MESSAGES: dict[str, Any] = {
    "login_expired": _("This sign-in link was already used or is too old. Please start again."),
    "invalid_callback": _("The sign-in response was incomplete. Please start again."),
    "access_denied": _("You cancelled the sign-in, or did not allow this site to use your "
                       "account. You can try again whenever you like."),
    "login_refused": _("Your account was recognised, but it is not allowed to use this site. "
                       "Contact the site's administrators if you think this is a mistake."),
    "provider_unavailable": _("The sign-in service cannot be reached right now. "
                              "Please try again in a few minutes."),
    "provider_timeout": _("The sign-in service did not answer in time. "
                          "Please try again in a few minutes."),
}
DEFAULT_MESSAGES: dict[int, Any] = {
    4: _("Something went wrong with this sign-in. Please start again."),
    5: _("The sign-in service answered in a way we cannot accept. Please try again later; "
         "if it keeps happening, contact the site's administrators."),
}


def sanitize(value: Any, limit: int = MAX_LOGGED_TEXT) -> str:
    """Provider text made safe for one log line: control characters gone, length capped."""
    text = str(value)
    text = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text[: limit * 4])
    return text[:limit] + ("…" if len(text) > limit else "")


def new_reference() -> str:
    """A short id the user can quote and support can grep for."""
    return secrets.token_hex(4).upper()


def log_failure(exc: IdPLogoutError, reference: str, *, level: int = logging.WARNING) -> None:
    config = get_config()
    logger.log(
        level,
        "stage=%s provider=%s code=%s reference=%s status=%s detail=%s "
        "error_description=%s error_uri=%s",
        exc.stage, config.provider, exc.code, reference, exc.status, sanitize(exc.detail),
        sanitize(exc.description) if exc.description is not None else "-",
        sanitize(exc.error_uri, 200) if exc.error_uri is not None else "-",
        extra={"idp_stage": exc.stage, "idp_code": exc.code, "idp_reference": reference},
    )


def render_failure(request: HttpRequest, exc: IdPLogoutError, *, sender: Any,
                   retry_url: str | None = None) -> HttpResponse:
    """Log, signal, and render ``django_idp_logout/error.html`` with the error's status."""
    reference = new_reference()
    log_failure(exc, reference)
    login_failed.send(sender=sender, request=request, code=exc.code, stage=exc.stage,
                      reference=reference)
    message = MESSAGES.get(exc.code) or DEFAULT_MESSAGES[4 if exc.status < 500 else 5]
    context = {
        "title": TITLES.get(exc.code, _("Sign-in failed")),
        "message": message,
        "code": exc.code,
        "reference": reference,
        "retry_url": retry_url,
        "status": exc.status,
    }
    response = HttpResponse(render_to_string("django_idp_logout/error.html", context, request),
                            status=exc.status)
    response["Cache-Control"] = "no-store"
    return response
