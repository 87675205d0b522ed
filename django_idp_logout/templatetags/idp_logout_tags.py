"""``{% load idp_logout_tags %}``: what the package's own templates need beyond Django's."""

from __future__ import annotations

from django import template

from ..view_helpers import asset_url

register = template.Library()


@register.simple_tag
def idp_asset_url(path: str) -> str:
    """The static URL of one of the package's assets, or ``""`` when static files cannot
    serve it (no ``STATIC_URL``, or a manifest storage before ``collectstatic``): the pages
    are then plain but still work — an error page must never fail on its stylesheet."""
    return asset_url(path) or ""
