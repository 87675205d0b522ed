"""Checks of the provider's URLs: ``ISSUER`` and the ``ENDPOINTS`` overrides.

Whether an endpoint may be used is decided once, by
:func:`django_idp_logout.discovery.endpoint_status`: these checks report at start-up what
discovery would refuse, or drop, at run time.
"""

from __future__ import annotations

import difflib
from typing import Any

from django.core.checks import CheckMessage, Error, Warning

from ..conf import ENDPOINT_KEYS
from ..discovery import (
    REQUIRED_ENDPOINTS,
    endpoint_status,
    insecure_endpoint_reason,
    is_secure_url,
)
from .common import check_id, is_url


def check_provider_urls(merged: dict[str, Any]) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    issuer = merged.get("ISSUER")
    if issuer and not is_url(issuer):
        errors.append(Error(f"IDP_LOGOUT['ISSUER'] {issuer!r} is not an http(s) URL.",
                            hint="Write the issuer as the provider states it, with its scheme: "
                                 "https://idp.example.com/….", id=check_id("E019")))
    elif issuer and not is_secure_url(issuer):
        errors.append(Error(
            f"IDP_LOGOUT['ISSUER'] {issuer!r} uses plain http outside loopback.",
            hint="Tokens and codes would cross the network unencrypted: use https (plain http "
                 "is accepted for localhost, 127.0.0.1 and ::1 only).", id=check_id("E006")))
    endpoints = merged.get("ENDPOINTS") or {}
    usable_issuer = issuer if is_url(issuer) else None  # else E002 or E019 says so
    for name, url in endpoints.items():
        where = f"IDP_LOGOUT['ENDPOINTS'][{name!r}]"
        if name not in ENDPOINT_KEYS:
            close = difflib.get_close_matches(str(name), ENDPOINT_KEYS, n=1)
            errors.append(Error(f"IDP_LOGOUT['ENDPOINTS'] has an unknown key {name!r}.",
                                hint=f"Did you mean {close[0]!r}?" if close else
                                f"Known keys: {', '.join(ENDPOINT_KEYS)}.", id=check_id("E017")))
            continue
        status = (endpoint_status(url, usable_issuer) if usable_issuer is not None
                  else "ok" if is_url(url) else "unusable")
        if status == "unusable" and name in REQUIRED_ENDPOINTS:
            errors.append(Error(f"{where} is not an http(s) URL: the provider is not used "
                                "(every sign-in fails) until it is fixed.",
                                hint="Write the full https URL the provider documents, or "
                                     "remove the entry to use the discovered one.",
                                id=check_id("E028")))
        elif status == "unusable":
            errors.append(Warning(f"{where} is not an http(s) URL; it is ignored, and the "
                                  "endpoint is treated as absent (a discovered one is not "
                                  "used either).",
                                  hint="Write the full URL the provider documents, with its "
                                       "scheme, or remove the entry.", id=check_id("W010")))
        elif status == "insecure" and usable_issuer is not None:
            why, _ = insecure_endpoint_reason(name, usable_issuer)
            errors.append(Error(f"{where} is plain http {why}: codes, tokens or keys would cross "
                                "the network unencrypted, so the provider is not used (every "
                                "sign-in fails with insecure_endpoint).",
                                hint="Give the endpoint's https URL (plain http is accepted "
                                     "only on localhost, 127.0.0.1 and ::1 with a loopback "
                                     "http ISSUER).", id=check_id("E027")))
    if not merged.get("USE_DISCOVERY"):
        # Entries given but unusable are reported above (E028, E027): only the absent ones here.
        missing = [k for k in REQUIRED_ENDPOINTS if k not in endpoints]
        if missing:
            errors.append(Error(
                f"USE_DISCOVERY is off but ENDPOINTS has no {', '.join(missing)}.",
                hint="Give every endpoint explicitly (https), or turn discovery back on.",
                id=check_id("E013")))
    return errors


def check_end_session(merged: dict[str, Any]) -> list[CheckMessage]:
    """W007: without discovery, is an end-session endpoint known?"""
    from ..conf import get_config
    from ..discovery import ProviderMetadata
    from ..exceptions import ConfigurationError
    from ..providers import get_provider

    if merged["USE_DISCOVERY"]:
        return []  # known only at run time (checks never use the network)
    try:
        provider = get_provider(get_config())
    except (ConfigurationError, TypeError, ValueError):
        return []  # reported by E005 or E004
    known = ProviderMetadata({"issuer": merged["ISSUER"], **merged["ENDPOINTS"]})
    if provider.end_session_endpoint(known) is not None:
        return []
    return [Warning("The provider has no end-session endpoint: logout will end the local session "
                    "only, and the next sign-in may happen silently at the provider.",
                    hint="Add ENDPOINTS['end_session_endpoint'] if the provider has one.",
                    id=check_id("W007"))]
