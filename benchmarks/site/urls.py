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


def _api_views() -> list[object]:
    """The same DRF view behind our authentication and stock mozilla-django-oidc's."""
    from mozilla_django_oidc.contrib.drf import OIDCAuthentication
    from rest_framework.permissions import AllowAny
    from rest_framework.request import Request
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from django_idp_logout.drf import BearerTokenAuthentication

    class Ours(APIView):
        authentication_classes = [BearerTokenAuthentication]
        permission_classes = [AllowAny]  # the authentication class refuses a bad token

        def get(self, request: Request) -> Response:
            assert request.auth is not None
            return Response({"user": request.user.get_username()})

    class Stock(Ours):
        authentication_classes = [OIDCAuthentication]

    return [path("api/ours/", Ours.as_view()), path("api/stock/", Stock.as_view())]


urlpatterns = [*_api_views(),
    path("oidc/", include("django_idp_logout.urls")),
    path("stock/", include("mozilla_django_oidc.urls")),
    path("whoami/", whoami),
    path("token/", token),
]
