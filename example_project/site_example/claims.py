"""Claims as a person reads them, for the account page's table.

An ID token's claims are JSON: ``true``, seconds since 1970, lists and objects. Printed with
``str()`` they show Python's ``True`` and numbers like ``1764614282``, which tell a reader
nothing. :func:`claim_rows` turns each claim into the text to show (translated, localized),
keeping the raw value next to it wherever the text differs, so nothing is hidden from a
developer looking at what the provider sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from django.utils import timezone as django_timezone
from django.utils.formats import date_format
from django.utils.translation import gettext

#: Claims whose number is a time (seconds since 1970, UTC): JWT (RFC 7519 4.1) and OpenID
#: Connect Core (5.1, 2). Add a provider's own time claims here.
TIME_CLAIMS = frozenset({"exp", "iat", "nbf", "auth_time", "updated_at"})


@dataclass(frozen=True)
class ClaimRow:
    """One row of the table.

    ``text`` is what the reader sees; ``raw`` is the value as the provider sent it (JSON),
    set only where it differs from ``text``; ``timestamp`` is ISO 8601 for a time claim
    (``<time datetime=…>``), else empty.
    """

    name: str
    text: str
    raw: str = ""
    timestamp: str = ""


def claim_rows(claims: Mapping[str, Any]) -> list[ClaimRow]:
    """The claims sorted by name, each formatted by :func:`format_claim`."""
    return [format_claim(name, value) for name, value in sorted(claims.items())]


def format_claim(name: str, value: Any) -> ClaimRow:
    """One claim as readable text: a time claim as a localized date and time (UTC), a boolean
    as a translated yes/no, a list joined with commas, an object as one line of JSON."""
    raw = as_json(value)
    if name in TIME_CLAIMS and is_number(value):
        moment = to_datetime(value)
        if moment is not None:
            return ClaimRow(name, readable_time(moment), raw, moment.isoformat())
    text = readable(value)
    return ClaimRow(name, text, raw if raw != text else "")


def readable(value: Any) -> str:
    """The text of a value that is not a time."""
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return ", ".join(readable(item) if isinstance(item, str | bool | int | float)
                         else as_json(item) for item in value)
    return as_json(value)


def as_json(value: Any) -> str:
    """The value as the provider sent it: compact JSON on one line (strings unquoted)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "),
                      default=str)


def is_number(value: Any) -> bool:
    """An integer or float, not a boolean (``True`` is an ``int`` to Python, not a time)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def to_datetime(seconds: float) -> datetime | None:
    """The moment ``seconds`` after 1970 (UTC), ``None`` when out of range: a claim the
    provider got wrong is shown as sent rather than breaking the page."""
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def readable_time(moment: datetime) -> str:
    """Date and time in the active language's format, in the site's time zone, named."""
    local = django_timezone.localtime(moment)
    return f"{date_format(local, 'DATETIME_FORMAT')} {date_format(local, 'T')}"
