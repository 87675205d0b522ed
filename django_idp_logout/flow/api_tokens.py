"""Access tokens of their own for APIs that need another audience or other scopes
(``BFF_APIS``' ``TOKEN_PARAMS``), as the relying party decides it.

Some providers issue one access token per resource (Entra ID: one token per API's ``scope``;
providers with RFC 8707 resource indicators: one per ``resource``). The session's refresh
token then gets each API a token of its own, with a refresh token grant carrying the API's
parameters. Those tokens live with the session's others, on its mapping row
(:mod:`~django_idp_logout.token_store`), and follow the same rules:

* one token request per session at a time (:mod:`.token_lock`); a request that waited
  uses the token the holder stored;
* a rotated refresh token and a new ID token (validated like the first, Core §12.2) are
  stored with the API's token in one conditional UPDATE;
* a refused refresh token ends the session; the provider down leaves it as it was;
* they are revoked at logout with the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import replace

from django.db import DatabaseError
from django.http import HttpRequest

from .. import token_store
from ..conf import IdPConfig, get_config
from ..exceptions import ProviderUnavailable, ReauthenticationRequired
from ..providers import BoundProvider, get_provider
from ..signals import tokens_renewed
from ..token_store import TokenSet
from .renewal import (
    adopt,
    check_id_token,
    database_unavailable,
    end_quietly,
    read_tokens,
    refresh_grant,
    signed_in_data,
)
from .signout import revoke_tokens
from .token_lock import locked

logger = logging.getLogger("django_idp_logout")


def api_access_token(request: HttpRequest, key: str, params: Mapping[str, str], *,
                     rejected: str | None = None) -> str:
    """A valid access token for the API kept under ``key``, asked for with ``params`` when
    there is none (or it expires within ``TOKEN_RENEW_MARGIN``, or it is ``rejected``: the
    API refused it). One query when the stored one is valid. Raises what
    ``get_access_token`` raises."""
    config = get_config()
    data = signed_in_data(request)
    margin = config.token_renew_margin
    try:
        current = read_tokens(request, data)
        found = _usable(current, key, margin, rejected)
        if found is not None:
            return found
        return locked(request, data.get("mapping"), config,
                      lambda: read_tokens(request, data),
                      lambda tokens: _usable(tokens, key, margin, rejected),
                      lambda: _obtain(request, data, key, params, rejected, config))
    except DatabaseError as exc:
        raise database_unavailable(exc) from exc


def _usable(tokens: TokenSet, key: str, margin: float, rejected: str | None) -> str | None:
    api = tokens.apis.get(key) or {}
    value = api.get("access_token")
    if value != rejected and token_store.usable(value, api.get("expires_at"), margin,
                                                lifetime=api.get("lifetime")):
        return str(value)
    return None


def _obtain(request: HttpRequest, data: dict[str, object], key: str,
            params: Mapping[str, str], rejected: str | None, config: IdPConfig) -> str:
    current = read_tokens(request, data)  # again, under the lock
    found = _usable(current, key, config.token_renew_margin, rejected)
    if found is not None:
        return found
    if not current.refresh_token:
        raise ReauthenticationRequired("no refresh token to ask for the API's own access "
                                       "token with", reason="no_refresh_token")
    bound = BoundProvider.discover(get_provider(config))
    response = refresh_grant(request, data, bound, current.refresh_token, params)
    expires_in = response.expires_in
    api = {"access_token": response.access_token,
           "expires_at": time.time() + expires_in if expires_in else None,
           "lifetime": float(expires_in) if expires_in else None}
    name = key.split(":")[0]  # a token for the API's former TOKEN_PARAMS is replaced
    kept = {k: v for k, v in current.apis.items() if k.split(":")[0] != name}
    new = replace(current, version=current.version + 1, apis={**kept, key: api},
                  refresh_token=response.refresh_token or current.refresh_token)
    new, claims, sid = check_id_token(request, data, bound, response, new)
    if not token_store.write(data, expected_version=current.version, tokens=new, sid=sid):
        return _lost_write(request, data, bound, new, key, config)
    adopt(request, new, claims=claims, sid=sid)
    tokens_renewed.send_robust(sender=api_access_token, request=request, user=request.user,
                               rotated=bool(response.refresh_token)
                               and response.refresh_token != current.refresh_token,
                               id_token=claims is not None)
    logger.info("stage=token_renewal an access token of its own for API %s", key.split(":")[0])
    return str(response.access_token)


def _lost_write(request: HttpRequest, data: dict[str, object], bound: BoundProvider,
                new: TokenSet, key: str, config: IdPConfig) -> str:
    """The conditional UPDATE matched nothing (a lock that outlived its holder, or a logout):
    the API's token another request stored, if usable; else the one just issued is revoked
    (nobody will use it) and the call fails with 503 (the session goes on)."""
    current = token_store.read(data)
    orphan = TokenSet(access_token=str(new.apis[key]["access_token"]), refresh_token=None,
                      id_token=None, expires_at=None)
    if current is None:  # a logout ended the session meanwhile
        revoke_tokens(bound, new)
        end_quietly(request, data)
    revoke_tokens(bound, orphan)
    found = _usable(current, key, config.token_renew_margin, None)
    if found is not None:
        return found
    raise ProviderUnavailable("another request replaced the tokens meanwhile",
                              code="provider_unavailable", stage="refresh", status=503)
