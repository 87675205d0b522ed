"""What every view of the app shares: wiring checks, headers, safe redirects, URL reversal.

Production servers do not run system checks, so a view that finds the site mis-wired (no
``CLIENT_ID``, middleware or URL include missing) raises :class:`ConfigurationError` naming
the fix — a 500 for the integrator's own mistake, logged — instead of sending an empty
``client_id`` to the provider or failing with an ``AttributeError``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from .conf import IdPConfig, get_config, uses_provider_list
from .docs_links import page_url, setting_url
from .exceptions import ConfigurationError
from .flow import MAX_PARAM_LENGTH

logger = logging.getLogger("django_idp_logout")

MIDDLEWARE_PATH = "django_idp_logout.middleware.IdPSessionMiddleware"

View = TypeVar("View", bound=Callable[..., HttpResponseBase])



def login_not_required(view: View) -> View:
    """Django 5.1+'s ``login_not_required``: the views must stay reachable behind
    ``LoginRequiredMiddleware``. A no-op on older Django, which has no such middleware."""
    from django.contrib.auth import decorators

    mark = getattr(decorators, "login_not_required", None)
    return mark(view) if mark is not None else view


def configuration_error(message: str) -> ConfigurationError:
    """Log the integrator's mistake once on the app's logger and return the exception."""
    logger.error("stage=configuration %s", message)
    return ConfigurationError(message)


def require_client(config: IdPConfig) -> None:
    """``ISSUER`` and ``CLIENT_ID`` are needed by every request to the provider."""
    for key, value in (("ISSUER", config.issuer), ("CLIENT_ID", config.client_id)):
        if not value:
            raise configuration_error(
                f"IDP_LOGOUT[{key!r}] is not set: sign-in cannot work. Set it in settings.py "
                "(`manage.py check` reports this as django_idp_logout.E002). "
                f"See {setting_url(key)}.")


def require_middleware(request: HttpRequest) -> None:
    """The middleware keeps the back-channel mapping current when the session key cycles."""
    if not hasattr(request, "idp_session"):
        raise configuration_error(
            f"{MIDDLEWARE_PATH} is not in MIDDLEWARE: add it after "
            "django.contrib.auth.middleware.AuthenticationMiddleware "
            "(`manage.py check` reports this as django_idp_logout.E009). "
            f"See {page_url('installation')}.")


def app_reverse(name: str, **kwargs: str) -> str:
    """``reverse("idp_logout:<name>")`` with a fix-naming error when the URLs are missing."""
    try:
        return reverse(f"idp_logout:{name}", kwargs=kwargs or None)
    except NoReverseMatch:
        raise configuration_error(
            f"the URL name 'idp_logout:{name}' cannot be reversed: add "
            "path('oidc/', include('django_idp_logout.urls')) to your URLconf "
            "(`manage.py check` reports this as django_idp_logout.E010). "
            f"See {page_url('installation')}.") from None


def safe_next_url(request: HttpRequest, candidate: Any, default: str) -> str:
    """``candidate`` if it points to this site (or an allowed host), else ``default``."""
    config = get_config()
    if (isinstance(candidate, str) and 0 < len(candidate) <= MAX_PARAM_LENGTH
            and url_has_allowed_host_and_scheme(
                candidate, allowed_hosts={request.get_host(), *config.allowed_redirect_hosts},
                require_https=request.is_secure())):
        return candidate
    return default


def callback_uri(request: HttpRequest, config: IdPConfig) -> str:
    """The ``redirect_uri`` sent to the provider: ``REDIRECT_URI``, else this site's
    ``callback/`` (several ``PROVIDERS``: ``callback/<name>/``) as an absolute URL."""
    if config.redirect_uri:
        return config.redirect_uri
    path = (app_reverse("callback", provider=config.name) if uses_provider_list()
            else app_reverse("callback"))
    return request.build_absolute_uri(path)


def post_logout_redirect_uri(request: HttpRequest, config: IdPConfig) -> str:
    """Where the provider sends the browser back after its logout (register it there)."""
    return config.post_logout_redirect_uri or request.build_absolute_uri(
        app_reverse("logout_complete"))


def no_referrer(view: View) -> View:
    """``Referrer-Policy: no-referrer``: URLs with a code or state never leak to other sites."""
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        response["Referrer-Policy"] = "no-referrer"
        return response
    return wrapper  # type: ignore[return-value]


def unframed(response: HttpResponse) -> HttpResponse:
    """``frame-ancestors 'none'``: a page with a sign-out (or sign-in) button cannot be put
    in another site's frame to trick a click (``X-Frame-Options`` for older browsers comes
    from ``xframe_options_deny`` on the views)."""
    response["Content-Security-Policy"] = "frame-ancestors 'none'"
    return response


def no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


#: The anti-CSRF header of single-page apps (``docs/bff.rst``) and its value. A page on
#: another origin cannot send a custom header without a CORS preflight, which the site does
#: not grant unless its own CORS set-up allows that origin and header; a form cannot send one.
CSRF_HEADER = "X-CSRF"
CSRF_VALUE = "1"


def has_csrf_header(request: HttpRequest) -> bool:
    return request.headers.get(CSRF_HEADER) == CSRF_VALUE


def csrf_or_header(view: View) -> View:
    """Django's CSRF protection (even on a site without ``CsrfViewMiddleware``), except for
    a POST with the :data:`CSRF_HEADER` of a script, which needs no token."""
    protected = csrf_protect(view)

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "POST" and has_csrf_header(request):
            return view(request, *args, **kwargs)
        return protected(request, *args, **kwargs)
    return csrf_exempt(wrapper)  # type: ignore[return-value]


def asset_url(path: str) -> str | None:
    """The static URL of the package's asset ``path``, or ``None`` when static files cannot
    serve it: no ``STATIC_URL``, or a manifest storage before ``collectstatic``."""
    if not getattr(settings, "STATIC_URL", None):
        return None
    from django.templatetags.static import static

    try:
        return static(path)
    except ValueError:
        return None
