"""Turning an :class:`IdPLogoutError` into a page a person can act on and a log line support
can use.

The page shows a translated title and message chosen by the error's code (and stage), what
the user can do next, and a short reference id; never the provider's text (unless
``SHOW_ERROR_DESCRIPTION`` is on *and* ``DEBUG``). The log record, on the
``django_idp_logout`` logger at the level :func:`level_for` picks (who has to act), has the
stage, provider, code, reference id and the provider's ``error_description`` / ``error_uri``
with control characters removed and length capped.
Tokens, codes and secrets are never passed to either.
"""

from __future__ import annotations

import logging
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy as _

from .conf import get_config
from .exceptions import USER_CHOICE_CODES, IdPLogoutError, ProviderUnavailable, TokenError
from .http import add_query
from .signals import login_failed

logger = logging.getLogger("django_idp_logout")

#: Longest provider-supplied text written to a log record.
MAX_LOGGED_TEXT = 300


@dataclass(frozen=True)
class Explanation:
    """What the user is told about one error code."""

    title: Any
    message: Any
    #: Offer "try again"; ``"interactive"`` retries without ``prompt=none``.
    retry: bool | str = True


_FAILED = _("Sign-in failed")
_SETUP = _("Sign-in is not available")
_PROVIDER = _("Sign-in service unavailable")
_UNVERIFIED = _("Sign-in could not be verified")

