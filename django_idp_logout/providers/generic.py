"""The generic profile: any provider that follows OpenID Connect and publishes discovery."""

from __future__ import annotations

from .base import Provider


class GenericProvider(Provider):
    """Everything from the discovery document; no vendor quirks."""

    name = "generic"
    display_name = "OpenID Connect provider"
