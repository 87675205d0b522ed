from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    return HttpResponse(f"home {user.get_username() if user.is_authenticated else 'anonymous'}")


urlpatterns = [
    path("oidc/", include("django_idp_logout.urls")),
    path("home/", home),
    path("", home),
]
