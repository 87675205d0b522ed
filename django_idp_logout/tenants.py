"""Issuers with a tenant placeholder: Microsoft's multi-tenant endpoints.

An app registered for several Entra ID tenants uses ``…/organizations/v2.0`` (or ``common``)
as its issuer, but that discovery document's ``issuer`` is
``https://login.microsoftonline.com/{tenantid}/v2.0``, and each token is issued by its own
tenant. Microsoft's rule, applied here: the token's ``iss`` must equal the template with the
token's ``tid`` (a GUID) in place of ``{tenantid}``. So the issuer check is made per tenant,
never skipped. Only profiles that declare ``tenant_issuers`` accept such a document.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

PLACEHOLDER = "{tenantid}"
#: The tenant segments of Microsoft's multi-tenant issuers.
#: (Microsoft documents the template for these two only; ``consumers`` is not one.)
MULTI_TENANT_SEGMENTS = ("organizations", "common")
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_template(issuer: str) -> bool:
    return PLACEHOLDER in issuer


def template_serves(template: Any, configured: str) -> bool:
    """Does the discovery ``issuer`` ``template`` belong to the multi-tenant ``ISSUER``?"""
    return isinstance(template, str) and is_template(template) and any(
        template.replace(PLACEHOLDER, segment) == configured
        for segment in MULTI_TENANT_SEGMENTS)


def tenant_issuer(template: str, claims: Mapping[str, Any]) -> str | None:
    """The issuer a token with these claims must have: the template with its ``tid``; ``None``
    when ``tid`` is missing or not a GUID (lowercase, as Microsoft issues them)."""
    tid = claims.get("tid")
    if not isinstance(tid, str) or not _GUID.fullmatch(tid):
        return None
    return template.replace(PLACEHOLDER, tid)


def matches(template: str, issuer: Any) -> bool:
    """``issuer`` is the template with some tenant GUID (the RFC 9207 ``iss`` parameter)."""
    if not isinstance(issuer, str):
        return False
    before, _, after = template.partition(PLACEHOLDER)
    middle = issuer[len(before):len(issuer) - len(after)] if len(issuer) > len(template) else ""
    return (issuer.startswith(before) and issuer.endswith(after)
            and bool(_GUID.fullmatch(middle)))


#: Entra ID's v1.0 access tokens (an API whose registration does not ask for v2 tokens) are
#: issued by ``https://sts.windows.net/<tid>/``, with ``ver`` ``1.0``.
V1_ISSUER = re.compile(r"https://sts\.windows\.net/([0-9a-f-]{36})/")


def is_tenant_id(value: Any) -> bool:
    return isinstance(value, str) and bool(_GUID.fullmatch(value))


def serves_tenant(configured: str, tid: str) -> bool:
    """Does ``ISSUER`` (``…/<tenant>/v2.0``) accept tokens of tenant ``tid``: its own tenant,
    or any for ``organizations`` / ``common``?"""
    parts = configured.split("/")
    segment = parts[3] if len(parts) > 3 else ""
    return is_tenant_id(tid) and (segment == tid or segment in MULTI_TENANT_SEGMENTS)


def v1_issuer_tenant(iss: Any) -> str | None:
    """The tenant of an Entra ID v1.0 issuer (``https://sts.windows.net/<tid>/``), else None."""
    match = V1_ISSUER.fullmatch(iss) if isinstance(iss, str) else None
    return match.group(1) if match and is_tenant_id(match.group(1)) else None
