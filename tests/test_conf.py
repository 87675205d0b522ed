"""The typed configuration: defaults, conversions, precedence over mozilla-django-oidc."""

from dataclasses import fields
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

from django_idp_logout.conf import DEFAULTS, KEY_TYPES, SETTINGS, IdPConfig, get_config


def test_every_key_becomes_a_typed_field(settings: Any) -> None:
    settings.IDP_LOGOUT = {"ISSUER": "https://i.test", "CLIENT_ID": "c", "TIMEOUT": 3,
                           "SCOPES": "openid email", "AUTH_PARAMS": {"max_age": 300},
                           "ALGORITHMS": ["ES256"], "CLIENT_SECRET": ""}
    config = get_config()
    assert config.timeout == 3.0
    assert isinstance(config.timeout, float)
    assert config.scopes == ("openid", "email")
    assert config.auth_params == {"max_age": "300"}
    assert config.algorithms == ("ES256",)
    assert config.client_secret is None
    assert config.is_public_client
    assert config.frontchannel_frame_ancestors is None
    assert config.clear_site_data == ("cache", "storage")
    assert config.login_redirect_url == "/home/"  # Django's LOGIN_REDIRECT_URL
    assert config.post_logout_redirect_url == "/"
    assert len(DEFAULTS) == len(config.raw)


def test_idp_logout_wins_over_mozilla_settings(settings: Any) -> None:
    settings.IDP_LOGOUT = {"ISSUER": "https://i.test", "CLIENT_ID": "ours"}
    settings.OIDC_RP_CLIENT_ID = "theirs"
    settings.OIDC_RP_CLIENT_SECRET = "their-secret"
    settings.OIDC_OP_TOKEN_ENDPOINT = "https://i.test/token"
    config = get_config()
    assert config.client_id == "ours"
    assert config.client_secret == "their-secret"
    assert config.endpoints == {"token_endpoint": "https://i.test/token"}


def test_each_key_is_declared_once_on_the_typed_config() -> None:
    """``IdPConfig``'s fields are the declaration: every field but ``raw`` and ``name`` (the
    provider's key in ``PROVIDERS``) is a key, and the defaults and the checks' types are read
    from it."""
    declared = [f.name for f in fields(IdPConfig) if f.name not in {"raw", "name"}]
    assert [key.attr for key in SETTINGS] == declared
    assert list(DEFAULTS) == list(KEY_TYPES) == [name.upper() for name in declared]
    for key in SETTINGS:
        assert DEFAULTS[key.name] is key.default
        assert KEY_TYPES[key.name] == key.types
        assert key.default is None or isinstance(key.default, key.types), key.name


def _runtime_types(hint: Any) -> tuple[type, ...]:
    if get_origin(hint) in (Union, UnionType):
        return tuple(t for arg in get_args(hint) for t in _runtime_types(arg))
    return (get_origin(hint) or hint,)


def test_default_values_have_the_declared_field_types(settings: Any) -> None:
    settings.IDP_LOGOUT = {"ISSUER": "https://i.test", "CLIENT_ID": "c"}
    config = get_config()
    hints = get_type_hints(IdPConfig)
    for key in SETTINGS:
        value = getattr(config, key.attr)
        assert isinstance(value, _runtime_types(hints[key.attr])), (key.name, value)
