from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("protected/", views.protected, name="protected"),
    path("spa/", views.spa, name="spa"),
    path("demo-api/", views.demo_api, name="demo_api"),
    path("demo-api/<path:path>", views.demo_api, name="demo_api"),
    path("oidc/", include("django_idp_logout.urls")),
]
