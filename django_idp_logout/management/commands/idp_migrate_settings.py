"""``manage.py idp_migrate_settings``: the ``IDP_LOGOUT`` dict equivalent to a site's
mozilla-django-oidc (``OIDC_*``) settings, with notes on what changes.

The output is a Python snippet (a dict literal and ``#`` comments) to paste into
``settings.py``. It never contains the client secret: ``CLIENT_SECRET`` reads it from the
environment. It reads settings only: no network, no database.
"""

from __future__ import annotations

import ast
import json
import textwrap
from collections.abc import Iterator, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandParser
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from ... import urls as app_urls
from ...backends import OIDCBackend
from ...compat import (
    MOZILLA_DEFAULTS,
    SESSION_CHECKS,
    SESSION_REFRESH,
    SETTING_NOTES,
    TRANSLATED,
    URL_NAMES,
    setting_note,
)
from ...conf import DEFAULTS, OIDC_FALLBACKS, user_settings

#: What ``CLIENT_SECRET`` is printed as: the value itself never is.
FROM_ENVIRONMENT = 'os.environ["OIDC_RP_CLIENT_SECRET"]'
ISSUER_PLACEHOLDER = "FIXME: issuer URL"

HEADER = """\
# IDP_LOGOUT equivalent to this site's mozilla-django-oidc settings, printed by
# `manage.py idp_migrate_settings`. Paste it into settings.py, read the notes below, remove
# the OIDC_* settings they list, then run `manage.py check`.
import os
"""


def oidc_settings() -> dict[str, Any]:
    """Every ``OIDC_*`` setting of the site (and mozilla-django-oidc's unprefixed ones)."""
    unprefixed = ("ALLOW_LOGOUT_GET_METHOD", "LOGIN_REDIRECT_URL_FAILURE")
    names = [n for n in dir(settings) if n.startswith("OIDC_")] + [
        n for n in unprefixed if hasattr(settings, n)]
    return {name: getattr(settings, name) for name in sorted(names)}


def backend_classes() -> Iterator[tuple[str, Any]]:
    """``AUTHENTICATION_BACKENDS``: each path with its class, or the error importing it."""
    for path in getattr(settings, "AUTHENTICATION_BACKENDS", []):
        try:
            yield path, import_string(path)
        except ImportError:
            continue
        except ImproperlyConfigured as exc:  # e.g. a subclass whose overrides would be lost
            yield path, exc


def runs_this_app() -> bool:
    """Whether this app's backend signs users in already; else mozilla-django-oidc's does,
    with its own defaults."""
    return any(isinstance(cls, type) and issubclass(cls, OIDCBackend)
               for _, cls in backend_classes())


def translate(theirs: dict[str, Any], ours: dict[str, Any],
              mozilla_defaults: bool) -> tuple[dict[str, Any], list[str]]:
    """``IDP_LOGOUT`` keys from mozilla-django-oidc's settings (with its defaults where they
    differ from ours, while it signs users in); keys already in ``ours`` win. Returns the
    values and the problems found."""
    values: dict[str, Any] = {}
    endpoints: dict[str, Any] = {}
    problems: list[str] = []
    given = {**(MOZILLA_DEFAULTS if mozilla_defaults else {}), **theirs}
    for name, (key, convert) in {**OIDC_FALLBACKS, **TRANSLATED}.items():
        if name not in given:
            continue
        try:
            value = convert(given[name])
        except (TypeError, ValueError) as exc:
            problems.append(f"{name} cannot be used ({exc}): set the matching key by hand.")
            continue
        if key.startswith("ENDPOINTS."):
            endpoints[key.removeprefix("ENDPOINTS.")] = value
        elif value is not None and key not in ours:
            values[key] = value
    written = ours.get("ENDPOINTS")
    if endpoints or isinstance(written, Mapping):
        values["ENDPOINTS"] = {**endpoints, **(written if isinstance(written, Mapping) else {})}
    if mozilla_defaults and "USE_USERINFO" not in ours:
        values["USE_USERINFO"] = True  # mozilla-django-oidc's hooks saw the UserInfo response
    return values, problems


