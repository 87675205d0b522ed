"""The OAuth requests made on the user's behalf: token, UserInfo, revocation, introspection
(RFC 6749, Core §5.3, RFC 7009, RFC 7662), and what their answers mean.

This module knows HTTP and the OAuth wire format only: the endpoint and the client's
authentication come from the caller (:class:`~django_idp_logout.providers.BoundProvider`),
so nothing here reads the configuration.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import http
from .exceptions import InvalidToken, ProviderUnavailable, TokenError

#: OAuth error codes are ASCII words; anything else from the provider is replaced by this.
UNKNOWN_ERROR = "unknown_error"


@dataclass(frozen=True)
class ClientAuth:
    """How the client authenticates at the token and revocation endpoints: headers and form
    fields to add to the request (RFC 6749 §2.3)."""

    headers: dict[str, str] = field(repr=False)
    form: dict[str, str] = field(repr=False)


@dataclass(frozen=True)
class TokenResponse:
    #: Always there after a sign-in (:func:`exchange_code` checks); optional on a refresh.
    id_token: str | None = field(repr=False)
    access_token: str | None = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_in: int | None
    scope: str | None


def error_code(value: Any) -> str:
    """A provider's ``error`` value if it is a plausible OAuth code, else ``unknown_error``."""
    if isinstance(value, str) and 0 < len(value) <= 64 and all(
        c.isascii() and (c.isalnum() or c == "_") for c in value
    ):
        return value
    return UNKNOWN_ERROR


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def raise_for_oauth_error(response: http.Response, *, stage: str) -> None:
    """Turn an OAuth error response (RFC 6749 §5.2) or a 5xx into the right exception."""
    if response.status >= 500:
        raise ProviderUnavailable(f"HTTP {response.status}", stage=stage,
                                  status=503 if response.status == 503 else 502)
    if response.status != 200:
        try:
            body = response.json_object(stage=stage)
        except ProviderUnavailable:
            raise ProviderUnavailable(f"HTTP {response.status} without an OAuth error body",
                                      code="provider_bad_response", stage=stage) from None
        raise TokenError(f"HTTP {response.status}", code=error_code(body.get("error")),
                         stage=stage, description=_text(body.get("error_description")),
                         error_uri=_text(body.get("error_uri")))


def exchange_code(endpoint: str, auth: ClientAuth, *, code: str, code_verifier: str,
                  redirect_uri: str) -> TokenResponse:
    """The one token request of a sign-in (RFC 6749 §4.1.3 with RFC 7636 ``code_verifier``)."""
    tokens = _token_request(endpoint, auth, stage="token", form={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
        "code_verifier": code_verifier})
    if not tokens.id_token:
        raise InvalidToken("token response has no id_token", code="missing_id_token",
                           stage="token")
    return tokens


def refresh(endpoint: str, auth: ClientAuth, *, refresh_token: str,
            params: Mapping[str, str] | None = None) -> TokenResponse:
    """A refresh token grant (RFC 6749 §6): the same scope, a new access token; a new refresh
    token (rotation) and a new ID token (Core §12.2) when the provider sends them.

    ``params``: more of the grant's parameters, for an access token with another ``scope``
    (§6), ``resource`` (RFC 8707) or ``audience``; they cannot replace the grant's own."""
    tokens = _token_request(endpoint, auth, stage="refresh", form={
        **(params or {}), "grant_type": "refresh_token", "refresh_token": refresh_token})
    if not tokens.access_token:
        raise ProviderUnavailable("refresh response has no access_token",
                                  code="provider_bad_response", stage="refresh")
    return tokens


