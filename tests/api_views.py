"""The test project's API: plain views (sync, async) and DRF views, protected by bearer tokens."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_idp_logout.decorators import bearer_token_required
from django_idp_logout.drf import BearerTokenAuthentication, HasScope


def describe(request: Any) -> dict[str, Any]:
    user, auth = request.user, request.auth
    return {"user": user.get_username() if user.is_authenticated else None,
            "subject": auth.subject, "client_id": auth.client_id,
            "scopes": sorted(auth.scopes), "provider": auth.provider}


@bearer_token_required
def plain(request: HttpRequest) -> HttpResponse:
    return JsonResponse(describe(request))


@bearer_token_required(scopes=["api:write"])
def scoped(request: HttpRequest) -> HttpResponse:
    return JsonResponse({**describe(request), "body": json.loads(request.body or "{}")})


@bearer_token_required
async def asynchronous(request: HttpRequest) -> HttpResponse:
    return JsonResponse(describe(request))


class Drf(APIView):
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [HasScope("api:read")]

    def get(self, request: Request) -> Response:
        return Response(describe(request))


class DrfWrite(Drf):
    permission_classes = [HasScope("api:read", "api:write")]


urlpatterns = [
    path("plain/", plain),
    path("scoped/", scoped),
    path("async/", asynchronous),
    path("drf/", Drf.as_view()),
    path("drf-write/", DrfWrite.as_view()),
]
