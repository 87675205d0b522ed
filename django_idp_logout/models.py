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

    class Meta:
        verbose_name = _("OpenID Connect identity")
        verbose_name_plural = _("OpenID Connect identities")
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"],
                                    name="idp_logout_identity_iss_sub"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} @ {self.issuer}"


class OIDCSession(models.Model):
    """One signed-in Django session and the provider session (``sid``) it came from.

    Written at sign-in, removed at logout, so that a back-channel logout can find the sessions
    to end by ``(issuer, sid)`` or ``(issuer, subject)`` with an indexed lookup. With the
    ``signed_cookies`` engine there is no server-side key to delete (``session_key`` is empty);
    those sessions are ended by the middleware on their next request.
    """

    issuer = models.CharField(_("issuer"), max_length=255)
    subject = models.CharField(_("subject"), max_length=255)
    sid = models.CharField(_("provider session id"), max_length=255, blank=True, default="")
    session_key = models.CharField(_("session key"), max_length=64, blank=True, default="")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True,
                             related_name="idp_sessions", verbose_name=_("user"))
    created = models.DateTimeField(_("created"), auto_now_add=True)
    expires = models.DateTimeField(_("expires"), null=True, blank=True)

    class Meta:
        verbose_name = _("OpenID Connect session")
        verbose_name_plural = _("OpenID Connect sessions")
        indexes = [
            models.Index(fields=["issuer", "sid"], name="idp_logout_session_sid"),
            models.Index(fields=["issuer", "subject"], name="idp_logout_session_sub"),
            models.Index(fields=["session_key"], name="idp_logout_session_key"),
            models.Index(fields=["expires"], name="idp_logout_session_expires"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} @ {self.issuer} ({self.sid or 'no sid'})"
