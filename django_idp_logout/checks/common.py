"""What every check module uses: the id format and small value tests."""

from __future__ import annotations

from typing import Any, TypeGuard
from urllib.parse import urlsplit

from ..conf import is_number


def check_id(code: str) -> str:
    """``E001`` → ``django_idp_logout.E001`` (the ids are listed in ``checks.CHECK_IDS``)."""
    return f"django_idp_logout.{code}"


def is_url(value: Any) -> TypeGuard[str]:
    """An http(s) URL with a host (the scheme may still be plain http)."""
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
        return parts.scheme in {"http", "https"} and bool(parts.hostname)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return False


def numbers(value: Any) -> list[float]:
    """The numbers in a value: itself, or the items of a ``(connect, read)`` pair."""
    items = value if isinstance(value, (list, tuple)) else (value,)
    return [v for v in items if is_number(v)]