#: Keyed by ``"stage:code"`` first, then ``code``, then ``"stage:*"``.
EXPLANATIONS: dict[str, Explanation] = {
    # Our own checks on the callback.
    "login_expired": Explanation(_("Your sign-in expired"), _(
        "This sign-in link was already used or is too old. Please start again.")),
    "incomplete_callback": Explanation(_("This sign-in link is incomplete"), _(
        "This address is missing what your identity provider adds when it sends you back "
        "here. If you copied the link, copy all of it; otherwise start the sign-in again.")),
    "invalid_callback": Explanation(_FAILED, _(
        "The answer from the sign-in service was incomplete. Please start again.")),
    "authorize:invalid_issuer": Explanation(_FAILED, _(
        "The answer did not come from the expected sign-in service, so it was ignored. "
        "Please start again.")),
    "wrong_provider": Explanation(_FAILED, _(
        "The answer came back to another sign-in service's address, so it was ignored. "
        "Please start again.")),
    "login_refused": Explanation(_("You cannot sign in here"), _(
        "Your account was recognised, but it is not allowed to use this site. Contact the "
        "site's administrators if you think this is a mistake."), retry=False),
    # OpenID Connect Core 3.1.2.6 and RFC 6749 4.1.2.1, from the authorization endpoint.
    "access_denied": Explanation(_("Sign-in cancelled"), _(
        "You cancelled the sign-in, or did not allow this site to use your account. "
        "Nothing has changed; you can sign in again whenever you like.")),
    "login_required": Explanation(_("Please sign in"), _(
        "You are not signed in at your identity provider yet. Sign in to continue."),
        retry="interactive"),
    "interaction_required": Explanation(_("Please sign in"), _(
        "Your identity provider needs you to confirm something before you can continue."),
        retry="interactive"),
    "consent_required": Explanation(_("Permission needed"), _(
        "Your identity provider needs your permission before this site can sign you in."),
        retry="interactive"),
    "account_selection_required": Explanation(_("Choose an account"), _(
        "Your identity provider needs you to choose which account to use."),
        retry="interactive"),
    "invalid_request": Explanation(_SETUP, _(
        "The sign-in request was refused by your identity provider. Please contact the site's "
        "administrators and quote the reference below."), retry=False),
    "unauthorized_client": Explanation(_SETUP, _(
        "This site is not allowed to sign you in this way. Please contact the site's "
        "administrators and quote the reference below."), retry=False),
    "unsupported_response_type": Explanation(_SETUP, _(
        "Your identity provider does not support the kind of sign-in this site uses. Please "
        "contact the site's administrators and quote the reference below."), retry=False),
    "invalid_scope": Explanation(_SETUP, _(
        "This site asked for information your identity provider will not share. Please "
        "contact the site's administrators and quote the reference below."), retry=False),
    "invalid_request_uri": Explanation(_SETUP, _(
        "Your identity provider could not load this site's sign-in request. Please contact "
        "the site's administrators and quote the reference below."), retry=False),
    "invalid_request_object": Explanation(_SETUP, _(
        "Your identity provider rejected this site's signed sign-in request. Please contact "
        "the site's administrators and quote the reference below."), retry=False),
    "request_not_supported": Explanation(_SETUP, _(
        "Your identity provider does not accept signed sign-in requests. Please contact the "
        "site's administrators and quote the reference below."), retry=False),
    "request_uri_not_supported": Explanation(_SETUP, _(
        "Your identity provider does not accept sign-in requests by reference. Please contact "
        "the site's administrators and quote the reference below."), retry=False),
    "registration_not_supported": Explanation(_SETUP, _(
        "Your identity provider does not accept this site's registration data. Please contact "
        "the site's administrators and quote the reference below."), retry=False),
    "server_error": Explanation(_PROVIDER, _(
        "Your identity provider had an unexpected problem. Please try again in a few "
        "minutes.")),
    "temporarily_unavailable": Explanation(_PROVIDER, _(
        "Your identity provider is busy or down for maintenance. Please try again in a few "
        "minutes.")),
    "authorize:unknown_error": Explanation(_FAILED, _(
        "Your identity provider could not sign you in. Please try again; if it keeps "
        "happening, contact the site's administrators and quote the reference below.")),
    # RFC 6749 5.2, from the token endpoint.
    "token:invalid_grant": Explanation(_("Your sign-in expired"), _(
        "This sign-in could not be completed: it took too long or was already used. "
        "Please start again.")),
    "token:invalid_client": Explanation(_SETUP, _(
        "This site could not prove its identity to your identity provider. Please contact the "
        "site's administrators and quote the reference below."), retry=False),
    "token:unsupported_grant_type": Explanation(_SETUP, _(
        "Your identity provider does not allow this site's kind of sign-in. Please contact "
        "the site's administrators and quote the reference below."), retry=False),
    "token:*": Explanation(_FAILED, _(
        "Your identity provider refused to complete the sign-in. Please try again; if it "
        "keeps happening, contact the site's administrators and quote the reference below.")),
    # The provider could not be reached or answered garbage.
    "provider_timeout": Explanation(_PROVIDER, _(
        "The sign-in service did not answer in time. Please try again in a few minutes.")),
    "provider_unavailable": Explanation(_PROVIDER, _(
        "The sign-in service cannot be reached right now. Please try again in a few "
        "minutes.")),
    "provider_bad_response": Explanation(_PROVIDER, _(
        "The sign-in service answered in a way we cannot accept. Please try again later.")),
    # The provider's metadata cannot be used safely: an operator must fix it, retrying won't.
    "discovery_issuer_mismatch": Explanation(_SETUP, _(
        "The sign-in service is not configured correctly for this site. Please contact the "
        "site's administrators and quote the reference below."), retry=False),
    # A plain-http endpoint in the discovery document (or ENDPOINTS) while ISSUER is https.
    "insecure_endpoint": Explanation(_SETUP, _(
        "The sign-in service is not set up securely for this site, so it was not used. "
        "Please contact the site's administrators and quote the reference below."),
        retry=False),
    # This site's database failed during sign-in (503); every write was rolled back.
    "database_unavailable": Explanation(_("The site is busy"), _(
        "This site could not finish signing you in right now. Please try again in a moment.")),
    # The ID token did not assert one of the acr_values the site requires (e.g. no second
    # factor): an interactive retry lets the user complete the stronger sign-in.
    "id_token:invalid_acr": Explanation(_("Stronger sign-in required"), _(
        "This site requires a stronger sign-in, for example with a second factor, and your "
        "identity provider did not confirm one. Please sign in again and complete every step "
        "your identity provider asks for."), retry="interactive"),
    # The ID token or UserInfo failed validation.
    "id_token:*": Explanation(_UNVERIFIED, _(
        "The answer from your identity provider could not be verified, so you were not "
        "signed in. Please try again; if it keeps happening, contact the site's administrators "
        "and quote the reference below.")),
    # Renewing a signed-in user's access token (the session goes on).
    "refresh:*": Explanation(_PROVIDER, _(
        "Your identity provider could not renew your access right now. Please try again in a "
        "few minutes; if it keeps happening, contact the site's administrators and quote the "
        "reference below."), retry=False),
    "userinfo:*": Explanation(_UNVERIFIED, _(
        "Your profile from the identity provider could not be verified, so you were not "
        "signed in. Please try again later.")),
}
DEFAULT_EXPLANATION = Explanation(_FAILED, _(
    "Something went wrong with this sign-in. Please try again; if it keeps happening, contact "
    "the site's administrators and quote the reference below."))


