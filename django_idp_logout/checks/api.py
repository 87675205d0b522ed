"""Checks of ``API`` (access tokens accepted on this site's API, :mod:`..bearer`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

from ..api_settings import KEYS, problems
from .common import check_id

DRF_CLASS = "django_idp_logout.drf.BearerTokenAuthentication"

_IDS = {"unknown_key": "E033", "wrong_type": "E034", "no_audience": "E035",
        "client_id_audience": "W012"}
_HINTS = {
    "unknown_key": f"The keys of API are {', '.join(KEYS)}.",
    "wrong_type": "See the API key in the configuration reference.",
    "no_audience": "Set API['AUDIENCE'] to the identifier your provider puts in the aud of "
                   "access tokens for this API (an Application ID URI, an API identifier, a "
                   "resource indicator).",
    "client_id_audience": "Give the API an identifier of its own at the provider: a token "
                          "whose audience is CLIENT_ID may be an ID token of this site.",
}


def check_api(merged: dict[str, Any]) -> list[CheckMessage]:
    """E033, E034, E035, W012 for one provider's ``API``."""
    found: list[CheckMessage] = []
    for problem, message in problems(merged.get("API"), str(merged.get("CLIENT_ID") or "")):
        level = Warning if _IDS[problem].startswith("W") else Error
        found.append(level(message, hint=_HINTS[problem], id=check_id(_IDS[problem])))
    return found


def check_drf_without_audience(audiences: bool) -> list[CheckMessage]:
    """E035 also when DRF's default authentication names our class and no provider has an
    ``API["AUDIENCE"]``."""
    rest_framework = getattr(settings, "REST_FRAMEWORK", None)
    classes = (rest_framework or {}).get("DEFAULT_AUTHENTICATION_CLASSES", ()) if isinstance(
        rest_framework, dict) else ()
    if audiences or DRF_CLASS not in classes:
        return []
    return [Error(f"{DRF_CLASS} is in REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES'] but "
                  "IDP_LOGOUT['API'] has no AUDIENCE: it would accept a token issued for "
                  "any API.", hint=_HINTS["no_audience"], id=check_id("E035"))]
