"""Provider profiles and their registry: a plain dict, no import scanning.

``IDP_LOGOUT["PROVIDER"]`` is a registry name or the dotted path of a
:class:`~django_idp_logout.providers.base.Provider` subclass.
"""

from __future__ import annotations

from django.utils.module_loading import import_string

from ..conf import IdPConfig, get_config
from ..exceptions import ConfigurationError
from .akamai import AkamaiProvider
from .auth0 import Auth0Provider
from .authentik import AuthentikProvider
from .base import LogoutContext, Provider
from .bound import BoundProvider, EndSessionRequest
from .cidaas import CidaasProvider
from .cognito import CognitoProvider
from .entra import EntraProvider
from .generic import GenericProvider
from .google import GoogleProvider
from .intastellar import IntastellarProvider
from .keycloak import KeycloakProvider
from .next_identity import NextIdentityProvider
from .okta import OktaProvider
from .zitadel import ZitadelProvider

REGISTRY: dict[str, type[Provider]] = {
    cls.name: cls
    for cls in (GenericProvider, IntastellarProvider, AkamaiProvider, NextIdentityProvider,
                CidaasProvider, KeycloakProvider, EntraProvider, Auth0Provider, OktaProvider,
                CognitoProvider, GoogleProvider, ZitadelProvider, AuthentikProvider)
}


def provider_class(name: str) -> type[Provider]:
    """Resolve a registry name or dotted path; :class:`ConfigurationError` when neither works."""
    if name in REGISTRY:
        return REGISTRY[name]
    if "." in name:
        try:
            cls = import_string(name)
        except ImportError as exc:
            raise ConfigurationError(f"IDP_LOGOUT['PROVIDER'] {name!r} cannot be imported: "
                                     f"{exc}") from exc
        if isinstance(cls, type) and issubclass(cls, Provider):
            return cls
        raise ConfigurationError(f"IDP_LOGOUT['PROVIDER'] {name!r} is not a Provider subclass")
    raise ConfigurationError(f"IDP_LOGOUT['PROVIDER'] {name!r} is not one of "
                             f"{', '.join(sorted(REGISTRY))} nor a dotted path")


def display_name(config: IdPConfig) -> str:
    """What users see for a provider: ``DISPLAY_NAME``, else its profile's vendor name, else
    (generic profile) its key in ``PROVIDERS``."""
    if config.display_name:
        return config.display_name
    try:
        profile = provider_class(config.provider)
    except ConfigurationError:
        profile = None
    if profile is not None and profile.display_name != Provider.display_name:
        return str(profile.display_name)
    return config.name if config.name != "default" else str(Provider.display_name)


def get_provider(config: IdPConfig | None = None) -> Provider:
    config = config or get_config()
    return provider_class(config.provider)(config)


__all__ = ["REGISTRY", "BoundProvider", "EndSessionRequest", "LogoutContext", "Provider",
           "display_name", "get_provider", "provider_class"]
