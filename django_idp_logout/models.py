"""What must outlive a request."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class OIDCIdentity(models.Model):
    """Links a local user to one provider account: ``(issuer, sub)`` is the only stable key.

    E-mail addresses change hands and are not unique across providers, so they never identify
    a user on their own (OpenID Connect Core §5.7).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="idp_identities", verbose_name=_("user"))
    issuer = models.CharField(_("issuer"), max_length=255)
    subject = models.CharField(_("subject"), max_length=255)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    last_login = models.DateTimeField(_("last login"), null=True, blank=True)

    class Meta:
        verbose_name = _("OpenID Connect identity")
        verbose_name_plural = _("OpenID Connect identities")
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"],
                                    name="idp_logout_identity_iss_sub"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} @ {self.issuer}"