def _token_request(endpoint: str, auth: ClientAuth, *, stage: str, form: dict[str, str]
                   ) -> TokenResponse:
    """POST to the token endpoint with the client's authentication; the parsed answer."""
    headers = {**auth.headers, "Accept": "application/json"}
    response = http.request("POST", endpoint, stage=stage, data={**auth.form, **form},
                            headers=headers)
    raise_for_oauth_error(response, stage=stage)
    body = response.json_object(stage=stage)
    id_token = body.get("id_token")
    access_token = body.get("access_token")
    token_type = body.get("token_type")
    if id_token is not None and not isinstance(id_token, str):
        raise InvalidToken("id_token is not a string", code="malformed_token", stage=stage)
    if access_token is not None and not isinstance(access_token, str):
        raise ProviderUnavailable("access_token is not a string", code="provider_bad_response",
                                  stage=stage)
    if access_token and (not isinstance(token_type, str) or token_type.lower() != "bearer"):
        raise ProviderUnavailable("token_type is not Bearer", code="provider_bad_response",
                                  stage=stage)
    expires_in = body.get("expires_in")
    return TokenResponse(
        id_token=id_token or None,
        access_token=access_token or None,
        refresh_token=_text(body.get("refresh_token")) or None,
        expires_in=(expires_in if isinstance(expires_in, int) and not isinstance(expires_in, bool)
                    and expires_in > 0 else None),
        scope=_text(body.get("scope")),
    )


def fetch_userinfo(endpoint: str | None, *, access_token: str, subject: str
                   ) -> dict[str, Any]:
    """UserInfo claims; their ``sub`` must equal the ID token's (Core §5.3.2)."""
    if endpoint is None:
        raise ProviderUnavailable("USE_USERINFO is on but the provider has no UserInfo endpoint",
                                  code="provider_bad_response", stage="userinfo")
    response = http.request("GET", endpoint, stage="userinfo",
                            headers={"Authorization": f"Bearer {access_token}",
                                     "Accept": "application/json"})
    if response.status != 200:
        raise_for_oauth_error(response, stage="userinfo")
        raise ProviderUnavailable(f"UserInfo answered HTTP {response.status}", stage="userinfo")
    if response.content_type == "application/jwt":
        raise ProviderUnavailable("signed UserInfo responses are not supported",
                                  code="provider_bad_response", stage="userinfo")
    claims = response.json_object(stage="userinfo")
    userinfo_sub = claims.get("sub")
    if not isinstance(userinfo_sub, str) or not hmac.compare_digest(userinfo_sub.encode(),
                                                                    subject.encode()):
        raise InvalidToken("UserInfo sub differs from the ID token's", code="userinfo_sub_mismatch",
                           stage="userinfo")
    return claims


def revoke_token(endpoint: str, auth: ClientAuth, *, token: str, token_type_hint: str
                 ) -> None:
    """RFC 7009 revocation with client authentication. 200 means revoked (or already invalid).

    Raises :class:`TokenError` / :class:`ProviderUnavailable` on failure; the logout view
    logs them and completes the local logout regardless.
    """
    form = {**auth.form, "token": token, "token_type_hint": token_type_hint}
    response = http.request("POST", endpoint, stage="revocation", data=form,
                            headers=dict(auth.headers))
    if response.status != 200:
        raise_for_oauth_error(response, stage="revocation")
        raise ProviderUnavailable(f"revocation answered HTTP {response.status}",
                                  stage="revocation")


def introspect_token(endpoint: str, auth: ClientAuth, *, token: str) -> dict[str, Any]:
    """RFC 7662 introspection with client authentication: the provider's answer (``active``
    and, for an active token, its claims). Raises :class:`ProviderUnavailable` when there is
    no usable answer; the caller refuses the token then (never "active" by default)."""
    form = {**auth.form, "token": token, "token_type_hint": "access_token"}
    response = http.request("POST", endpoint, stage="introspection", data=form,
                            headers={**auth.headers, "Accept": "application/json"})
    if response.status != 200:
        raise_for_oauth_error(response, stage="introspection")
        raise ProviderUnavailable(f"introspection answered HTTP {response.status}",
                                  stage="introspection")
    return response.json_object(stage="introspection")
