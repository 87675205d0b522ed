"""What a signed-in session remembers about the provider, kept server-side only.

The ID token (needed as ``id_token_hint`` at logout), the access and refresh tokens (needed
to revoke them), ``sid`` and the ID token's claims live in ``request.session`` under one key.
They are never put in a cookie by this app; with the ``signed_cookies`` session engine Django
itself would, which a system check reports.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest

from .client import TokenResponse
from .tokens import IDToken

SESSION_KEY = "_idp_logout_session"


@dataclass(frozen=True)
class IdPSession:
    """Read-only view of the provider session data of a signed-in user."""

    issuer: str
    subject: str
    sid: str | None
    claims: Mapping[str, Any]
    id_token: str | None = field(repr=False)
    access_token: str | None = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: float | None


def store(request: HttpRequest, id_token: IDToken, tokens: TokenResponse) -> None:
    """Record the provider session; call right after ``django.contrib.auth.login()``."""
    request.session[SESSION_KEY] = {
        "iss": id_token.issuer,
        "sub": id_token.subject,
        "sid": id_token.sid,
        "claims": dict(id_token.claims),
        "id_token": id_token.raw,
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "expires_at": time.time() + tokens.expires_in if tokens.expires_in else None,
    }


def load(request: HttpRequest) -> IdPSession | None:
    """The provider session of this request's session, or ``None`` (not an OIDC sign-in)."""
    data = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    if not isinstance(data, dict):
        return None
    try:
        return IdPSession(
            issuer=str(data["iss"]), subject=str(data["sub"]), sid=data.get("sid"),
            claims=dict(data.get("claims") or {}), id_token=data.get("id_token"),
            access_token=data.get("access_token"), refresh_token=data.get("refresh_token"),
            expires_at=data.get("expires_at"),
        )
    except (KeyError, TypeError, ValueError):
        return None
