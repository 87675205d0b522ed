"""Checks of ``IDP_LOGOUT["PROVIDERS"]`` (several providers on one site).

The shape of ``PROVIDERS`` itself is checked here (E029, E031); each provider's merged
settings go through the same checks as the flat form (:func:`checks.check_settings`), and
their messages name the provider (:func:`relabel`) where the key is the provider's own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.core.checks import CheckMessage, Error

from ..conf import PROVIDER_NAME, PROVIDERS_KEY, SITE_WIDE_KEYS
from .common import check_id

_KEY_REF = re.compile(r"IDP_LOGOUT\['([A-Z_]+)'\]")


def label(name: str) -> str:
    return f"IDP_LOGOUT[{PROVIDERS_KEY!r}][{name!r}]"


def check_provider_list(value: Any) -> list[CheckMessage]:
    """``PROVIDERS``: a non-empty dict of names (usable in ``callback/<name>/``) to dicts,
    with no site-wide key inside a provider."""
    if not isinstance(value, Mapping) or not value:
        return [Error("IDP_LOGOUT['PROVIDERS'] must be a non-empty dict of provider names to "
                      "dicts of provider keys.",
                      hint='Write it as "PROVIDERS": {"staff": {"ISSUER": "https://…", '
                           '"CLIENT_ID": "…"}, …}, or use the flat form for one provider.',
                      id=check_id("E029"))]
    errors: list[CheckMessage] = []
    for name, keys in value.items():
        if not isinstance(name, str) or not PROVIDER_NAME.fullmatch(name):
            errors.append(Error(
                f"IDP_LOGOUT['PROVIDERS'] has a provider named {name!r}: names appear in the "
                "redirect URI (callback/<name>/) and must be 1 to 64 letters, digits, - or _.",
                hint="Rename it, e.g. 'staff' or 'customers'.", id=check_id("E029")))
        elif not isinstance(keys, Mapping):
            errors.append(Error(
                f"{label(name)} must be a dict of provider keys, not {type(keys).__name__}.",
                hint='Write it as {"ISSUER": "https://…", "CLIENT_ID": "…", …}.',
                id=check_id("E029")))
        else:
            errors += [Error(
                f"{label(name)} sets {key!r}, which applies to the whole site.",
                hint=f"Move {key!r} out of PROVIDERS, next to it in IDP_LOGOUT.",
                id=check_id("E031")) for key in keys if key in SITE_WIDE_KEYS | {PROVIDERS_KEY}]
    return errors


def check_redirect_uris(uris: Mapping[str, Any]) -> list[CheckMessage]:
    """E032: two providers with one ``REDIRECT_URI``: a response could then be completed with
    the wrong provider (only RFC 9207's ``iss`` would tell them apart, if sent)."""
    seen: dict[Any, str] = {}
    errors: list[CheckMessage] = []
    for name, uri in uris.items():
        if not uri:
            continue  # callback/<name>/: one per provider
        if uri in seen:
            errors.append(Error(
                f"{label(seen[uri])} and {label(name)} have the same REDIRECT_URI {uri!r}: a "
                "response could be completed with the wrong provider (mix-up).",
                hint="Give each provider its own REDIRECT_URI (…/oidc/callback/<name>/), or "
                     "remove REDIRECT_URI to have it built from the request; never set it "
                     "outside PROVIDERS.", id=check_id("E032")))
        else:
            seen[uri] = name
    return errors


def relabel(messages: list[CheckMessage], name: str, own: Mapping[str, Any],
            shared: Mapping[str, Any]) -> list[CheckMessage]:
    """Name provider ``name`` in its messages: ``IDP_LOGOUT['KEY']`` becomes
    ``IDP_LOGOUT['PROVIDERS'][name]['KEY']`` unless the key comes from the shared keys alone
    (the fix is there, and :func:`unique` reports it once); a message about no key in
    particular gets the provider's label in front."""
    def one(text: str) -> str:
        return _KEY_REF.sub(lambda m: f"{label(name)}[{m.group(1)!r}]"
                            if m.group(1) in own or m.group(1) not in shared else m.group(0),
                            text)

    relabelled = []
    for message in messages:
        text = message.msg
        if text.startswith("IDP_LOGOUT has"):
            text = label(name) + text.removeprefix("IDP_LOGOUT")
        elif _KEY_REF.search(text):
            text = one(text)
        else:
            text = f"{label(name)}: {text}"
        kind: Any = type(message)  # Error, Warning …: (msg, hint, obj, id)
        relabelled.append(kind(text, hint=one(message.hint) if message.hint else None,
                               obj=message.obj, id=message.id))
    return relabelled


def unique(messages: list[CheckMessage]) -> list[CheckMessage]:
    """The messages without repeats (a shared key's problem is found once per provider)."""
    seen: set[tuple[Any, ...]] = set()
    kept = []
    for message in messages:
        key = (message.level, message.msg, message.hint, message.id)
        if key not in seen:
            seen.add(key)
            kept.append(message)
    return kept