def explain(exc: IdPLogoutError) -> Explanation:
    for key in (f"{exc.stage}:{exc.code}", exc.code, f"{exc.stage}:*"):
        if key in EXPLANATIONS:
            return EXPLANATIONS[key]
    return DEFAULT_EXPLANATION


def sanitize(value: Any, limit: int = MAX_LOGGED_TEXT) -> str:
    """Provider text made safe for one log line: control characters gone, length capped."""
    text = str(value)[: limit * 4]
    text = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text)
    return text[:limit] + ("…" if len(text) > limit else "")


def new_reference() -> str:
    """A short id the user can quote and support can grep for."""
    return secrets.token_hex(4).upper()


#: OAuth codes that need an operator: the provider failing, or our client's registration or
#: configuration refused by it. Logged at ERROR.
OPERATOR_CODES = frozenset({
    "server_error", "temporarily_unavailable", "invalid_client", "unauthorized_client",
    "unsupported_grant_type", "unsupported_response_type", "invalid_scope",
    "database_unavailable",
})
#: Codes that are the user's own doing (cancelled, must sign in interactively, opened a
#: bookmarked callback/ address): INFO.
USER_CODES = USER_CHOICE_CODES | {"incomplete_callback"}


def level_for(exc: IdPLogoutError) -> int:
    """The log level that matches who must act on ``exc``.

    ERROR: the provider is down, slow or answering garbage (discovery, JWKS, token, UserInfo,
    revocation), or refuses our client (configuration). WARNING: a token or request was
    rejected. INFO: the user cancelled or must interact.
    """
    if isinstance(exc, ProviderUnavailable) or exc.code in OPERATOR_CODES:
        return logging.ERROR
    if isinstance(exc, TokenError) and exc.code != "invalid_grant":
        return logging.ERROR  # the provider refused our server's own request
    if exc.code in USER_CODES:
        return logging.INFO
    return logging.WARNING


def log_failure(exc: IdPLogoutError, reference: str, *, level: int | None = None) -> None:
    """One record per failure, at :func:`level_for` unless ``level`` says otherwise.

    Never pass tokens, codes or secrets in ``exc.detail``.
    """
    logger.log(
        level_for(exc) if level is None else level,
        "stage=%s provider=%s code=%s reference=%s status=%s detail=%s "
        "error_description=%s error_uri=%s",
        exc.stage, get_config().provider, exc.code, reference, exc.status,
        sanitize(exc.detail),
        sanitize(exc.description) if exc.description is not None else "-",
        sanitize(exc.error_uri, 200) if exc.error_uri is not None else "-",
        extra={"idp_stage": exc.stage, "idp_code": exc.code, "idp_reference": reference},
    )


def render_failure(request: HttpRequest, exc: IdPLogoutError, *, sender: Any,
                   retry_url: str | None = None, sign_in: bool = True) -> HttpResponse:
    """Log, signal, then render ``ERROR_TEMPLATE`` (or redirect to ``FAILURE_REDIRECT_URL``).

    ``sign_in=False`` (a failure while renewing a signed-in user's token): no
    ``login_failed`` signal and no ``FAILURE_REDIRECT_URL``, which are about signing in.

    ``retry_url`` is the sign-in URL with the attempt's ``next``; it is offered only where
    trying again can help, and for codes that need the user's interaction it asks for an
    interactive sign-in so that ``prompt=none`` cannot loop.
    """
    config = get_config()
    reference = new_reference()
    log_failure(exc, reference)
    if sign_in:
        login_failed.send(sender=sender, request=request, code=exc.code, stage=exc.stage,
                          reference=reference)
    if config.failure_redirect_url and sign_in:
        return HttpResponseRedirect(add_query(config.failure_redirect_url,
                                              {"error": exc.code, "reference": reference}))
    explanation = explain(exc)
    if retry_url and explanation.retry == "interactive":
        retry_url = add_query(retry_url, {"interactive": "1"})
    context = {
        "title": explanation.title,
        "message": explanation.message,
        "code": exc.code,
        "stage": exc.stage,
        "reference": reference,
        "retry_url": retry_url if explanation.retry else None,
        "status": exc.status,
        "description": (sanitize(exc.description) if exc.description is not None
                        and config.show_error_description and settings.DEBUG else None),
    }
    response = HttpResponse(render_to_string(config.error_template, context, request),
                            status=exc.status)
    response["Cache-Control"] = "no-store"
    return response
