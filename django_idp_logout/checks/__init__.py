"""System checks ``django_idp_logout.E0xx`` / ``W0xx``. They never use the network.

One id names one problem, whatever key or value it is about: the message says which, the hint
says how to fix it. The ids are stable and listed, with their fixes, in ``docs/checks.rst``;
the test suite asserts the list and provokes every id.

Errors are kept for configurations that cannot work (an Error stops ``migrate`` and
``runserver``); what only some set-ups need, or what works at some cost, is a Warning.

This module registers the three checks Django runs; each job has its module:
:mod:`.values` (keys, types, ranges, algorithms, logout options), :mod:`.endpoints`
(``ISSUER`` and ``ENDPOINTS``), :mod:`.cache`, :mod:`.compat` (mozilla-django-oidc) and
:mod:`.wiring` (backend, middleware, apps, session engine, URLconf). Every hint ends with
the link to the docs :mod:`.links` chooses (the key's entry in the configuration reference, or
the id's entry in the list of checks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

from ..conf import (
    PROVIDERS_KEY,
    effective_settings,
    provider_names,
    user_settings,
    using_provider,
)
from .api import check_api, check_api_site
from .bff import check_bff
from .cache import check_cache
from .common import check_id
from .compat import check_fallback_values, check_mozilla_settings
from .endpoints import check_end_session, check_provider_urls
from .links import linked
from .providers import check_provider_list, check_redirect_uris, relabel, unique
from .users import check_roles
from .values import (
    check_algorithms,
    check_client_auth,
    check_logout,
    check_numbers,
    check_provider,
    check_required,
    check_types,
    check_unknown_keys,
)
from .wiring import check_session_engine, check_urls, check_wiring

__all__ = ["CHECK_IDS", "check_settings", "check_urls", "check_wiring"]

#: Every check id this package can emit (asserted by the test suite and docs). Numbers are
#: never reused: a new problem gets the next free number of its level (E030 is the URLconf's,
#: ``conf.NOT_INSTALLED_ID``). W004 is retired: a plain-http endpoint is E027 now.
CHECK_IDS = (
    "E001", "E002", "E003", "E004", "E005", "E006", "E007", "E008", "E009", "E010", "E011",
    "E012", "E013", "E014", "E015", "E016", "E017", "E018", "E019", "E020", "E021", "E022",
    "E023", "E024", "E025", "E026", "E027", "E028", "E029", "E031", "E032", "E033", "E034",
    "E035", "E036", "E037", "E038", "E039",
    "W001", "W002", "W003", "W005", "W006", "W007", "W008", "W009", "W010", "W011", "W012", "W013",
)


@linked
def check_settings(app_configs: Sequence[AppConfig] | None = None,
                   **kwargs: Any) -> list[CheckMessage]:
    """``IDP_LOGOUT`` itself: presence, keys, types, values."""
    raw = getattr(settings, "IDP_LOGOUT", None)
    if raw is None:
        return [Error("IDP_LOGOUT is not set.",
                      hint='Add IDP_LOGOUT = {"ISSUER": "https://…", "CLIENT_ID": "…"} '
                           "to your settings.", id=check_id("E001"))]
    if not isinstance(raw, Mapping):
        return [Error(f"IDP_LOGOUT must be a dict, not {type(raw).__name__}.",
                      hint='Write it as IDP_LOGOUT = {"ISSUER": "https://…", "CLIENT_ID": "…", '
                           "…}.", id=check_id("E016"))]
    shared = {k: v for k, v in raw.items() if k != PROVIDERS_KEY}
    errors = check_unknown_keys(shared)
    if PROVIDERS_KEY in raw:
        listed = check_provider_list(raw[PROVIDERS_KEY])
        if listed:
            return errors + listed  # the providers cannot be told apart
    unusable = check_fallback_values()
    if unusable:
        return errors + unusable  # effective_settings() could not merge them
    errors += check_mozilla_settings(shared)
    errors += check_session_engine()
    site_wide = effective_settings(provider_names()[0])
    if isinstance(site_wide["CACHE_ALIAS"], str):  # E004 otherwise
        errors += check_cache(site_wide)
    errors += check_api_site([effective_settings(name)["API"] for name in provider_names()])
    if PROVIDERS_KEY not in raw:
        return errors + _check_provider(None)
    for name in provider_names():
        own = dict(raw[PROVIDERS_KEY][name])
        errors += relabel(check_unknown_keys(own) + _check_provider(name), name, own, shared)
    errors += check_redirect_uris({name: effective_settings(name)["REDIRECT_URI"]
                                   for name in provider_names()})
    return unique(errors)


def _check_provider(name: str | None) -> list[CheckMessage]:
    """One provider's merged settings: what each provider must get right on its own."""
    with using_provider(name):
        return _check_merged(user_settings(name), effective_settings(name))


def _check_merged(ours: dict[str, Any], merged: dict[str, Any]) -> list[CheckMessage]:
    errors = check_required(merged)
    errors += check_types(ours, merged)
    if any(e.id == check_id("E004") for e in errors):
        return errors  # the checks below assume the types are right
    errors += check_provider(merged)
    errors += check_provider_urls(merged)
    errors += check_algorithms(merged)
    errors += check_client_auth(merged)
    errors += check_numbers(merged)
    errors += check_logout(merged)
    errors += check_end_session(merged)
    errors += check_api(merged)
    errors += check_bff(merged)
    errors += check_roles(merged)
    return errors


register(check_settings, Tags.security)
register(check_wiring, Tags.compatibility)
register(check_urls, Tags.urls)
