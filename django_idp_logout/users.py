"""Local users the admin can work with: readable usernames (``USERNAME_CLAIM``) and Django
groups and flags from a claim (``ROLES``).

Users are matched by ``(issuer, sub)`` only (:mod:`.backends`); a username is a label for
people, made once at creation. Roles are the provider's to grant and take away: at each
sign-in the mapped groups and flags follow the claim, and only them — a group an operator
gave by hand, outside the mapping, stays.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser

logger = logging.getLogger("django_idp_logout")

#: The keys of ``ROLES``, their types, and their defaults (``None``: required).
ROLE_KEYS: dict[str, tuple[tuple[type, ...], Any]] = {
    "CLAIM": ((str,), None),
    "GROUPS": ((dict,), {}),
    "STAFF": ((list, tuple), ()),
    "SUPERUSER": ((list, tuple), ()),
    "WHEN_MISSING": ((str,), "keep"),
}
_NOT_USERNAME = re.compile(r"[^\w.@+-]+")


def readable_username(model: Any, claims: Mapping[str, Any], claim: str,
                      fallback: str) -> str:
    """A username from ``claims[claim]`` that Django's validator accepts, fits the field and
    is not taken (case-insensitively) in ``model``, the user model; ``fallback`` when the
    claim is absent or empty."""
    value = claims.get(claim)
    base = _NOT_USERNAME.sub("_", value.strip()) if isinstance(value, str) else ""
    if not base.strip("_"):
        return fallback
    field = model._meta.get_field(model.USERNAME_FIELD)
    max_length = getattr(field, "max_length", None) or 150
    manager = model._default_manager
    for number in range(1, 1000):
        suffix = "" if number == 1 else f"-{number}"
        candidate = base[:max_length - len(suffix)] + suffix
        if not manager.filter(**{f"{model.USERNAME_FIELD}__iexact": candidate}).exists():
            return candidate
    return fallback  # a thousand people with one name: the digest is unique


def role_values(claims: Mapping[str, Any], path: str) -> set[str] | None:
    """The values at ``path``: a claim of that name (Auth0's namespaced
    ``https://example.com/roles`` has dots), else ``a.b.c`` into nested objects. A list of
    strings, a space-separated string, or an object whose keys are the values (Zitadel's
    roles claim); ``None`` when the claim is absent."""
    value: Any = claims
    if path in claims:
        value = claims[path]
    else:
        for part in path.split("."):
            if not isinstance(value, Mapping) or part not in value:
                return None
            value = value[part]
    if isinstance(value, str):
        return set(value.split())
    if isinstance(value, (list, tuple)):
        return {item for item in value if isinstance(item, str)}
    if isinstance(value, Mapping):
        return {key for key in value if isinstance(key, str)}
    logger.warning("stage=login the %s claim is neither a list, a string nor an object: "
                   "treated as absent", path)
    return None  # null or an odd type: as if absent (WHEN_MISSING decides)


def apply_roles(user: AbstractBaseUser, claims: Mapping[str, Any],
                roles: Mapping[str, Any]) -> None:
    """Make ``user``'s mapped groups and flags what ``claims`` say (see the module)."""
    if not roles:
        return
    values = role_values(claims, str(roles["CLAIM"]))
    if values is None:
        if roles.get("WHEN_MISSING", "keep") != "remove":
            return
        values = set()
    _set_groups(user, values, roles.get("GROUPS") or {})
    changed = []
    for flag, key in (("is_staff", "STAFF"), ("is_superuser", "SUPERUSER")):
        if roles.get(key) and hasattr(user, flag):
            granted = bool(values & set(roles[key]))
            if getattr(user, flag) != granted:
                setattr(user, flag, granted)
                changed.append(flag)
    if changed:
        user.save(update_fields=changed)
        logger.info("stage=login roles: %s set from the %s claim", ", ".join(
            f"{flag}={getattr(user, flag)}" for flag in changed), roles["CLAIM"])


def _set_groups(user: AbstractBaseUser, values: set[str], mapping: Mapping[str, str]) -> None:
    groups = getattr(user, "groups", None)
    if not mapping or groups is None:
        return
    from django.contrib.auth.models import Group

    wanted = {mapping[value] for value in values if value in mapping}
    managed = set(mapping.values())
    current = set(groups.filter(name__in=managed).values_list("name", flat=True))
    if current - wanted:
        groups.remove(*Group.objects.filter(name__in=current - wanted))
    if wanted - current:
        groups.add(*(Group.objects.get_or_create(name=name)[0] for name in wanted - current))


def role_problems(value: Any) -> list[str]:
    """What is wrong with a ``ROLES`` dict (empty: usable, or unset)."""
    if not isinstance(value, Mapping) or not value:
        return []
    found = [f"IDP_LOGOUT['ROLES'] has an unknown key {key!r}." for key in value
             if key not in ROLE_KEYS]
    for key, (types, default) in ROLE_KEYS.items():
        item = value.get(key)
        if item is None:
            if default is None:
                found.append(f"IDP_LOGOUT['ROLES'] has no {key!r}.")
            continue
        if not isinstance(item, types) or not _strings(item):
            found.append(f"IDP_LOGOUT['ROLES'][{key!r}] must be "
                         f"{' or '.join(t.__name__ for t in types)} of strings.")
    if value.get("WHEN_MISSING", "keep") not in ("keep", "remove"):
        found.append("IDP_LOGOUT['ROLES']['WHEN_MISSING'] must be 'keep' or 'remove'.")
    return found


def _strings(item: Any) -> bool:
    if isinstance(item, str):
        return bool(item)
    if isinstance(item, Mapping):
        return all(isinstance(k, str) and isinstance(v, str) and v for k, v in item.items())
    return isinstance(item, Iterable) and all(isinstance(v, str) for v in item)