def equivalent_settings(issuer: str | None, discovery: bool) -> tuple[dict[str, Any], list[str]]:
    """The whole ``IDP_LOGOUT`` dict, in the order of :data:`DEFAULTS`, and problems found."""
    ours = user_settings()
    theirs = oidc_settings()
    values, problems = translate(theirs, ours, bool(theirs) and not runs_this_app())
    merged = {**values, **{k: v for k, v in ours.items() if k != "ENDPOINTS"}}
    merged["PROVIDER"] = merged.get("PROVIDER", DEFAULTS["PROVIDER"])
    merged["ISSUER"] = issuer or merged.get("ISSUER") or ISSUER_PLACEHOLDER
    if not discovery:
        merged["USE_DISCOVERY"] = False
    if not merged.get("CLIENT_SECRET"):  # a public client: PKCE only, no client secret
        merged.pop("CLIENT_SECRET", None)
        if "TOKEN_AUTH_METHOD" not in ours:
            merged.pop("TOKEN_AUTH_METHOD", None)
    keep = set(ours) | {"PROVIDER", "ISSUER", "CLIENT_ID", "CLIENT_SECRET", "USE_DISCOVERY"}
    ordered = {key: merged[key] for key in DEFAULTS if key in merged
               if key in keep or _canonical(merged[key]) != _canonical(DEFAULTS[key])}
    ordered.update({k: v for k, v in merged.items() if k not in DEFAULTS})  # E003 says so
    return ordered, problems


def _canonical(value: Any) -> Any:
    """Tuples and lists compare equal (the defaults are tuples, settings often lists)."""
    return list(value) if isinstance(value, tuple) else value


COMMENTS = {
    "ISSUER": "the 'iss' of the provider's ID tokens",
    "CLIENT_SECRET": "never printed: read it as you do today",
    "TOKEN_AUTH_METHOD": "as mozilla-django-oidc sent it",
    "ALGORITHMS": "as mozilla-django-oidc verified them",
    "USE_USERINFO": "as mozilla-django-oidc did (hooks' claims)",
}


