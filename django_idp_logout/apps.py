"""App configuration: registers system checks and signal receivers, nothing else."""

from __future__ import annotations

from django.apps import AppConfig
from django.core.signals import setting_changed
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _


class IdPLogoutConfig(AppConfig):
    name = "django_idp_logout"
    verbose_name = _("OpenID Connect login and logout")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        from . import checks  # noqa: F401  (registers the checks)
        from .conf import reset_config

        setting_changed.connect(reset_config, dispatch_uid="django_idp_logout.reset_config")
        user_logged_out.connect(_forget_session, dispatch_uid="django_idp_logout.forget")


def _forget_session(sender: object, request: HttpRequest | None = None, **kwargs: object) -> None:
    """A session that ends here no longer needs its back-channel mapping (never raises)."""
    from .session_end import forget

    if request is not None:
        forget(request)
