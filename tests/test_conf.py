"""The typed configuration: defaults, conversions, precedence over mozilla-django-oidc."""

from typing import Any

from django_idp_logout.conf import DEFAULTS, get_config


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
