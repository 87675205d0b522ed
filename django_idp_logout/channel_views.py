"""Provider-initiated logout receivers: OpenID Connect Back-Channel and Front-Channel Logout.

Both end the sessions found *server-side* by ``(iss, sid)`` (or ``sub``) through the mapping
that sign-in records (:mod:`~django_idp_logout.session`), in whatever session engine the
site uses: browsers block third-party cookies in the provider's front-channel iframe, so the
session whose cookie arrives cannot be relied on.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from django.contrib.auth import get_user_model
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import render
from django.utils.crypto import constant_time_compare
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from . import session as idp_session
from .conf import get_config
from .errors import log_failure, new_reference
from .exceptions import IdPLogoutError, ProviderUnavailable
from .logout_views import local_logout
from .signals import backchannel_logout as backchannel_logout_signal
from .signals import frontchannel_logout as frontchannel_logout_signal
from .state import claim_once
from .tokens import jti_claim_ttl, validate_logout_token
from .view_helpers import login_not_required, no_store

logger = logging.getLogger("django_idp_logout")

#: Largest back-channel request body read (a logout token is a few hundred bytes).
MAX_BACKCHANNEL_BODY = 64 * 1024
#: Longest ``sid`` looked up (the mapping's column).
MAX_SID_LENGTH = 255
#: Seconds a provider should wait before retrying a back-channel logout answered with 503.
RETRY_AFTER = 30


def _backchannel_error(description: str, status: int = 400,
                       error: str = "invalid_request") -> HttpResponse:
    response = no_store(JsonResponse({"error": error, "error_description": description},
                                     status=status))
    if status == 503:
        response["Retry-After"] = str(RETRY_AFTER)
    return response


def _unavailable(description: str) -> HttpResponse:
    return _backchannel_error(description, status=503, error="temporarily_unavailable")


@login_not_required
@csrf_exempt
def backchannel_logout(request: HttpRequest) -> HttpResponse:
    """OpenID Connect Back-Channel Logout 1.0 receiver (server-to-server, so CSRF-exempt).

    200 when the token is valid and its sessions ended (whether or not one matched); 400 with
    a JSON error when it is invalid or replayed; 405 / 415 for the wrong method or content
    type; 503 with ``Retry-After`` when the keys or the database are unavailable. The token's
    ``jti`` is claimed only once its sessions have really ended, so the provider's retry of a
    token that got a 503 works.
    """
    if request.method != "POST":
        return no_store(HttpResponseNotAllowed(["POST"]))
    if request.content_type != "application/x-www-form-urlencoded":
        return _backchannel_error("expected application/x-www-form-urlencoded", status=415)
    try:
        # Django reads at most DATA_UPLOAD_MAX_MEMORY_SIZE; the header itself is not trusted.
        too_large = len(request.body) > MAX_BACKCHANNEL_BODY
    except (ValueError, RequestDataTooBig):
        too_large = True
    if too_large:
        return _backchannel_error("request body too large or malformed")
    tokens = request.POST.getlist("logout_token")
    if len(tokens) != 1:
        return _backchannel_error("exactly one logout_token is required")
    config = get_config()
    try:
        token = validate_logout_token(tokens[0])
    except ProviderUnavailable as exc:
        log_failure(exc, new_reference())
        return _unavailable("the provider's keys are unavailable")
    except IdPLogoutError as exc:
        exc.stage = "backchannel"
        log_failure(exc, new_reference(), level=logging.WARNING)
        return _backchannel_error(f"invalid logout token ({exc.code})")
    try:
        user_ids = idp_session.end_sessions(token.issuer, sid=token.sid, subject=token.subject,
                                            issued_at=token.iat)
        first_use = claim_once("jti", f"{token.issuer}\0{token.jti}", jti_claim_ttl(config),
                               config)
    except DatabaseError:
        logger.exception("stage=backchannel could not end the sessions (database error); "
                         "answering 503 so that the provider retries")
        return _unavailable("sessions could not be ended right now")
    if not first_use:
        logger.warning("stage=backchannel provider=%s code=replayed_token a logout token was "
                       "sent again (its sessions are ended)", config.provider)
        return _backchannel_error("invalid logout token (replayed_token)")
    # Lazy: evaluated only if a signal receiver looks at it.
    users = get_user_model()._default_manager.filter(pk__in={u for u in user_ids if u})
    logger.info("stage=backchannel provider=%s ended %d session(s) (sid given: %s, sub given: "
                "%s)", config.provider, len(user_ids), token.sid is not None,
                token.subject is not None)
    backchannel_logout_signal.send(sender=backchannel_logout, issuer=token.issuer,
                                   sid=token.sid, sub=token.subject, users=users,
                                   sessions=len(user_ids))
    return no_store(HttpResponse(status=200))


@login_not_required
@xframe_options_exempt
@require_GET
def frontchannel_logout(request: HttpRequest) -> HttpResponse:
    """OpenID Connect Front-Channel Logout 1.0 receiver, loaded by the provider in an iframe.

    Acts only when ``iss`` is the provider's and ``sid`` is given: it ends every session the
    mapping has for that ``(iss, sid)`` — so it works when the browser withholds this site's
    cookie from the iframe — and this browser's own session when its ``sid`` matches
    (compared in constant time). Anything else changes nothing. Embeddable only by the
    provider's origin (``frame-ancestors``, for this view only).
    """
    config = get_config()
    iss, sid = request.GET.get("iss"), request.GET.get("sid")
    ended, status, sessions = False, 200, 0
    if (iss == config.issuer and isinstance(sid, str)
            and 0 < len(sid) <= MAX_SID_LENGTH):
        data = idp_session.load(request)
        user = request.user if (data is not None and data.issuer == iss and data.sid
                                and constant_time_compare(sid, data.sid)) else None
        try:
            sessions = len(idp_session.end_sessions(iss, sid=sid, subject=None))
        except DatabaseError:
            logger.exception("stage=frontchannel could not end the sessions (database error)")
            status = 503
        if user is not None:
            local_logout(request)
        ended = bool(sessions) or user is not None
        if ended:
            frontchannel_logout_signal.send(sender=frontchannel_logout, request=request,
                                            issuer=iss, sid=sid, user=user, sessions=sessions)
    if not ended:
        logger.info("stage=frontchannel provider=%s request matched no session; nothing "
                    "changed", config.provider)
    response = render(request, "django_idp_logout/frontchannel.html", {"ended": ended},
                      status=status)
    ancestors = config.frontchannel_frame_ancestors
    if ancestors is None:
        parts = urlsplit(config.issuer)
        ancestors = (f"{parts.scheme}://{parts.netloc}",)
    response["Content-Security-Policy"] = "frame-ancestors " + (" ".join(ancestors) or "'none'")
    response["Cache-Control"] = "no-cache, no-store"
    response["Pragma"] = "no-cache"
    return response
