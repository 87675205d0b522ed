"""Checks of ``IDP_LOGOUT``'s values: keys, types, ranges, algorithms, client authentication,
the provider profile and the logout options. URLs are :mod:`.endpoints`' job, the cache
:mod:`.cache`'s, mozilla-django-oidc's settings :mod:`.compat`'s."""

from __future__ import annotations

import difflib
import math
from typing import Any

from django.core.checks import CheckMessage, Error, Warning

from ..conf import (
    DEFAULT_ALGORITHMS,
    DEFAULTS,
    HMAC_ALGORITHMS,
    KEY_TYPES,
    LOGOUT_METHODS,
    SUPPORTED_ALGORITHMS,
    TOKEN_AUTH_METHODS,
)
from .common import check_id, numbers

#: Keys whose ``None`` means "use the default" rather than a mistake.
NONE_MEANS_DEFAULT = frozenset({"TIMEOUT"})

#: Numeric keys that must be positive (``TIMEOUT`` is W011's), and the ones with a bounded range.
POSITIVE_KEYS = ("LOGIN_ATTEMPT_TTL", "MAX_PENDING_LOGINS", "DISCOVERY_TTL",
                 "JWKS_TTL", "JWKS_REFETCH_INTERVAL", "LOGOUT_STATE_TTL",
                 "LOGOUT_TOKEN_MAX_AGE", "SESSION_CHECK_INTERVAL", "SESSION_IDLE_TIMEOUT",
                 "SESSION_MAX_AGE")
LEEWAY_RANGE = (0, 600)
TOKEN_RENEW_MARGIN_RANGE = (0, 3600)

REQUIRED_HINTS = {
    "ISSUER": "Set it to the provider's issuer URL, exactly as its discovery document "
              "(ISSUER + /.well-known/openid-configuration) states it.",
    "CLIENT_ID": "Set it to the client id this site is registered under at the provider "
                 "(mozilla-django-oidc's OIDC_RP_CLIENT_ID counts too).",
}

CLEAR_SITE_DATA_VALUES = frozenset({"cache", "cookies", "storage", "executionContexts",
                                    "clientHints", "prefetchCache", "prerenderCache", "*"})


def check_unknown_keys(ours: dict[str, Any]) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for key in ours:
        if key not in DEFAULTS:
            close = difflib.get_close_matches(str(key).upper(), list(DEFAULTS), n=1)
            hint = (f"Did you mean {close[0]!r}?" if close
                    else f"Known keys: {', '.join(sorted(DEFAULTS))}.")
            errors.append(Error(f"IDP_LOGOUT has an unknown key {key!r}.", hint=hint,
                                id=check_id("E003")))
    return errors


def check_required(merged: dict[str, Any]) -> list[CheckMessage]:
    return [Error(f"IDP_LOGOUT[{key!r}] is required.", hint=hint, id=check_id("E002"))
            for key, hint in REQUIRED_HINTS.items() if merged.get(key) in (None, "")]


def check_types(ours: dict[str, Any], merged: dict[str, Any]) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for key, types in KEY_TYPES.items():
        # effective_settings() drops a non-dict ENDPOINTS: look at what was written.
        value = ours.get(key) if key == "ENDPOINTS" and key in ours else merged.get(key)
        if value is None:
            # None is fine where it is allowed or means the default; a missing required key
            # is E002's business.
            wrong = not (type(None) in types or DEFAULTS.get(key) is None
                         or key in NONE_MEANS_DEFAULT or key in REQUIRED_HINTS)
        else:
            wrong = not isinstance(value, types) or (isinstance(value, bool)
                                                     and bool not in types)
        if wrong:
            expected = " or ".join(t.__name__ for t in types if t is not type(None))
            errors.append(Error(f"IDP_LOGOUT[{key!r}] must be {expected}, "
                                f"not {type(value).__name__}.",
                                hint=f"Use a value of type {expected} (the default is "
                                     f"{DEFAULTS.get(key)!r}), or remove the key.",
                                id=check_id("E004")))
    return errors


def check_provider(merged: dict[str, Any]) -> list[CheckMessage]:
    from ..exceptions import ConfigurationError
    from ..providers import REGISTRY, provider_class

    try:
        provider_class(merged["PROVIDER"])
    except ConfigurationError as exc:
        return [Error(str(exc), hint=f"Use one of {', '.join(sorted(REGISTRY))}, or the dotted "
                                     "path of a django_idp_logout.providers.Provider subclass.",
                      id=check_id("E005"))]
    return []


