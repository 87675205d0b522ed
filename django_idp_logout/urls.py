"""``path("oidc/", include("django_idp_logout.urls"))`` — names in the ``idp_logout`` namespace."""

from django.urls import path

from . import views

app_name = "idp_logout"

urlpatterns = [
    path("login/", views.login, name="login"),
    path("callback/", views.callback, name="callback"),
    path("logout/", views.logout, name="logout"),
    path("logout/complete/", views.logout_complete, name="logout_complete"),
    path("backchannel-logout/", views.backchannel_logout, name="backchannel_logout"),
    path("frontchannel-logout/", views.frontchannel_logout, name="frontchannel_logout"),
]