def _literal(value: Any, indent: str = "    ") -> str | None:
    """``value`` as a Python literal (a dict one item a line), or ``None`` if it has none."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a valid Python string literal too
    if isinstance(value, (list, tuple)):
        parts = [_literal(item, indent) for item in value]
        return None if None in parts else f"[{', '.join(map(str, parts))}]"
    if isinstance(value, dict):
        items = [(_literal(k), _literal(v, indent + "    ")) for k, v in value.items()]
        if any(None in item for item in items):
            return None
        inner = "".join(f"{indent}    {k}: {text},\n" for k, text in items)
        return f"{{\n{inner}{indent}}}" if items else "{}"
    text = repr(value)
    try:
        return text if ast.literal_eval(text) == value else None
    except (ValueError, SyntaxError):
        return None


def render_dict(values: dict[str, Any]) -> Iterator[str]:
    yield "IDP_LOGOUT = {"
    for key, value in values.items():
        text = FROM_ENVIRONMENT if key == "CLIENT_SECRET" else _literal(value)
        if text is None:
            yield f"    # {key!r}: a {type(value).__name__}, not printable: set it by hand"
            continue
        comment = COMMENTS.get(key)
        if key == "ISSUER" and value == ISSUER_PLACEHOLDER:
            comment = f"FIXME: {comment}"
        yield f"    {_literal(key)}: {text}," + (f"  # {comment}" if comment else "")
    yield "}"


def comment_block(title: str, items: list[str]) -> Iterator[str]:
    if not items:
        return
    yield ""
    yield f"# {title}"
    for item in items:
        # Keep template tags whole: textwrap breaks at ASCII spaces only.
        item = item.replace("{% ", "{%\u00a0").replace(" %}", "\u00a0%}")
        for line in textwrap.wrap(item, width=95, initial_indent="# - ",
                                  subsequent_indent="#   ", break_on_hyphens=False):
            yield line.replace("\u00a0", " ")


# --- notes -------------------------------------------------------------------------------------

#: What to register at the provider, and the URL name that serves it.
TO_REGISTER = (("redirect URI", "callback"), ("post-logout redirect URI", "logout_complete"),
               ("back-channel logout URI", "backchannel_logout"),
               ("front-channel logout URI", "frontchannel_logout"))


def url_path(name: str) -> str:
    """The path of our URL ``name``; where the URLconf does not include the app yet, where
    ``path("oidc/", include("django_idp_logout.urls"))`` puts it."""
    try:
        return reverse(f"idp_logout:{name}")
    except NoReverseMatch:
        routes = {p.name: str(p.pattern) for p in app_urls.urlpatterns}
        return f"/oidc/{routes.get(name, '')}"


def url_changes(base_url: str) -> list[str]:
    renamed = ", ".join(f"{old} -> idp_logout:{new}" for old, new in URL_NAMES.items())
    register = "; ".join(f"{what} {base_url}{url_path(name)}" for what, name in TO_REGISTER)
    return [
        "urls.py: path('oidc/', include('django_idp_logout.urls')) replaces "
        f"include('mozilla_django_oidc.urls'). URL names: {renamed}.",
        "Templates: {% url 'oidc_authentication_init' %} becomes {% url 'idp_logout:login' %} "
        "(?next= works the same); the logout form POSTs to {% url 'idp_logout:logout' %} with "
        "{% csrf_token %} (a GET shows a confirmation page unless ALLOW_GET_LOGOUT).",
        f"Register at the provider: {register}. mozilla-django-oidc's redirect URI was "
        "<site>/oidc/callback/: it is unchanged when the app is mounted at oidc/.",
    ]


def issuer_changes(values: dict[str, Any]) -> list[str]:
    notes = []
    if values["ISSUER"] == ISSUER_PLACEHOLDER:
        notes.append("ISSUER: mozilla-django-oidc has no such setting and this app requires "
                     "it: the provider's issuer URL, exactly the 'iss' claim of its ID tokens "
                     "(Keycloak: https://<host>/realms/<realm>). Pass --issuer to fill it in.")
    if values.get("USE_DISCOVERY") is False:
        notes.append("Without discovery ISSUER must equal the ID tokens' 'iss' exactly, and "
                     "logout at the provider needs ENDPOINTS['end_session_endpoint'] (and "
                     "'revocation_endpoint' to revoke tokens).")
    elif values.get("ENDPOINTS"):
        notes.append("OIDC_OP_JWKS_ENDPOINT and the other endpoints become discovery: ISSUER + "
                     "/.well-known/openid-configuration gives them all, end_session_endpoint "
                     "and revocation_endpoint too. The ones printed in ENDPOINTS override the "
                     "document: remove those it already states. --no-discovery prints a "
                     "configuration without discovery.")
    if values.get("ALGORITHMS") == ("HS256",) and not hasattr(settings, "OIDC_RP_SIGN_ALGO"):
        notes.append("ALGORITHMS ['HS256'] is mozilla-django-oidc's default, which this site "
                     "relied on: HS256 ID tokens are verified with the client secret. If the "
                     "provider signs with RS256, remove it (RS256 is the default here).")
    return notes


def backend_changes() -> list[str]:
    notes = []
    for path, cls in backend_classes():
        if isinstance(cls, Exception):
            notes.append(f"{path}: {cls}")
        elif (isinstance(cls, type) and issubclass(cls, OIDCAuthenticationBackend)
                and not issubclass(cls, OIDCBackend)):
            notes.append(
                f"AUTHENTICATION_BACKENDS: {path} is mozilla-django-oidc's backend. Use "
                "django_idp_logout.backends.OIDCBackend, or make it your subclass's base class: "
                "verify_claims, filter_users_by_claims (asked on an identity's first sign-in "
                "only), create_user, update_user and get_username keep working, with the ID "
                "token's claims (merged with UserInfo's while USE_USERINFO is on).")
    if SESSION_REFRESH in getattr(settings, "MIDDLEWARE", []):
        notes.append(f"MIDDLEWARE: remove {SESSION_REFRESH}: {SESSION_CHECKS}.")
    if "mozilla_django_oidc.contrib.drf" in repr(getattr(settings, "REST_FRAMEWORK", "")):
        notes.append("REST_FRAMEWORK: " + SETTING_NOTES["OIDC_DRF_AUTH_BACKEND"] + ".")
    return notes


def changes(values: dict[str, Any], base_url: str) -> list[str]:
    return [*issuer_changes(values), *url_changes(base_url), *backend_changes(),
            "Then run `manage.py migrate` and `manage.py check`: the checks report what is "
            "still missing (backend, middleware, settings) with a hint."]


class Command(BaseCommand):
    help = ("Print the IDP_LOGOUT dict equivalent to this site's mozilla-django-oidc (OIDC_*) "
            "settings, as Python to paste into settings.py, with notes on what changes. The "
            "client secret is never printed.")
    # It exists to fix the configuration the checks would refuse: it must run before that.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--issuer", help="the provider's issuer URL (mozilla-django-oidc "
                                             "has no such setting; this app requires it)")
        parser.add_argument("--no-discovery", action="store_true",
                            help="USE_DISCOVERY False: use the OIDC_OP_* endpoints only")
        parser.add_argument("--base-url", default="https://your.site",
                            help="this site's public URL, for the URIs to register")

    def handle(self, *args: Any, **options: Any) -> None:
        values, problems = equivalent_settings(options["issuer"], not options["no_discovery"])
        theirs = oidc_settings()
        lines = [HEADER, *render_dict(values)]
        lines += comment_block("Cannot be translated", problems)
        lines += comment_block("What changes",
                               changes(values, options["base_url"].rstrip("/")))
        lines += comment_block("Your mozilla-django-oidc settings",
                               [f"{name}: {setting_note(name)}" for name in theirs])
        self.stdout.write("\n".join(lines))
