from django.contrib import admin
from django.contrib.auth import update_session_auth_hash
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from django_idp_logout import get_access_token


def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    return HttpResponse(f"home {user.get_username() if user.is_authenticated else 'anonymous'}")


def cycle(request: HttpRequest) -> HttpResponse:
    """Cycles the session key, as a site's own views do (e.g. after a privilege change)."""
    request.session.cycle_key()
    return HttpResponse("cycled")


def password_changed(request: HttpRequest) -> HttpResponse:
    """What a password-change view does: a new auth hash, and a new session key."""
    update_session_auth_hash(request, request.user)  # type: ignore[arg-type]
    return HttpResponse("changed")


def token(request: HttpRequest) -> HttpResponse:
    """A view that needs the user's access token (to call an API on their behalf)."""
    return HttpResponse(f"token {get_access_token(request)}")


def call_api(request: HttpRequest) -> HttpResponse:
    """A view calling an API with the user's token through the requests helper."""
    from django_idp_logout.apiclient import UserTokenSession

    response = UserTokenSession(request).get(request.GET["url"])
    return HttpResponse(f"api {response.status_code} {response.text}")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("token/", token),
    path("call-api/", call_api),
    path("oidc/", include("django_idp_logout.urls")),
    path("api/", include("tests.api_views")),
    path("home/", home),
    path("cycle/", cycle),
    path("password-changed/", password_changed),
    path("", home),
]
