"""Sign-in, as the relying party decides it: begin (a pending attempt and the authorization
URL) and complete (the callback's checks, the token request, ID token validation, the local
user, the session). The views only read the request and render what comes back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from django.contrib.auth import authenticate
from django.contrib.auth import login as auth_login
from django.db import DatabaseError, transaction
from django.http import HttpRequest

from .. import session as idp_session
from .. import tenants
from ..backends import VerifiedIdentity
from ..client import TokenResponse, error_code
from ..conf import IdPConfig, get_config
from ..discovery import ProviderMetadata
from ..exceptions import AuthorizationError, IdPLogoutError, InvalidCallback, LoginRefused
from ..providers import BoundProvider, get_provider
from ..signals import signed_in
from ..state import Attempt, AttemptUnavailable, PendingAttempts, WrongProvider
from ..tokens import IDToken, validate_id_token

logger = logging.getLogger("django_idp_logout")

#: Longest ``state``, ``code`` or ``next`` value looked at; longer ones are rejected unread.
MAX_PARAM_LENGTH = 2048

#: Claims that only the ID token may set; UserInfo cannot override them (Core §5.3.2).
ID_TOKEN_ONLY_CLAIMS = frozenset({"iss", "sub", "aud", "exp", "iat", "nbf", "nonce", "azp",
                                  "auth_time", "acr", "amr", "sid", "at_hash", "c_hash", "jti"})


@dataclass(frozen=True)
class SignInOutcome:
    """What the callback led to: a page to go to, or an error (with the attempt's ``next``
    when known, so that "try again" keeps it)."""

    redirect_to: str | None = None
    error: IdPLogoutError | None = None
    next_url: str | None = None
    #: A session check ended the session, for this reason (the page says so).
    ended: str | None = None
    #: The provider "try again" should go to, when not the one that completed.
    provider: str | None = None


def database_unavailable(exc: DatabaseError) -> IdPLogoutError:
    """The sign-in's transaction rolled back (e.g. SQLite "database is locked", or the
    database down): nothing half-written, the user stays anonymous."""
    return IdPLogoutError(f"database error: {type(exc).__name__}", code="database_unavailable",
                          stage="login", status=503)


def begin_sign_in(request: HttpRequest, *, next_url: str, redirect_uri: str,
                  interactive: bool = False, silent: bool = False) -> str:
    """A new pending attempt (state, nonce, PKCE verifier); returns the authorization URL.

    ``silent``: a ``prompt=none`` session check of the signed-in user, not a sign-in.
    Raises :class:`~django_idp_logout.exceptions.ProviderUnavailable` when discovery fails
    (before anything is stored).
    """
    config = get_config()
    bound = BoundProvider.discover(get_provider(config))
    attempt = PendingAttempts(request, config).create(next_url, silent=silent)
    return bound.authorization_url(redirect_uri=redirect_uri, state=attempt.state,
                                   nonce=attempt.nonce, code_verifier=attempt.code_verifier,
                                   interactive=interactive, silent=silent)


def complete_sign_in(request: HttpRequest, params: Mapping[str, str], *,
                     redirect_uri: str, provider: str | None = None) -> SignInOutcome:
    """Finish a sign-in from the callback's query ``params``, with the active provider.
    Never raises for a bad request, a provider failure or a database error: those come back
    as ``SignInOutcome.error``. See ``docs/login.rst`` for each step and why it is there.

    ``provider``: the provider whose redirect URI the response arrived at; an attempt sent to
    another one is refused (``wrong_provider``, mix-up defence) before any token request.
    """
    config = get_config()
    attempts = PendingAttempts(request, config)
    state = params.get("state", "")
    if not (state or "code" in params or "error" in params):  # a bookmarked callback/ URL
        return SignInOutcome(error=InvalidCallback("no state parameter",
                                                   code="incomplete_callback"))
    try:
        attempt = attempts.take(state if len(state) <= MAX_PARAM_LENGTH else "", provider)
    except WrongProvider as exc:
        return SignInOutcome(error=exc, next_url=exc.attempt.next_url,
                             provider=exc.attempt.provider)
    except AttemptUnavailable as exc:
        done = attempts.completed_next_url(state) if state else None
        if done is not None and request.user.is_authenticated:
            return SignInOutcome(redirect_to=done)  # a reload of a finished callback
        return SignInOutcome(error=exc, next_url=exc.next_url)
    except DatabaseError as exc:
        return SignInOutcome(error=database_unavailable(exc))
    if attempt.silent:
        from .lifecycle import complete_check  # lifecycle builds on this module

        return complete_check(request, params, attempt, redirect_uri=redirect_uri)
    try:
        bound = BoundProvider.discover(get_provider(config))
        tokens, id_token = redeem(bound, params, attempt, redirect_uri)
        identity = _identity(bound, config, tokens, id_token)
        _sign_in(request, attempts, attempt, identity, id_token, tokens)
    except IdPLogoutError as exc:
        return SignInOutcome(error=exc, next_url=attempt.next_url)
    except DatabaseError as exc:
        # Django does not save the session of a 5xx response: its user is not signed in.
        return SignInOutcome(error=database_unavailable(exc), next_url=attempt.next_url)
    return SignInOutcome(redirect_to=attempt.next_url)


def check_response_issuer(params: Mapping[str, str], metadata: ProviderMetadata) -> None:
    """RFC 9207: the ``iss`` response parameter, required when the provider advertises it."""
    iss = params.get("iss")
    if iss is None:
        if metadata.get("authorization_response_iss_parameter_supported") is True:
            raise InvalidCallback("iss parameter missing", code="invalid_issuer")
        return
    if iss != metadata.issuer and not (tenants.is_template(metadata.issuer)
                                       and tenants.matches(metadata.issuer, iss)):
        # A multi-tenant provider answers with its tenant's issuer (:mod:`..tenants`).
        raise InvalidCallback("iss parameter is not the provider's issuer", code="invalid_issuer")


def redeem(bound: BoundProvider, params: Mapping[str, str], attempt: Attempt,
            redirect_uri: str) -> tuple[TokenResponse, IDToken]:
    """The authorization response's checks, the one token request, the ID token's checks."""
    check_response_issuer(params, bound.metadata)
    if "error" in params:
        raise AuthorizationError(
            "the provider returned an error", code=error_code(params.get("error")),
            description=params.get("error_description"), error_uri=params.get("error_uri"))
    code = params.get("code", "")
    if not code or len(code) > MAX_PARAM_LENGTH:
        raise InvalidCallback("code missing or too long")
    tokens = bound.exchange_code(code=code, code_verifier=attempt.code_verifier,
                                 redirect_uri=redirect_uri)
    id_token = validate_id_token(tokens.id_token, nonce=attempt.nonce,
                                 access_token=tokens.access_token,
                                 max_age=bound.profile.max_age(), metadata=bound.metadata)
    return tokens, id_token


def _identity(bound: BoundProvider, config: IdPConfig, tokens: TokenResponse,
              id_token: IDToken) -> VerifiedIdentity:
    """The validated claims; UserInfo's (``USE_USERINFO``) may add to them, never override
    what only the ID token may say."""
    claims = dict(id_token.claims)
    if config.use_userinfo and tokens.access_token:
        userinfo = bound.userinfo(access_token=tokens.access_token, subject=id_token.subject)
        claims.update({k: v for k, v in userinfo.items() if k not in ID_TOKEN_ONLY_CLAIMS})
    return VerifiedIdentity(issuer=id_token.issuer, subject=id_token.subject, claims=claims)


def _sign_in(request: HttpRequest, attempts: PendingAttempts, attempt: Attempt,
             identity: VerifiedIdentity, id_token: IDToken, tokens: TokenResponse) -> None:
    """Every write of the sign-in (user, identity, session key cycle, ``last_login``, session
    mapping) in one transaction: all or nothing, one commit."""
    with transaction.atomic():
        user = authenticate(request, idp_identity=identity)
        if user is None:
            raise LoginRefused("no active local user for this identity")
        key_before = request.session.session_key
        # A sign-in over a signed-in session (with any provider, configured or not).
        previous = idp_session.raw(request, any_provider=True)
        auth_login(request, user)  # keeps the other pending attempts
        if request.session.session_key == key_before:
            # login() does not cycle the key when the same user signs in again: we always do.
            request.session.cycle_key()
        idp_session.store(request, id_token, tokens, replaces=previous)
        attempts.complete(attempt)
    for _, result in signed_in.send_robust(sender=_sign_in, request=request, user=user,
                                           provider=get_config().name, sid=id_token.sid):
        if isinstance(result, Exception):
            logger.error("stage=signal a signed_in receiver failed: %r", result)
