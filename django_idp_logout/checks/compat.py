"""Checks of mozilla-django-oidc's ``OIDC_*`` settings, as :mod:`django_idp_logout.conf_oidc`
reads them: unusable values (E025), conflicts with ``IDP_LOGOUT`` (W001), and the settings
that are ignored because they would weaken a guarantee (W002)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

from ..conf import OIDC_FALLBACKS, OIDC_IGNORED, parse_scopes, parse_timeout
from .common import check_id


def check_fallback_values() -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for name, (key, convert) in OIDC_FALLBACKS.items():
        if not hasattr(settings, name):
            continue
        try:
            convert(getattr(settings, name))
        except (TypeError, ValueError) as exc:
            ours = f"ENDPOINTS[{key.removeprefix('ENDPOINTS.')!r}]" if key.startswith(
                "ENDPOINTS.") else repr(key)
            errors.append(Error(
                f"{name} (mozilla-django-oidc), read as IDP_LOGOUT[{ours}], has a value that "
                f"cannot be used: {exc}.",
                hint=f"Give it the type mozilla-django-oidc documents, or remove it and set "
                     f"IDP_LOGOUT[{ours}] instead.", id=check_id("E025")))
    return errors


def _canonical(key: str, value: Any) -> Any:
    if key == "SCOPES":
        return parse_scopes(value)
    if key == "TIMEOUT":  # None and mozilla-django-oidc's (connect, read) pair, as used
        return parse_timeout(value)
    return tuple(value) if isinstance(value, list) else value


def check_mozilla_settings(ours: dict[str, Any]) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for name, (key, convert) in OIDC_FALLBACKS.items():
        if not hasattr(settings, name) or key.startswith("ENDPOINTS.") or key not in ours:
            continue
        try:
            theirs = _canonical(key, convert(getattr(settings, name)))
        except (TypeError, ValueError):
            theirs = getattr(settings, name)
        if theirs != _canonical(key, ours[key]):
            messages.append(Warning(
                f"{name} and IDP_LOGOUT[{key!r}] are both set and differ; IDP_LOGOUT wins.",
                hint=f"Remove {name} (or make them equal).", id=check_id("W001")))
    for name in OIDC_IGNORED:
        if hasattr(settings, name):
            messages.append(Warning(
                f"{name} is set but ignored: django_idp_logout always verifies TLS and uses "
                "PKCE S256, state and nonce.", hint=f"Remove {name}.", id=check_id("W002")))
    return messages
