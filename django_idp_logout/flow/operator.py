"""Sessions an operator ends (the admin's "End sessions", ``clear_idp_sessions --user`` /
``--issuer``), as the relying party decides it: each session's tokens revoked at its
provider where it can, then the sessions ended here through whatever engine the site uses
(as a back-channel logout does), logged and signalled (``signed_out``, ``how="admin"``).
The provider's own session (the user's single sign-on there) is not ended: only the provider
can do that, and a sign-in here would still be silent until it does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet

from .. import token_store
from ..conf import provider_names, stored_provider, using_provider
from ..models import OIDCSession
from ..session_end import announce_signed_out, end_rows
from ..token_store import TokenSet
from .signout import revoke_where_configured

logger = logging.getLogger("django_idp_logout")


def end_user_sessions(user_ids: Iterable[Any], *, issuer: str | None = None,
                      revoke: bool = True, sender: Any = None) -> int:
    """End every provider session of these users (at ``issuer`` only, if given); the number
    ended."""
    rows = OIDCSession.objects.filter(user_id__in=list(user_ids))
    if issuer is not None:
        rows = rows.filter(issuer=issuer)
    return end_session_rows(rows, revoke=revoke, sender=sender or end_user_sessions)


def end_session_rows(rows: QuerySet[OIDCSession], *, revoke: bool = True,
                     sender: Any = None) -> int:
    """End the sessions of these mapping rows (see the module); the number ended. They end
    first (one transaction per provider), then their tokens are revoked: a provider that is
    down delays the operator, never the ending."""
    sender = sender or end_session_rows
    rows = rows.select_related(None)  # the admin's list_select_related: plain rows here
    kept = list(rows.values_list("provider", "tokens", "token_version")) if revoke else []
    by_provider: dict[str, list[Any]] = {}
    for stored in set(rows.values_list("provider", flat=True)):
        name = stored_provider(stored)
        by_provider.setdefault(name, []).extend(end_rows(rows.filter(provider=stored)))
    for provider, user_ids in by_provider.items():
        announce_signed_out(sender, how="admin", provider=provider, user_ids=user_ids)
    ended = sum(len(ids) for ids in by_provider.values())
    logger.info("stage=admin an operator ended %s session(s) of %s user(s)", ended,
                len({pk for ids in by_provider.values() for pk in ids}))
    for stored, text, version in kept:
        _revoke(stored_provider(stored), token_store.decode(text, version))
    return ended


def _revoke(provider: str, tokens: TokenSet) -> None:
    """Revoke one ended session's tokens at its provider (never raises)."""
    if provider not in provider_names():
        return  # a provider no longer configured: its sessions ended here all the same
    try:
        with using_provider(provider):
            revoke_where_configured(tokens)
    except Exception:
        logger.exception("stage=admin could not revoke an ended session's tokens")
