"""Views of the sign-in and sign-out flows.

``login`` starts the authorization code flow; ``callback`` finishes it; ``logout`` ends the
local session and sends the browser to the provider's end-session endpoint;
``logout_complete`` is where the provider sends it back. Every expected failure
(a provider error, a replayed ``state``, a token that does not validate, a provider that is
down) is an :class:`~django_idp_logout.exceptions.IdPLogoutError`, rendered by
:func:`~django_idp_logout.errors.render_failure` as a page with a 4xx/5xx status. A failure
never signs anybody in and never signs out a user who already was.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, transaction
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods
from mozilla_django_oidc.utils import generate_code_challenge

from . import session as idp_session
from .backends import VerifiedIdentity
from .client import error_code, exchange_code, fetch_userinfo, revoke_token
from .conf import IdPConfig, get_config
from .discovery import ProviderMetadata, get_metadata
from .errors import log_failure, new_reference, render_failure, sanitize
from .exceptions import (
    AuthorizationError,
    IdPLogoutError,
    InvalidCallback,
    LoginExpired,
    LoginRefused,
    ProviderUnavailable,
)
from .http import add_query
from .providers import LogoutContext, Provider, get_provider
from .session import IdPSession
from .signals import backchannel_logout as backchannel_logout_signal
from .signals import frontchannel_logout as frontchannel_logout_signal
from .state import (
    Attempt,
    claim_once,
    completed_next_url,
    consume_logout_state,
    create_attempt,
    create_logout_state,
    find_attempt,
    forget_attempt,
    remember_completed,
)
from .tokens import validate_id_token, validate_logout_token

logger = logging.getLogger("django_idp_logout")

#: Longest ``state``, ``code`` or ``next`` value looked at; longer ones are rejected unread.
MAX_PARAM_LENGTH = 2048

#: Claims that only the ID token may set; UserInfo cannot override them (Core §5.3.2).
ID_TOKEN_ONLY_CLAIMS = frozenset({"iss", "sub", "aud", "exp", "iat", "nbf", "nonce", "azp",
                                  "auth_time", "acr", "amr", "sid", "at_hash", "c_hash", "jti"})


def safe_next_url(request: HttpRequest, candidate: Any, default: str) -> str:
    """``candidate`` if it points to this site (or an allowed host), else ``default``."""
    config = get_config()
    if (isinstance(candidate, str) and 0 < len(candidate) <= MAX_PARAM_LENGTH
            and url_has_allowed_host_and_scheme(
                candidate, allowed_hosts={request.get_host(), *config.allowed_redirect_hosts},
                require_https=request.is_secure())):
        return candidate
    return default


def redirect_uri(request: HttpRequest, config: IdPConfig) -> str:
    return config.redirect_uri or request.build_absolute_uri(reverse("idp_logout:callback"))


@never_cache
@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    """Start a sign-in: new attempt (state, nonce, PKCE) in the session, 302 to the provider."""
    config = get_config()
    provider = get_provider(config)
    next_url = safe_next_url(request, request.POST.get("next") or request.GET.get("next"),
                             resolve_url(config.login_redirect_url))
    try:
        metadata = get_metadata()
    except IdPLogoutError as exc:
        return render_failure(request, exc, sender=login,
                              retry_url=add_query(reverse("idp_logout:login"), {"next": next_url}))
    attempt = create_attempt(request, next_url)
    params = provider.authorization_params(
        metadata=metadata, redirect_uri=redirect_uri(request, config), state=attempt.state,
        nonce=attempt.nonce, code_challenge=generate_code_challenge(attempt.code_verifier, "S256"),
        interactive=request.GET.get("interactive") == "1",
    )
    return HttpResponseRedirect(add_query(metadata.authorization_endpoint, params))


def _check_iss(request: HttpRequest, metadata: ProviderMetadata) -> None:
    """RFC 9207: the ``iss`` response parameter, required when the provider advertises it."""
    iss = request.GET.get("iss")
    if iss is None:
        if metadata.get("authorization_response_iss_parameter_supported") is True:
            raise InvalidCallback("iss parameter missing", code="invalid_issuer")
        return
    if iss != metadata.issuer:
        raise InvalidCallback("iss parameter is not the provider's issuer", code="invalid_issuer")


@never_cache
@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    """Finish a sign-in. See ``docs/login.rst`` for each step and why it is there."""
    config = get_config()
    state = request.GET.get("state", "")
    retry_url = reverse("idp_logout:login")
    attempt = find_attempt(request, state) if 0 < len(state) <= MAX_PARAM_LENGTH else None
    if attempt is None:
        next_url = completed_next_url(request, state) if state else None
        if next_url is not None and request.user.is_authenticated:
            # A reload or double submit of a callback that already signed this session in.
            return HttpResponseRedirect(next_url)
        return render_failure(request, LoginExpired("state unknown, expired or missing"),
                              sender=callback, retry_url=retry_url)
    retry_url = add_query(retry_url, {"next": attempt.next_url})
    if not claim_once("state", attempt.state, config.login_attempt_ttl, config):
        # A concurrent request with the same state is exchanging the code right now.
        return render_failure(request, LoginExpired("state already used"), sender=callback,
                              retry_url=retry_url)
    try:
        return _finish_login(request, config, attempt)
    except IdPLogoutError as exc:
        forget_attempt(request, attempt)
        return render_failure(request, exc, sender=callback, retry_url=retry_url)
    except DatabaseError as exc:
        # The sign-in transaction rolled back (e.g. SQLite "database is locked" under
        # concurrent writes): nothing half-written, the user stays anonymous; try again.
        forget_attempt(request, attempt)
        return render_failure(request, IdPLogoutError(
            f"database error: {type(exc).__name__}", code="database_unavailable",
            stage="login", status=503), sender=callback, retry_url=retry_url)


def _finish_login(request: HttpRequest, config: IdPConfig, attempt: Attempt) -> HttpResponse:
    provider = get_provider(config)
    metadata = get_metadata()
    _check_iss(request, metadata)
    if "error" in request.GET:
        raise AuthorizationError(
            "the provider returned an error", code=error_code(request.GET.get("error")),
            description=request.GET.get("error_description"),
            error_uri=request.GET.get("error_uri"))
    code = request.GET.get("code", "")
    if not code or len(code) > MAX_PARAM_LENGTH:
        raise InvalidCallback("code missing or too long")
    tokens = exchange_code(provider, metadata, code=code, code_verifier=attempt.code_verifier,
                           redirect_uri=redirect_uri(request, config))
    id_token = validate_id_token(tokens.id_token, nonce=attempt.nonce,
                                 access_token=tokens.access_token, max_age=provider.max_age())
    claims = dict(id_token.claims)
    if config.use_userinfo and tokens.access_token:
        userinfo = fetch_userinfo(metadata, access_token=tokens.access_token,
                                  subject=id_token.subject)
        claims.update({k: v for k, v in userinfo.items() if k not in ID_TOKEN_ONLY_CLAIMS})
    identity = VerifiedIdentity(issuer=id_token.issuer, subject=id_token.subject, claims=claims)
    # One transaction for every write of the sign-in (user, identity, session key cycle,
    # last_login, session mapping): all or nothing, and one commit instead of six.
    with transaction.atomic():
        user = authenticate(request, idp_identity=identity)
        if user is None:
            raise LoginRefused("no active local user for this identity")
        forget_attempt(request, attempt)
        key_before = request.session.session_key
        auth_login(request, user)  # keeps the other pending attempts
        if request.session.session_key == key_before:
            # login() does not cycle the key when the same user signs in again: we always do.
            request.session.cycle_key()
        idp_session.store(request, id_token, tokens)
        remember_completed(request, attempt)
    return HttpResponseRedirect(attempt.next_url)


# --- logout ---------------------------------------------------------------------------------


def post_logout_redirect_uri(request: HttpRequest, config: IdPConfig) -> str:
    return config.post_logout_redirect_uri or request.build_absolute_uri(
        reverse("idp_logout:logout_complete"))


def _with_clear_site_data(response: HttpResponse, config: IdPConfig) -> HttpResponse:
    if config.clear_site_data:
        response["Clear-Site-Data"] = ", ".join(f'"{v}"' for v in config.clear_site_data)
    return response


def _revoke(provider: Provider, metadata: ProviderMetadata, data: IdPSession) -> None:
    """Revoke the refresh token, then the access token (RFC 7009 §2). Never raises."""
    endpoint = provider.revocation_endpoint(metadata)
    if endpoint is None:
        logger.warning("stage=revocation provider=%s tokens should be revoked but the provider "
                       "has no revocation endpoint", provider.name)
        return
    for token, hint in ((data.refresh_token, "refresh_token"),
                        (data.access_token, "access_token")):
        if not token:
            continue
        try:
            revoke_token(provider, metadata, endpoint, token=token, token_type_hint=hint)
        except ProviderUnavailable as exc:
            # Down or hanging: one timeout is all the user waits; skip the other token.
            log_failure(exc, new_reference())
            return
        except IdPLogoutError as exc:
            log_failure(exc, new_reference())


@never_cache
@require_http_methods(["GET", "POST"])
def logout(request: HttpRequest) -> HttpResponse:
    """Sign out here and at the provider.

    GET shows a confirmation form and changes nothing (unless ``ALLOW_GET_LOGOUT``): a link or
    an image must not be able to sign people out. POST (CSRF-protected) reads what the
    provider needs from the session, revokes tokens where the profile or settings say, flushes
    the session (``django.contrib.auth.logout``), then redirects to the end-session endpoint
    with a fresh single-use ``state``. Whatever the provider does — down, slow, garbage — the
    local logout completes and the user reaches a page.
    """
    config = get_config()
    next_url = safe_next_url(request, request.POST.get("next") or request.GET.get("next"),
                             resolve_url(config.post_logout_redirect_url))
    if not request.user.is_authenticated:
        auth_logout(request)  # drops whatever an anonymous session holds
        return _with_clear_site_data(HttpResponseRedirect(next_url), config)
    if request.method == "GET" and not config.allow_get_logout:
        return render(request, "django_idp_logout/logout_confirm.html", {"next": next_url})

    data = idp_session.load(request)
    provider = get_provider(config)
    end_session: str | None = None
    try:
        if data is not None:
            metadata = get_metadata()
            if provider.should_revoke():
                _revoke(provider, metadata, data)
            end_session = provider.end_session_endpoint(metadata)
            if end_session is None:
                logger.warning("stage=logout provider=%s the provider has no end-session "
                               "endpoint: signed out locally only", provider.name)
    except IdPLogoutError as exc:
        log_failure(exc, new_reference())
    except Exception:  # logout must complete locally whatever happened above
        logger.exception("stage=logout unexpected error before the local logout")
    finally:
        auth_logout(request)

    if data is None or end_session is None:
        return _with_clear_site_data(HttpResponseRedirect(next_url), config)
    context = LogoutContext(
        post_logout_redirect_uri=post_logout_redirect_uri(request, config),
        state=create_logout_state(next_url), id_token=data.id_token,
        access_token=data.access_token)
    url = add_query(end_session, provider.logout_params(context))
    return _with_clear_site_data(HttpResponseRedirect(url), config)


@never_cache
@require_GET
def logout_complete(request: HttpRequest) -> HttpResponse:
    """Where the provider sends the user back after its logout.

    A valid ``state`` leads to the page chosen at logout time. A missing, forged, expired or
    replayed one leads to ``POST_LOGOUT_REDIRECT_URL`` with a warning logged; nothing from the
    request is trusted, and the user stays signed out either way.
    """
    config = get_config()
    state = request.GET.get("state", "")
    target = None
    if 0 < len(state) <= MAX_PARAM_LENGTH:
        target = consume_logout_state(state)
    if target is None:
        logger.warning("stage=logout provider=%s logout return with a missing, unknown, expired "
                       "or reused state (%s characters); landing on POST_LOGOUT_REDIRECT_URL",
                       config.provider, len(state))
        target = resolve_url(config.post_logout_redirect_url)
    elif "error" in request.GET:
        logger.warning("stage=logout provider=%s the provider reported error=%s",
                       config.provider, sanitize(request.GET.get("error"), 64))
    return HttpResponseRedirect(target)


# --- provider-initiated logout ----------------------------------------------------------------

#: Largest back-channel request body read (a logout token is a few hundred bytes).
MAX_BACKCHANNEL_BODY = 64 * 1024


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def _backchannel_error(description: str, status: int = 400,
                       error: str = "invalid_request") -> HttpResponse:
    return _no_store(JsonResponse({"error": error, "error_description": description},
                                  status=status))


@csrf_exempt
def backchannel_logout(request: HttpRequest) -> HttpResponse:
    """OpenID Connect Back-Channel Logout 1.0 receiver (server-to-server, so CSRF-exempt).

    200 when the token is valid (whether or not a session matched); 400 with a JSON error when
    it is not; 405 / 415 for the wrong method or content type; 503 when the provider's keys
    cannot be fetched right now, so the provider may retry.
    """
    if request.method != "POST":
        return _no_store(HttpResponseNotAllowed(["POST"]))
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
        token = validate_logout_token(tokens[0])
    except ProviderUnavailable as exc:
        log_failure(exc, new_reference())
        return _backchannel_error("the provider's keys are unavailable", status=503,
                                  error="temporarily_unavailable")
    except IdPLogoutError as exc:
        exc.stage = "backchannel"
        log_failure(exc, new_reference())
        return _backchannel_error(f"invalid logout token ({exc.code})")
    try:
        user_ids = idp_session.end_sessions(token.issuer, sid=token.sid, subject=token.subject)
    except DatabaseError:
        logger.exception("stage=backchannel could not end the sessions (database error)")
        return _backchannel_error("sessions could not be ended right now", status=503,
                                  error="temporarily_unavailable")
    # Lazy: evaluated only if a signal receiver looks at it.
    users = get_user_model()._default_manager.filter(pk__in={u for u in user_ids if u})
    logger.info("stage=backchannel provider=%s ended %d session(s) (sid given: %s, sub given: "
                "%s)", get_config().provider, len(user_ids), token.sid is not None,
                token.subject is not None)
    backchannel_logout_signal.send(sender=backchannel_logout, issuer=token.issuer,
                                   sid=token.sid, sub=token.subject, users=users,
                                   sessions=len(user_ids))
    return _no_store(HttpResponse(status=200))


@xframe_options_exempt
@require_GET
def frontchannel_logout(request: HttpRequest) -> HttpResponse:
    """OpenID Connect Front-Channel Logout 1.0 receiver, loaded by the provider in an iframe.

    Ends this browser's session only when ``iss`` is the provider's and ``sid`` is the one its
    ID token carried (compared in constant time); anything else changes nothing, so another
    site cannot sign people out by embedding this URL. Embeddable only by the provider's
    origin (``frame-ancestors``, for this view only).
    """
    config = get_config()
    data = idp_session.load(request)
    iss, sid = request.GET.get("iss"), request.GET.get("sid")
    ended = False
    if (data is not None and iss == data.issuer == config.issuer and isinstance(sid, str)
            and data.sid and constant_time_compare(sid, data.sid)):
        user = request.user
        auth_logout(request)
        ended = True
        frontchannel_logout_signal.send(sender=frontchannel_logout, request=request,
                                        issuer=iss, sid=sid, user=user)
    else:
        logger.info("stage=frontchannel provider=%s request did not match this browser's "
                    "session; nothing changed", config.provider)
    response = render(request, "django_idp_logout/frontchannel.html", {"ended": ended})
    ancestors = config.frontchannel_frame_ancestors
    if ancestors is None:
        parts = urlsplit(config.issuer)
        ancestors = (f"{parts.scheme}://{parts.netloc}",)
    response["Content-Security-Policy"] = "frame-ancestors " + (" ".join(ancestors) or "'none'")
    response["Cache-Control"] = "no-cache, no-store"
    response["Pragma"] = "no-cache"
    return response
