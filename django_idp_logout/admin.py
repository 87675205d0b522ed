"""The Django admin: users' provider identities and live sessions, and "End sessions".

* ``OIDCIdentity``: issuer, subject, last sign-in — view only (an identity is the provider's
  fact); deleting one unlinks the account, so that the next sign-in of that identity is a
  first one again.
* ``OIDCSession``: provider, ``sid``, started, expires — never the tokens or the session key
  (either would let whoever reads the page act as the user). The action "End sessions" ends
  the selected sessions (:mod:`.flow.operator`).
* The user model's admin, when it is registered before this module runs (``django.contrib.auth``
  listed before this app in ``INSTALLED_APPS``, the usual order), gets both as inlines, the
  action "End provider sessions" and an "End sessions" button. A site with its own user admin
  adds :class:`IdPUserAdminMixin` to it instead.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import OIDCIdentity, OIDCSession

SESSION_FIELDS = ("user", "provider", "issuer", "subject", "sid", "created", "expires")
#: Never shown, searched or filtered on: either would let a reader act as the user.
SECRET_FIELDS = frozenset({"tokens", "token_version", "session_key"})


class _ReadOnly:
    """View only: nothing to add or edit by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OIDCIdentity)
class OIDCIdentityAdmin(_ReadOnly, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("user", "issuer", "subject", "created", "last_signed_in")
    list_filter = ("issuer",)
    search_fields = ("subject", "issuer")
    list_select_related = ("user",)
    fields = ("user", "issuer", "subject", "created", "last_signed_in")


def _ended_message(request: HttpRequest, count: int) -> None:
    messages.success(request, gettext(
        "Sessions ended: %(count)d. Their tokens were revoked where the provider allows "
        "it.") % {"count": count})


@admin.action(description=_("End the selected sessions"),
              permissions=["end"])
def end_selected_sessions(modeladmin: Any, request: HttpRequest,
                          queryset: QuerySet[OIDCSession]) -> None:
    from .flow.operator import end_session_rows

    _ended_message(request, end_session_rows(queryset, sender=end_selected_sessions))


@admin.register(OIDCSession)
class OIDCSessionAdmin(_ReadOnly, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = SESSION_FIELDS
    list_filter = ("provider", "issuer")
    search_fields = ("subject", "sid")
    list_select_related = ("user",)
    fields = SESSION_FIELDS  # never tokens, token_version or session_key
    actions = [end_selected_sessions]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deleting a row would not end its session: the action does

    def lookup_allowed(self, lookup: str, value: str, request: Any = None) -> bool:
        # The changelist takes filters on any field from the query string: ?tokens__contains=
        # or ?session_key__startswith= would let a viewer guess them a character at a time.
        if lookup.split("__")[0] in SECRET_FIELDS:
            return False
        if request is None:  # Django 4.2 passes no request
            return bool(super().lookup_allowed(lookup, value))  # type: ignore[call-arg]
        return bool(super().lookup_allowed(lookup, value, request))

    def has_end_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("django_idp_logout.delete_oidcsession")

    def get_urls(self) -> list[URLPattern]:
        own = [path("end-user/<path:user_id>/", self.admin_site.admin_view(self.end_user_view),
                    name="django_idp_logout_oidcsession_end_user")]
        return own + super().get_urls()

    def end_user_view(self, request: HttpRequest, user_id: str) -> HttpResponse:
        """The user page's "End sessions" button: a confirmation, then (POST) the ending."""
        user_model = get_user_model()
        try:
            user = user_model._default_manager.get(pk=unquote(user_id))
        except (user_model.DoesNotExist, ValueError, ValidationError):
            raise Http404 from None
        back = reverse(f"admin:{user_model._meta.app_label}_{user_model._meta.model_name}"
                       "_change", args=[user.pk], current_app=self.admin_site.name)
        if not self.has_end_permission(request):
            messages.error(request, _("You may not end sessions."))
            return HttpResponseRedirect(back)
        sessions = OIDCSession.objects.filter(user=user)
        if request.method == "POST":
            from .flow.operator import end_user_sessions

            _ended_message(request, end_user_sessions([user.pk], sender=self.end_user_view))
            return HttpResponseRedirect(back)
        return TemplateResponse(request, "django_idp_logout/admin/end_sessions.html", {
            **self.admin_site.each_context(request), "title": _("End sessions"),
            "opts": self.model._meta, "subject_user": user, "sessions": sessions,
            "back_url": back})


class _ReadOnlyInline(admin.TabularInline):  # type: ignore[type-arg]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # not part of the user's form: a session ending meanwhile changes nothing


class IdentityInline(_ReadOnlyInline):
    model = OIDCIdentity
    fields = ("issuer", "subject", "created", "last_signed_in")
    readonly_fields = fields


class SessionInline(_ReadOnlyInline):
    model = OIDCSession
    fields = ("provider", "issuer", "sid", "created", "expires")  # never the tokens
    readonly_fields = fields
    template = "django_idp_logout/admin/sessions_inline.html"
    verbose_name_plural = _("live OpenID Connect sessions")


@admin.action(description=_("End their provider sessions"))
def end_users_sessions(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> None:
    from .flow.operator import end_user_sessions

    if not request.user.has_perm("django_idp_logout.delete_oidcsession"):
        messages.error(request, _("You may not end sessions."))
        return
    _ended_message(request, end_user_sessions(queryset.values_list("pk", flat=True),
                                              sender=end_users_sessions))


class IdPUserAdminMixin:
    """For a site's own user admin: ``class UserAdmin(IdPUserAdminMixin, BaseUserAdmin)``."""

    inlines = [IdentityInline, SessionInline]
    actions = [end_users_sessions]


def extend_user_admin(site: admin.AdminSite = admin.site) -> bool:
    """Give the registered user admin the inlines and the action (see the module)."""
    user_model = get_user_model()
    model_admin = site._registry.get(user_model)
    if model_admin is None or isinstance(model_admin, IdPUserAdminMixin):
        return False
    model_admin.inlines = [*model_admin.inlines, IdentityInline,  # type: ignore[misc]
                           SessionInline]
    if model_admin.actions is not None:  # None: the site turned actions off
        model_admin.actions = [*model_admin.actions, end_users_sessions]
    return True


extend_user_admin()
