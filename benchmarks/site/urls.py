from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def whoami(request: HttpRequest) -> HttpResponse:
    user = request.user
    return HttpResponse(user.get_username() if user.is_authenticated else "anonymous")


def token(request: HttpRequest) -> HttpResponse:
    """A view that needs the user's access token (``get_access_token``)."""
    from django_idp_logout import get_access_token

    return HttpResponse(f"token {len(get_access_token(request))}")


def stock_logout_url(request: HttpRequest) -> str:
    """mozilla-django-oidc's documented hook: RP-initiated logout with the stored ID token."""
    return f"{settings.ISSUER}/session/end?" + urlencode({
        "id_token_hint": request.session.get("oidc_id_token", ""),
        "post_logout_redirect_uri": request.build_absolute_uri("/whoami/"),
        "client_id": settings.OIDC_RP_CLIENT_ID,
    })


urlpatterns = [
    path("oidc/", include("django_idp_logout.urls")),
    path("stock/", include("mozilla_django_oidc.urls")),
    path("whoami/", whoami),
    path("token/", token),
]
