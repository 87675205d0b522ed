"""``IDP_LOGOUT["API"]``: what an API accepts as an access token (:mod:`.bearer`).

Read here, once, into a typed :class:`ApiSettings`; the system checks (``checks.api``) report
what :func:`problems` finds, with ids and hints, at start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .conf import IdPConfig, is_number, parse_scopes

#: Each key: the types it may have and its default (``None``: required).
KEYS: dict[str, tuple[tuple[type, ...], Any]] = {
    "AUDIENCE": ((str, list, tuple), None),
    "SCOPES": ((str, list, tuple), ()),
    "INTROSPECT": ((bool,), False),
    "INTROSPECTION_CACHE_TTL": ((int,), 60),
    "CREATE_USERS": ((bool,), False),
    "REQUIRE_AT_JWT": ((bool,), False),
}


@dataclass(frozen=True)
class ApiSettings:
    audiences: tuple[str, ...]
    scopes: tuple[str, ...]
    introspect: bool
    introspection_cache_ttl: int
    create_users: bool
    require_at_jwt: bool


def api_settings(config: IdPConfig) -> ApiSettings:
    """The provider's ``API`` settings, typed (assumes :func:`problems` found none)."""
    value = {key: default for key, (_, default) in KEYS.items()}
    value.update(config.api)
    audience = value["AUDIENCE"]
    return ApiSettings(
        audiences=(audience,) if isinstance(audience, str) else tuple(audience or ()),
        scopes=parse_scopes(value["SCOPES"]),
        introspect=value["INTROSPECT"] is True,
        introspection_cache_ttl=max(int(value["INTROSPECTION_CACHE_TTL"]), 0),
        create_users=value["CREATE_USERS"] is True,
        require_at_jwt=value["REQUIRE_AT_JWT"] is True,
    )


def problems(value: Any, client_id: str) -> list[tuple[str, str]]:
    """``(problem, message)`` pairs for an ``API`` dict: ``unknown_key``, ``wrong_type``,
    ``no_audience``, ``client_id_audience``. Empty when usable (or unset)."""
    if not isinstance(value, Mapping) or not value:
        return []
    found = [("unknown_key", f"IDP_LOGOUT['API'] has an unknown key {key!r}.")
             for key in value if key not in KEYS]
    for key, (types, _) in KEYS.items():
        item = value.get(key)
        if item is not None and (not isinstance(item, types) or (
                isinstance(item, bool) and bool not in types)):
            found.append(("wrong_type", f"IDP_LOGOUT['API'][{key!r}] must be "
                          f"{' or '.join(t.__name__ for t in types)}, not {type(item).__name__}."))
        elif key in {"AUDIENCE", "SCOPES"} and isinstance(item, (list, tuple)) and not all(
                isinstance(v, str) and v for v in item):
            found.append(("wrong_type", f"IDP_LOGOUT['API'][{key!r}] must hold non-empty "
                          "strings."))
        elif key == "INTROSPECTION_CACHE_TTL" and is_number(item) and item < 0:
            found.append(("wrong_type", "IDP_LOGOUT['API']['INTROSPECTION_CACHE_TTL'] must "
                          "not be negative."))
    audience = value.get("AUDIENCE")
    audiences = [audience] if isinstance(audience, str) else list(audience or [])
    if not any(isinstance(a, str) and a for a in audiences):
        found.append(("no_audience", "IDP_LOGOUT['API'] has no AUDIENCE: any token the "
                      "provider signs would be accepted, for any API."))
    elif client_id and client_id in audiences:
        found.append(("client_id_audience", "IDP_LOGOUT['API']['AUDIENCE'] contains "
                      "CLIENT_ID: the audience of this site's ID tokens."))
    return found
