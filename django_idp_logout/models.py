"""What must outlive a request."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .conf import require_installed

# Imported through the backend, the views or the middleware of a site that forgot the app in
# INSTALLED_APPS: say so, instead of Django's generic "doesn't declare an explicit app_label".
require_installed()


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
    last_signed_in = models.DateTimeField(_("last sign-in"), null=True, blank=True)

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

    It also keeps the session's tokens (:mod:`~django_idp_logout.token_store`): the refresh
    token lives only here, so that a renewal by any request of the session, in any process,
    replaces it in one conditional UPDATE (``token_version``), and a session that ends takes
    its tokens with it.
    """

    #: The provider's key in ``IDP_LOGOUT["PROVIDERS"]`` (``"default"``: the flat form).
    provider = models.CharField(_("provider"), max_length=64, default="default")
    issuer = models.CharField(_("issuer"), max_length=255)
    subject = models.CharField(_("subject"), max_length=255)
    sid = models.CharField(_("provider session id"), max_length=255, blank=True, default="")
    session_key = models.CharField(_("session key"), max_length=64, blank=True, default="")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True,
                             related_name="idp_sessions", verbose_name=_("user"))
    created = models.DateTimeField(_("created"), auto_now_add=True)
    expires = models.DateTimeField(_("expires"), null=True, blank=True)
    #: JSON text: access, refresh and ID token and the access token's expiry.
    tokens = models.TextField(_("tokens"), blank=True, default="")
    #: Raised by one at each renewal: a renewal writes only over the version it read.
    token_version = models.PositiveIntegerField(_("token version"), default=0)

    class Meta:
        verbose_name = _("OpenID Connect session")
        verbose_name_plural = _("OpenID Connect sessions")
        indexes = [
            models.Index(fields=["issuer", "sid"], name="idp_logout_session_sid"),
            models.Index(fields=["issuer", "subject"], name="idp_logout_session_sub"),
            models.Index(fields=["expires"], name="idp_logout_session_expires"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} @ {self.issuer} ({self.sid or 'no sid'})"


class SharedValue(models.Model):
    """A short-lived value every server process sees: a single-use claim, a single-use value
    with a payload (the logout ``state``), or a revocation marker.

    Used by :mod:`django_idp_logout.store` unless the configured cache is shared by all
    processes with an atomic ``add()`` (Redis, Memcached): e.g. with ``LocMemCache``
    (Django's default, per process), ``FileBasedCache`` (``add()`` not atomic) or
    ``DatabaseCache``. ``key`` is the primary key, so inserting it is the atomic "first caller
    wins" test; it holds a SHA-256 digest of the secret, never the secret. Rows past
    ``expires`` are ignored and removed by the ``clear_idp_sessions`` command (and a little
    at a time on writes).
    """

    key = models.CharField(_("key"), max_length=128, primary_key=True)
    #: JSON text (a plain text column: no JSON support needed from the database).
    value = models.TextField(_("value"), blank=True, default="")
    expires = models.DateTimeField(_("expires"), db_index=True)

    class Meta:
        verbose_name = _("short-lived shared value")
        verbose_name_plural = _("short-lived shared values")

    def __str__(self) -> str:
        return self.key
