"""Checks of ``ROLES`` (groups and flags from a claim, :mod:`..users`)."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error

from ..users import ROLE_KEYS, role_problems
from .common import check_id


def check_roles(merged: dict[str, Any]) -> list[CheckMessage]:
    """E039 for one provider's ``ROLES``."""
    return [Error(message, hint="Write ROLES as {'CLAIM': 'groups', 'GROUPS': {'admins': "
                  "'Administrators'}, 'STAFF': ['admins']}; its keys are "
                  f"{', '.join(ROLE_KEYS)}.", id=check_id("E039"))
            for message in role_problems(merged.get("ROLES"))]
