from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("protected/", views.protected, name="protected"),
    path("oidc/", include("django_idp_logout.urls")),
]