def check_algorithms(merged: dict[str, Any]) -> list[CheckMessage]:
    algorithms = list(merged["ALGORITHMS"])
    errors: list[CheckMessage] = []
    supported = ", ".join(sorted(SUPPORTED_ALGORITHMS))
    unknown = [a for a in algorithms if a not in SUPPORTED_ALGORITHMS]
    if unknown:
        errors.append(Error(f"IDP_LOGOUT['ALGORITHMS'] has unsupported values {unknown!r}.",
                            hint=f"Supported: {supported}. 'none' is never accepted.",
                            id=check_id("E011")))
    if not algorithms:
        default = ", ".join(DEFAULT_ALGORITHMS)
        errors.append(Error("IDP_LOGOUT['ALGORITHMS'] is empty: no ID token could be accepted.",
                            hint=f"Remove the key to accept the default ({default}), or list "
                                 "the algorithm the provider signs with.", id=check_id("E022")))
    if set(algorithms) & HMAC_ALGORITHMS and not merged.get("CLIENT_SECRET"):
        errors.append(Error("HMAC algorithms in ALGORITHMS need a CLIENT_SECRET.",
                            hint="Remove HS256/384/512, or configure the client secret.",
                            id=check_id("E023")))
    return errors


def check_client_auth(merged: dict[str, Any]) -> list[CheckMessage]:
    method = merged.get("TOKEN_AUTH_METHOD")
    if method is None:
        return []
    if method not in TOKEN_AUTH_METHODS:
        return [Error(f"IDP_LOGOUT['TOKEN_AUTH_METHOD'] {method!r} is not supported.",
                      hint=f"Use one of {', '.join(TOKEN_AUTH_METHODS)}, or leave it unset.",
                      id=check_id("E012"))]
    if method != "none" and not merged.get("CLIENT_SECRET"):
        return [Error(f"TOKEN_AUTH_METHOD {method!r} needs a CLIENT_SECRET.",
                      hint="Configure the client secret; public clients use 'none' (PKCE only).",
                      id=check_id("E024"))]
    return []


def check_numbers(merged: dict[str, Any]) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for key in POSITIVE_KEYS:
        if any(v <= 0 for v in numbers(merged.get(key))):
            errors.append(Error(f"IDP_LOGOUT[{key!r}] must be positive.",
                                hint=f"Use a number above 0 (the default is {DEFAULTS[key]!r}).",
                                id=check_id("E018")))
    low, high = LEEWAY_RANGE
    if any(not low <= v <= high for v in numbers(merged.get("LEEWAY"))):
        errors.append(Error(f"IDP_LOGOUT['LEEWAY'] must be between {low} and {high} seconds.",
                            hint=f"Clock skew is seconds, not minutes: the default is "
                                 f"{DEFAULTS['LEEWAY']}; fix the clocks (NTP) rather than "
                                 "widening it.", id=check_id("E018")))
    low, high = TOKEN_RENEW_MARGIN_RANGE
    if any(not low <= v <= high for v in numbers(merged.get("TOKEN_RENEW_MARGIN"))):
        errors.append(Error(f"IDP_LOGOUT['TOKEN_RENEW_MARGIN'] must be between {low} and {high} "
                            "seconds.",
                            hint=f"It is how long before expiry a token is renewed (the default "
                                 f"is {DEFAULTS['TOKEN_RENEW_MARGIN']}); a margin as long as the "
                                 "token's lifetime would renew it on every call.",
                            id=check_id("E018")))
    # None, zero, negative or infinite: conf.parse_timeout() uses the default, never "no
    # timeout". None is the documented way to ask for the default; the others are slips.
    default = DEFAULTS["TIMEOUT"]
    timeouts = numbers(merged.get("TIMEOUT"))
    if any(not 0 < v < math.inf for v in timeouts):
        errors.append(Warning(
            f"IDP_LOGOUT['TIMEOUT'] {merged.get('TIMEOUT')!r} is not a usable number of seconds: "
            f"the default, {default} s, is used.",
            hint=f"Use a positive number of seconds, or None for the default ({default}).",
            id=check_id("W011")))
    elif any(v > 30 for v in timeouts):
        errors.append(Warning("IDP_LOGOUT['TIMEOUT'] above 30 s keeps workers busy while the "
                              "provider hangs.",
                              hint=f"A few seconds is enough (the default is {default}): a "
                                   "provider that answers later is treated as down.",
                              id=check_id("W005")))
    return errors


def check_logout(merged: dict[str, Any]) -> list[CheckMessage]:
    """``CLEAR_SITE_DATA`` and ``LOGOUT_METHOD`` (the end-session endpoint is W007's)."""
    errors: list[CheckMessage] = []
    unknown = [v for v in merged["CLEAR_SITE_DATA"] if v not in CLEAR_SITE_DATA_VALUES]
    if unknown:
        errors.append(Error(f"IDP_LOGOUT['CLEAR_SITE_DATA'] has unknown values {unknown!r}.",
                            hint=f"Use some of {', '.join(sorted(CLEAR_SITE_DATA_VALUES))} "
                                 "(without quotes), or () to send no header.",
                            id=check_id("E015")))
    method = merged["LOGOUT_METHOD"]
    if method.upper() not in {m.upper() for m in LOGOUT_METHODS}:
        errors.append(Error(f"IDP_LOGOUT['LOGOUT_METHOD'] {method!r} is not a logout method.",
                            hint=f"Use one of {', '.join(map(repr, LOGOUT_METHODS))} (any case); "
                                 f"the default is {DEFAULTS['LOGOUT_METHOD']!r}.",
                            id=check_id("E026")))
    return errors
