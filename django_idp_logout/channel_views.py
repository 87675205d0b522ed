"""Provider-initiated logout receivers: OpenID Connect Back-Channel and Front-Channel Logout.

HTTP adapters around :mod:`django_idp_logout.flow.provider_logout` (which sessions end, and
when the ``jti`` is claimed): method, content type, body size, status codes and headers.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from django.contrib.auth import get_user_model
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from . import routing
from .conf import IdPConfig, get_config, provider_names
from .errors import log_failure, new_reference
from .exceptions import IdPLogoutError, ProviderUnavailable
from .flow import end_sessions_for_frontchannel, end_sessions_for_token
from .session_end import announce_signed_out
from .signals import backchannel_logout as backchannel_logout_signal
from .signals import frontchannel_logout as frontchannel_logout_signal
from .view_helpers import login_not_required, no_store

logger = logging.getLogger("django_idp_logout")

#: Largest back-channel request body read (a logout token is a few hundred bytes).
MAX_BACKCHANNEL_BODY = 64 * 1024
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
    try:
        ended = end_sessions_for_token(tokens[0])
    except ProviderUnavailable as exc:
        log_failure(exc, new_reference())
        return _unavailable("the provider's keys are unavailable")
    except IdPLogoutError as exc:
        exc.stage = "backchannel"
        log_failure(exc, new_reference())
        return _backchannel_error(f"invalid logout token ({exc.code})")
    except Exception:  # the database or a cache backend (Redis down …): the jti is unclaimed
        logger.exception("stage=backchannel could not end the sessions; answering 503 so "
                         "that the provider retries")
        return _unavailable("sessions could not be ended right now")
    # Lazy: evaluated only if a signal receiver looks at it.
    users = get_user_model()._default_manager.filter(pk__in={u for u in ended.user_ids if u})
    backchannel_logout_signal.send(sender=backchannel_logout, provider=ended.provider,
                                   issuer=ended.issuer,
                                   sid=ended.sid, sub=ended.subject, users=users,
                                   sessions=len(ended.user_ids))
    announce_signed_out(backchannel_logout, how="backchannel", provider=ended.provider,
                        user_ids=ended.user_ids)
    return no_store(HttpResponse(status=200))


def _frame_ancestors(config: IdPConfig) -> tuple[str, ...]:
    if config.frontchannel_frame_ancestors is not None:
        return config.frontchannel_frame_ancestors
    parts = urlsplit(config.issuer)
    return (f"{parts.scheme}://{parts.netloc}",)


@login_not_required
@xframe_options_exempt
@require_GET
def frontchannel_logout(request: HttpRequest) -> HttpResponse:
    """OpenID Connect Front-Channel Logout 1.0 receiver, loaded by the provider in an iframe.

    Acts only when ``iss`` is the provider's and ``sid`` is given: it ends every session the
    mapping has for that ``(iss, sid)`` — so it works when the browser withholds this site's
    cookie from the iframe — and this browser's own session when its ``sid`` matches
    (compared in constant time). Anything else changes nothing. Embeddable only by the
    provider's origin (``frame-ancestors``, for this view only; with several providers, the
    origin of the one(s) with that ``iss``).
    """
    iss, sid = request.GET.get("iss"), request.GET.get("sid")
    outcome = end_sessions_for_frontchannel(request, iss, sid)
    if outcome.ended:
        frontchannel_logout_signal.send(sender=frontchannel_logout, request=request, issuer=iss,
                                        sid=sid, user=outcome.user, sessions=outcome.sessions)
        announce_signed_out(frontchannel_logout, how="frontchannel",
                            provider=(routing.providers_for_issuer(iss) or ["default"])[0],
                            user=outcome.user, user_ids=outcome.user_ids, request=request)
    response = render(request, "django_idp_logout/frontchannel.html",
                      {"ended": outcome.ended}, status=503 if outcome.database_error else 200)
    ancestors: list[str] = []
    for name in routing.providers_for_issuer(iss) or provider_names()[:1]:
        ancestors += [a for a in _frame_ancestors(get_config(name)) if a not in ancestors]
    response["Content-Security-Policy"] = "frame-ancestors " + (" ".join(ancestors) or "'none'")
    response["Cache-Control"] = "no-cache, no-store"
    response["Pragma"] = "no-cache"
    return response
