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
    "wrong_type": "Give each key of API the type and value its entry in the configuration "
                  "reference states.",
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


def check_api_site(apis: list[Any]) -> list[CheckMessage]:
    """Site-wide: E035 when DRF's default authentication is the DRF class and no provider
    has an ``API["AUDIENCE"]`` (a view protected on its own, by the class or
    ``@bearer_token_required``, raises ``ImproperlyConfigured`` at its first request
    instead: checks do not import views); E036 when several providers introspect."""
    apis = [api for api in apis if isinstance(api, dict)]
    found: list[CheckMessage] = []
    introspecting = sum(1 for api in apis if api.get("INTROSPECT") is True)
    if introspecting > 1:
        found.append(Error(
            f"{introspecting} providers have API['INTROSPECT']: an opaque token carries no "
            "issuer, so it would be shown to a provider that did not issue it.",
            hint="Turn INTROSPECT on for the one provider whose tokens are opaque (the others' "
                 "JWT access tokens need none).", id=check_id("E036")))
    if any(api.get("AUDIENCE") for api in apis):
        return found
    used = _drf_default_uses_us()
    if used:
        found.append(Error(
            f"{used[0]} accepts bearer tokens but IDP_LOGOUT['API'] has no AUDIENCE: it would "
            "accept a token issued for any API.", hint=_HINTS["no_audience"],
            id=check_id("E035")))
    return found


def _drf_default_uses_us() -> list[str]:
    rest_framework = getattr(settings, "REST_FRAMEWORK", None)
    classes = (rest_framework.get("DEFAULT_AUTHENTICATION_CLASSES", ())
               if isinstance(rest_framework, dict) else ())
    return [f"{DRF_CLASS} (REST_FRAMEWORK['DEFAULT_AUTHENTICATION_CLASSES'])"] if (
        DRF_CLASS in classes) else []
