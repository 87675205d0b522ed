from django.contrib.auth import update_session_auth_hash
from django.http import HttpRequest, HttpResponse
from django.urls import include, path


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


urlpatterns = [
    path("oidc/", include("django_idp_logout.urls")),
    path("home/", home),
    path("cycle/", cycle),
    path("password-changed/", password_changed),
    path("", home),
]
