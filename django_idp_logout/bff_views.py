"""A single-page app on this site, with Django as its backend for frontend (``docs/bff.rst``).

The browser holds only the session cookie; tokens stay on the server.

* :func:`session` (``session/``): who is signed in, as JSON, never a token.
* :func:`api` (``api/<name>/<path>``): the request goes on to a configured API
  (``BFF_APIS``) with the user's access token, renewed as needed.
* The anti-CSRF contract (``view_helpers.has_csrf_header``): the proxy, and ``logout/`` answering
  JSON, require the header ``X-CSRF: 1``. A page on another origin cannot send a custom
  header without a CORS preflight, which this site does not grant (unless the site's own CORS
  set-up allows that origin and header), and a form cannot send one at all. It replaces
  Django's CSRF token on those views, so a single-page app needs no cookie reading.

Every answer here is JSON, errors included: a script cannot follow a redirect to the
provider. A signed-out user gets 401 with the ``login_url`` to navigate to.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import requests
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from . import bff_proxy
from . import session as idp_session
from .bff_settings import BffApi, bff_api
from .conf import get_config, provider_names
from .flow import lifecycle
from .flow.api_tokens import api_access_token
from .flow.renewal import access_token
from .http import add_query
from .providers import display_name
from .session_views import login_url_for
from .view_helpers import (
    CSRF_HEADER,
    CSRF_VALUE,
    app_reverse,
    has_csrf_header,
    login_not_required,
    no_store,
    require_middleware,
)

logger = logging.getLogger("django_idp_logout")

def error(code: str, message: str, status: int, **extra: Any) -> HttpResponse:
    """A JSON error: ``{"error": <stable code>, "message": <for developers>, …}``."""
    return no_store(JsonResponse({"error": code, "message": message, **extra}, status=status))


def csrf_refused() -> HttpResponse:
    return error("csrf_header_missing", f"Send the header {CSRF_HEADER}: {CSRF_VALUE} "
                 "(docs/bff.rst, 'The anti-CSRF header').", 403)


def _signed_out(request: HttpRequest, next_url: Any = None) -> HttpResponse:
    body: dict[str, Any] = {"authenticated": False,
                            "login_url": login_url_for(request, next_url)}
    names = provider_names()
    if len(names) > 1:  # the app can offer its own buttons instead of the chooser
        next_of = body["login_url"]
        body["providers"] = [
            {"name": name, "display_name": display_name(get_config(name)),
             "login_url": add_query(next_of, {"provider": name})} for name in names]
    return no_store(JsonResponse(body, status=401))


@csrf_exempt  # it changes nothing: other methods get a 405 JSON answer, not a CSRF page
@transaction.non_atomic_requests
@login_not_required
@never_cache
def session(request: HttpRequest) -> HttpResponse:
    """``GET session/``: ``{"authenticated": true, "user": {…}, "provider": …,
    "expires_at": …, "logout_url": …}`` for a signed-in user — ``user`` holds the username
    and the ``BFF_USER_CLAIMS`` the sign-in had — else 401 ``{"authenticated": false,
    "login_url": …}`` (back to ``?next=`` if it is safe)."""
    if request.method not in {"GET", "HEAD"}:
        response = error("method_not_allowed", "session/ answers GET only.", 405)
        response["Allow"] = "GET, HEAD"
        return response
    require_middleware(request)
    if not request.user.is_authenticated:
        return _signed_out(request, request.GET.get("next"))
    idp = request.idp_session  # type: ignore[attr-defined]
    config = get_config()  # the session's provider
    claims = idp.claims if idp else {}
    user = {"username": request.user.get_username(),
            **{name: claims[name] for name in config.bff_user_claims if name in claims}}
    now = time.time()
    ends = [request.session.get_expiry_date().timestamp()]
    if idp:
        ends.append(lifecycle.ends_at(idp_session.raw(request) or {}, config, now) or ends[0])
    return no_store(JsonResponse({
        "authenticated": True, "user": user,
        "provider": idp.provider if idp else None,
        "provider_name": display_name(config) if idp else None,
        "expires_at": int(min(ends)), "logout_url": app_reverse("logout")}))


@csrf_exempt  # the X-CSRF header instead (see the module)
@transaction.non_atomic_requests  # a renewal's lock is given back before the API is called
@login_not_required
def api(request: HttpRequest, name: str, path: str = "") -> HttpResponseBase:
    """``api/<name>/<path>``: forward this request to the API ``name`` of ``BFF_APIS`` with
    the user's access token; its answer streams back. One renewal and retry when the API
    answers 401 (it may have seen the token revoked or expired early)."""
    require_middleware(request)
    if not has_csrf_header(request):
        return csrf_refused()
    if request.method not in bff_proxy.METHODS:
        return error("method_not_allowed", f"{request.method} is not passed on.", 405)
    if not request.user.is_authenticated:
        return _signed_out(request)
    if not request.idp_session:  # type: ignore[attr-defined]
        return error("no_provider_session", "Signed in without the provider: there is no "
                     "access token to send.", 401, authenticated=True,
                     login_url=login_url_for(request))
    target = bff_api(get_config(), name)  # the APIs of the session's provider
    if target is None:
        return error("unknown_api", f"No API {name!r} in BFF_APIS.", 404)
    try:
        url = bff_proxy.upstream_url(target, path, request.META.get("QUERY_STRING", ""))
    except bff_proxy.UnsafePath:
        return error("invalid_path", "The path has an empty, '.' or '..' segment, a "
                     "backslash or a control character.", 400)
    try:
        body = bff_proxy.read_body(request, target.max_request_bytes)
    except bff_proxy.BodyUnreadable as exc:
        return error("invalid_body", str(exc), exc.status)
    if body is None:
        return error("request_too_large", f"The body is larger than {target.max_request_bytes}"
                     " bytes (MAX_REQUEST_BYTES).", 413)
    headers = bff_proxy.request_headers(request, target)
    method = str(request.method)
    # ReauthenticationRequired / ProviderUnavailable from the renewal: the middleware answers
    # (401 JSON with login_url; 502-504 JSON, the session goes on).
    token = _token(request, target)
    try:
        upstream = bff_proxy.send(target, method, url, headers=headers, body=body, token=token)
        if upstream.status_code == 401 and _token_refused(upstream):
            upstream.close()
            token = _token(request, target, rejected=token)
            upstream = bff_proxy.send(target, method, url, headers=headers, body=body,
                                      token=token)
            if upstream.status_code == 401:
                upstream.close()
                logger.warning("stage=bff api=%s the API refused a renewed access token",
                               name)
                return error("api_unauthorized", "The API refused the user's access token, "
                             "also once renewed.", 401, authenticated=True)
    except requests.Timeout:
        logger.warning("stage=bff api=%s the API did not answer within %s s", name,
                       target.timeout)
        return error("api_timeout", "The API did not answer in time.", 504)
    except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL):
        return error("invalid_request", "A header or the URL cannot be passed on.", 400)
    except requests.RequestException as exc:
        logger.warning("stage=bff api=%s the API could not be reached: %s", name,
                       type(exc).__name__)
        return error("api_unavailable", "The API could not be reached.", 502)
    location = None
    if "Location" in upstream.headers:
        location = bff_proxy.proxied_location(target, url, upstream.headers["Location"],
                                              reverse("idp_logout:api", kwargs={"name": name}))
        if location is None and upstream.is_redirect:
            upstream.close()
            logger.warning("stage=bff api=%s the API redirected outside its URL; refused", name)
            return error("api_redirect", "The API redirected outside its base URL.", 502)
    return bff_proxy.streamed(request, target, upstream, location=location)


def _token(request: HttpRequest, target: BffApi, *, rejected: str | None = None) -> str:
    """The user's access token for ``target``: the session's, or (``TOKEN_PARAMS``) the
    API's own."""
    if target.token_params:
        return api_access_token(request, target.token_key, target.token_params,
                                rejected=rejected)
    return access_token(request, rejected=rejected)


def _token_refused(upstream: requests.Response) -> bool:
    """A 401 that a renewed token may cure: RFC 6750's ``invalid_token`` (expired, revoked),
    or no challenge naming another error."""
    return bff_proxy.bearer_error(upstream) in {None, "invalid_token"}
