"""Which configured provider a request *from* a provider (or a token it issued) is for.

With several ``PROVIDERS``, a back-channel logout token or a front-channel request arrives at
one URL for all of them, and an API's access tokens at every API view. Each is routed by its
``iss``: only the providers that may have issued it are tried, each with its own keys and
audience (:func:`token_candidates`), so a token one provider signed can never end the
sessions of another, nor pass for another's. The unverified ``iss`` only picks candidates; it
is then verified like any other claim.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import jwt

from . import tenants
from .conf import IdPConfig, get_config, provider_names, using_provider
from .exceptions import InvalidToken
from .jws import MAX_TOKEN_LENGTH, _profile_rules, alternative_issuers


def may_have_issued(config: IdPConfig, iss: Any) -> bool:
    """Could ``iss`` be this provider's issuer: ``ISSUER``, a documented other spelling of
    it, or (multi-tenant profiles) a tenant of its ``organizations``/``common`` issuer?"""
    if not isinstance(iss, str) or not iss:
        return False
    rules = _profile_rules(config)
    if iss == config.issuer or iss in alternative_issuers(rules, config):
        return True
    if not getattr(rules, "tenant_issuers", False):
        return False
    v1_tenant = tenants.v1_issuer_tenant(iss)  # Entra ID's v1.0 access tokens
    if v1_tenant is not None:
        return tenants.serves_tenant(config.issuer, v1_tenant)
    return any(tenants.matches(config.issuer.replace(f"/{segment}/", f"/{tenants.PLACEHOLDER}/"),
                               iss)
               for segment in tenants.MULTI_TENANT_SEGMENTS if f"/{segment}/" in config.issuer)


def providers_for_issuer(iss: Any) -> list[str]:
    """The providers whose ``ISSUER`` is exactly ``iss`` (front-channel requests)."""
    return [name for name in provider_names() if get_config(name).issuer == iss]


def token_candidates(raw: Any) -> list[str]:
    """The providers to validate a JWT (a logout or an access token) with: those that may
    have issued its (unverified) ``iss``; the default provider when none may (it then refuses
    the token with ``invalid_issuer``, or ``malformed_token`` for what is not a JWT)."""
    if len(provider_names()) == 1:
        return list(provider_names())  # nothing to route: no need to read the token twice
    iss = None
    if isinstance(raw, str) and len(raw) <= MAX_TOKEN_LENGTH:
        try:
            iss = jwt.decode(raw, options={"verify_signature": False}).get("iss")
        except Exception:  # not a JWT at all: the validation says so
            iss = None
    names = [name for name in provider_names() if may_have_issued(get_config(name), iss)]
    return names or [provider_names()[0]]


T = TypeVar("T")


def first_accepting(names: Iterable[str], check: Callable[[], T], *,
                    final: frozenset[str] = frozenset()) -> T:
    """``check()`` with each provider of ``names`` active in turn: the first result. A
    refusal (:class:`InvalidToken`) tries the next, unless its code is ``final``; when all
    refuse, the first refusal is raised (the likeliest provider's). Other errors propagate."""
    refused: InvalidToken | None = None
    for name in names:
        with using_provider(name):
            try:
                return check()
            except InvalidToken as exc:
                if exc.code in final:
                    raise
                refused = refused or exc
    if refused is None:
        raise InvalidToken("no provider to check the token with", code="invalid_issuer")
    raise refused
