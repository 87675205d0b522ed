"""Checks of ``BFF_APIS`` (the backend-for-frontend proxy, :mod:`..bff_views`)."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Warning

from ..bff_settings import CHECK_IDS, KEYS, problems
from .common import check_id

_HINTS = {
    "malformed": "Write BFF_APIS as {'<name>': {'URL': 'https://api.example.com/'}}; the keys "
                 f"of one API are {', '.join(KEYS)}.",
    "insecure_url": "Use the API's https URL: the proxy sends each user's access token to it.",
}


def check_bff(merged: dict[str, Any]) -> list[CheckMessage]:
    """E037, E038 for one provider's ``BFF_APIS``; W013 when an API needs a token of its own
    (``TOKEN_PARAMS``) and no refresh token is asked for."""
    apis = merged.get("BFF_APIS")
    found: list[CheckMessage] = [
        Error(message, hint=_HINTS[problem], id=check_id(CHECK_IDS[problem]))
        for problem, message in problems(apis)]
    if found or not isinstance(apis, dict) or merged.get("REQUEST_REFRESH_TOKEN") is True:
        return found
    needing = sorted(name for name, api in apis.items() if api.get("TOKEN_PARAMS"))
    if needing:
        found.append(Warning(
            f"BFF_APIS {', '.join(map(repr, needing))} get access tokens of their own with the "
            "refresh token, but REQUEST_REFRESH_TOKEN is off.",
            hint="Set REQUEST_REFRESH_TOKEN = True, unless your provider issues refresh "
                 "tokens anyway; without one, every call to those APIs answers 401.",
            id=check_id("W013")))
    return found
