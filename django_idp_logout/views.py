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

from django.contrib.auth import authenticate
from django.contrib.auth import login as auth_login
from django.db import DatabaseError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods
from mozilla_django_oidc.utils import generate_code_challenge

from . import session as idp_session
from .backends import VerifiedIdentity
from .channel_views import backchannel_logout, frontchannel_logout
from .client import error_code, exchange_code, fetch_userinfo
from .conf import IdPConfig, get_config
from .discovery import ProviderMetadata, get_metadata
from .errors import render_failure
from .exceptions import (
    AuthorizationError,
    IdPLogoutError,
    InvalidCallback,
    LoginExpired,
    LoginRefused,
)
from .http import add_query
from .logout_views import logout, logout_complete
from .providers import get_provider
from .state import (
    Attempt,
    claim_once,
    completed_next_url,
    create_attempt,
    find_attempt,
    forget_attempt,
    remember_completed,
)
from .tokens import validate_id_token
from .view_helpers import (
    MAX_PARAM_LENGTH,
    app_reverse,
    login_not_required,
    no_referrer,
    require_client,
    require_middleware,
    safe_next_url,
)

__all__ = ["backchannel_logout", "callback", "frontchannel_logout", "login", "logout",
           "logout_complete", "safe_next_url"]

logger = logging.getLogger("django_idp_logout")

#: Claims that only the ID token may set; UserInfo cannot override them (Core §5.3.2).
ID_TOKEN_ONLY_CLAIMS = frozenset({"iss", "sub", "aud", "exp", "iat", "nbf", "nonce", "azp",
                                  "auth_time", "acr", "amr", "sid", "at_hash", "c_hash", "jti"})


def redirect_uri(request: HttpRequest, config: IdPConfig) -> str:
    return config.redirect_uri or request.build_absolute_uri(app_reverse("callback"))


def _database_unavailable(exc: DatabaseError) -> IdPLogoutError:
    # The sign-in transaction rolled back (e.g. SQLite "database is locked" under concurrent
    # writes, or the database down): nothing half-written, the user stays anonymous.
    return IdPLogoutError(f"database error: {type(exc).__name__}", code="database_unavailable",
                          stage="login", status=503)


@login_not_required
@no_referrer
@never_cache
@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    """Start a sign-in: new attempt (state, nonce, PKCE) in the session, 302 to the provider."""
    config = get_config()
    require_client(config)
    require_middleware(request)
    provider = get_provider(config)
    next_url = safe_next_url(request, request.POST.get("next") or request.GET.get("next"),
                             resolve_url(config.login_redirect_url))
    try:
        metadata = get_metadata()
    except IdPLogoutError as exc:
        return render_failure(request, exc, sender=login,
                              retry_url=add_query(app_reverse("login"), {"next": next_url}))
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


@login_not_required
@no_referrer
@never_cache
@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    """Finish a sign-in. See ``docs/login.rst`` for each step and why it is there."""
    config = get_config()
    require_client(config)
    require_middleware(request)
    state = request.GET.get("state", "")
    retry_url = app_reverse("login")
    attempt = find_attempt(request, state) if 0 < len(state) <= MAX_PARAM_LENGTH else None
    if attempt is None:
        next_url = completed_next_url(request, state) if state else None
        if next_url is not None and request.user.is_authenticated:
            # A reload or double submit of a callback that already signed this session in.
            return HttpResponseRedirect(next_url)
        return render_failure(request, LoginExpired("state unknown, expired or missing"),
                              sender=callback, retry_url=retry_url)
    retry_url = add_query(retry_url, {"next": attempt.next_url})
    try:
        # Single use across processes, whatever the cache: exactly one request exchanges.
        claimed = claim_once("state", attempt.state, config.login_attempt_ttl, config)
    except DatabaseError as exc:
        return render_failure(request, _database_unavailable(exc), sender=callback,
                              retry_url=retry_url)
    if not claimed:
        # A concurrent request with the same state is exchanging the code right now.
        return render_failure(request, LoginExpired("state already used"), sender=callback,
                              retry_url=retry_url)
    try:
        return _finish_login(request, config, attempt)
    except (IdPLogoutError, DatabaseError) as exc:
        # Nothing half-written: the sign-in's database writes roll back together, and Django
        # does not save the session of a 5xx response, so its user is not signed in.
        forget_attempt(request, attempt)
        failure = exc if isinstance(exc, IdPLogoutError) else _database_unavailable(exc)
        return render_failure(request, failure, sender=callback, retry_url=retry_url)


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


